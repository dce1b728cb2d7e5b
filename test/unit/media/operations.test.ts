/** Golden argv for every operation, and the problems each one reports. The input is 10 s of 1080p25 H.264 + AAC. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { CLIP2, CLIP3, HEAD, IN, LOGO, X264, expectPlan, expectProblems, hd, plan, tail, validate } from './support.js';

const MP4 = ['-movflags', '+faststart', '-f', 'mp4', 'output.mp4'];
/** A video-only change to an mp4: the video is encoded, the AAC audio copied. */
const videoOnly = (...vf: string[]) => [...IN(), '-map', '0:0', '-map', '0:1', ...X264, '-vf', vf.join(','), '-c:a', 'copy', ...MP4];
const op = (operation: Record<string, unknown>, output: unknown = 'mp4') => plan({ output, operations: [operation] });

describe('resize', () => {
  it.each([
    ['a named size, keeping the aspect ratio', { size: '720p' }, 'scale=w=1280:h=720'],
    ['a width', { width: 640 }, 'scale=w=640:h=360'],
    ['a height, with an even width', { height: 480 }, 'scale=w=854:h=480'],
    ['a larger width when upscaling is allowed', { width: 3840, upscale: true }, 'scale=w=3840:h=2160'],
    ['into a box (contain)', { width: 1000, height: 1000 }, 'scale=w=1000:h=562'],
    ['to fill a box, cropping the overflow (cover)', { width: 1000, height: 1000, fit: 'cover' }, 'scale=w=1778:h=1000,crop=w=1000:h=1000:x=389:y=0'],
    ['stretched to a box (fill)', { width: 640, height: 640, fit: 'fill' }, 'scale=w=640:h=640,setsar=sar=1'],
    ['into a box, padded (pad)', { width: 1000, height: 1000, fit: 'pad', pad_color: '#102030' }, 'scale=w=1000:h=562,pad=w=1000:h=1000:x=0:y=218:color=0x102030'],
  ])('%s', (_name, options, vf) => {
    expect(tail(op({ type: 'resize', ...options }))).toEqual(videoOnly(vf));
  });

  it('never upscales unless asked: a larger size leaves the frame, and the stream is copied', () => {
    const result = expectPlan(op({ type: 'resize', width: 3840 }));
    expect(result.args).not.toContain('-vf');
    expect(result.streamCopy).toBe(true);
  });

  it('refuses odd sides, boxes beyond the limits, and options that do not apply', () => {
    expect(expectProblems(op({ type: 'resize', width: 641 }))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/width', suggestion: '642' }]);
    expect(expectProblems(op({ type: 'resize', width: 7680, height: 7680 }))).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/operations/0' }]);
    expect(expectProblems(op({ type: 'resize', width: 640, fit: 'cover' }))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/fit' }]);
    expect(expectProblems(op({ type: 'resize', width: 640, height: 480, pad_color: 'red' }))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/pad_color' }]);
    // A tall result of a width-only resize is checked against the frame limits too.
    const tall = hd({ streams: [{ index: 0, type: 'video', codec: 'h264', width: 100, height: 4000 }] });
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'resize', width: 2000, upscale: true }] }, { probes: { [MAIN_URI]: tall } }))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations/0' },
    ]);
  });
});

const MAIN_URI = 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e';

describe('crop', () => {
  it('centres the rectangle when x and y are absent', () => {
    expect(tail(op({ type: 'crop', width: 640, height: 360 }))).toEqual(videoOnly('crop=w=640:h=360:x=640:y=360'));
  });
  it('takes x and y as given', () => {
    expect(tail(op({ type: 'crop', width: 100, height: 50, x: 0, y: 10 }))).toEqual(videoOnly('crop=w=100:h=50:x=0:y=10'));
  });
  it('refuses a rectangle outside the frame and odd sides', () => {
    expect(expectProblems(op({ type: 'crop', width: 640, height: 360, x: 1500 }))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/x' }]);
    expect(expectProblems(op({ type: 'crop', width: 2000, height: 360 }))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/width' }]);
    expect(expectProblems(op({ type: 'crop', width: 641, height: 360 }))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/width', suggestion: '642' }]);
  });
  it('works on the frame as the operations before it left it', () => {
    // After a 90° turn the 1080p frame is 1080 wide and 1920 high.
    expect(expectPlan(plan({ output: 'mp4', operations: [{ type: 'rotate', degrees: 90 }, { type: 'crop', width: 1080, height: 1080 }] })).args).toContain(
      'transpose=dir=clock,crop=w=1080:h=1080:x=0:y=420',
    );
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'resize', size: '360p' }, { type: 'crop', width: 1280, height: 360 }] }))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/operations/1/width' },
    ]);
  });
});

describe('rotate, flip', () => {
  it.each([
    [90, 'transpose=dir=clock'],
    [180, 'hflip,vflip'],
    [270, 'transpose=dir=cclock'],
  ])('rotate %i', (degrees, vf) => {
    expect(tail(op({ type: 'rotate', degrees }))).toEqual(videoOnly(vf));
  });
  it.each([
    ['horizontal', 'hflip'],
    ['vertical', 'vflip'],
    ['both', 'hflip,vflip'],
  ])('flip %s', (direction, vf) => {
    expect(tail(op({ type: 'flip', direction }))).toEqual(videoOnly(vf));
  });
});

describe('fps, speed', () => {
  it('sets a constant frame rate within the fps limit', () => {
    expect(tail(op({ type: 'fps', fps: 29.97 }))).toEqual(videoOnly('fps=fps=29.97'));
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'fps', fps: 60 }] }, { limits: { ...DEFAULT_LIMITS, maxFps: 30 } }))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations/0/fps' },
    ]);
  });

  it('speeds video and audio together and shortens the expected duration', () => {
    const result = expectPlan(op({ type: 'speed', factor: 2 }));
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:0', '-map', '0:1', ...X264, '-vf', 'setpts=expr=PTS/2,fps=fps=25', '-c:a', 'aac', '-af', 'atempo=tempo=2', ...MP4,
    ]);
    expect(result.expectedDurationS).toBe(5);
  });

  it('slows below half speed with two atempo stages', () => {
    const result = expectPlan(op({ type: 'speed', factor: 0.25 }));
    expect(result.args).toContain('atempo=tempo=0.5,atempo=tempo=0.5');
    expect(result.args).toContain('setpts=expr=PTS/0.25,fps=fps=25');
    expect(result.expectedDurationS).toBe(40);
  });

  it('refuses a slow-down that would make the output longer than the duration limit', () => {
    const limits = { ...DEFAULT_LIMITS, inputDurationS: 30 };
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'speed', factor: 0.25 }] }, { limits }))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations' },
    ]);
  });
});

describe('watermark', () => {
  it('overlays a second input at a grid position, scaled to the frame, with an opacity', () => {
    const result = expectPlan(op({ type: 'watermark', image: LOGO, position: 'top-right', margin: 20, opacity: 0.5, scale: 0.1 }));
    expect(result.inputs.map((input) => [input.file, input.pointer])).toEqual([
      ['input', '/input'],
      ['input1', '/operations/0/image'],
    ]);
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN(),
      ...IN('input1'),
      '-filter_complex',
      '[1:0]scale=w=192:h=96,format=pix_fmts=rgba,colorchannelmixer=aa=0.5[wm0];[0:0][wm0]overlay=x=main_w-overlay_w-20:y=20[v0]',
      '-map', '[v0]', '-map', '0:1',
      ...X264,
      '-c:a', 'copy',
      ...MP4,
    ]);
    expect(result.requirements.decoders).toEqual(expect.arrayContaining(['png', 'h264']));
  });

  it.each([
    ['top-left', 'x=16:y=16'],
    ['center', 'x=(main_w-overlay_w)/2:y=(main_h-overlay_h)/2'],
    ['bottom', 'x=(main_w-overlay_w)/2:y=main_h-overlay_h-16'],
    ['bottom-right', 'x=main_w-overlay_w-16:y=main_h-overlay_h-16'],
  ])('places it at %s', (position, xy) => {
    expect(expectPlan(op({ type: 'watermark', image: LOGO, position })).args.join(' ')).toContain(`[0:0][wm0]overlay=${xy}[v0]`);
  });

  it('refuses an image that is not one', () => {
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'watermark', image: CLIP3 }] }))).toMatchObject([
      { code: 'NO_VIDEO_STREAM', pointer: '/operations/0/image' },
    ]);
  });
});

describe('text', () => {
  it('draws a caption with drawtext, its text escaped for the filter graph', () => {
    const result = expectPlan(op({ type: 'text', text: "It's 10:30, [live]; 100%", position: 'top', size: 40, color: '#ffcc00', opacity: 0.8, box: true, start: 1, end: '00:00:04' }));
    expect(result.args.slice(HEAD.length)).toEqual(
      videoOnly(
        "drawtext=font=Sans:text=It\\\\\\'s 10\\\\:30\\, \\[live\\]\\; 100%:expansion=none:fontsize=40:fontcolor=0xffcc00@0.8:x=(w-text_w)/2:y=16:box=1:boxcolor=black@0.5:boxborderw=10:enable=between(t\\,1\\,4)",
      ),
    );
  });

  it('normalises the text to NFC', () => {
    const decomposed = 'Cafe\u0301';
    expect(expectPlan(op({ type: 'text', text: decomposed })).args.join(' ')).toContain('text=Caf\u00e9:');
  });

  it('refuses an empty window', () => {
    expect(expectProblems(op({ type: 'text', text: 'x', start: 3, end: 2 }))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/end' }]);
  });
});

describe('picture filters', () => {
  it.each([
    [{ type: 'denoise' }, 'hqdn3d=luma_spatial=4:chroma_spatial=3:luma_tmp=6:chroma_tmp=4.5'],
    [{ type: 'denoise', strength: 'light' }, 'hqdn3d=luma_spatial=2:chroma_spatial=1.5:luma_tmp=3:chroma_tmp=2.25'],
    [{ type: 'deinterlace' }, 'bwdif=mode=send_frame'],
    [{ type: 'deinterlace', mode: 'field' }, 'bwdif=mode=send_field'],
    [{ type: 'sharpen', amount: 1.5 }, 'unsharp=luma_msize_x=5:luma_msize_y=5:luma_amount=1.5'],
    [{ type: 'blur', sigma: 3 }, 'gblur=sigma=3'],
    [{ type: 'color', brightness: 0.1, contrast: 1.2, saturation: 0, gamma: 0.9 }, 'eq=brightness=0.1:contrast=1.2:saturation=0:gamma=0.9'],
    [{ type: 'color', saturation: 1.5 }, 'eq=saturation=1.5'],
    [{ type: 'hue', degrees: -90, saturation: 2 }, 'hue=h=-90:s=2'],
  ])('%j', (operation, vf) => {
    expect(tail(op(operation))).toEqual(videoOnly(vf));
  });

  it('refuses a field-rate deinterlace beyond the fps limit', () => {
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'deinterlace', mode: 'field' }] }, { limits: { ...DEFAULT_LIMITS, maxFps: 30 } }))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations/0/mode' },
    ]);
  });
});

describe('stabilize', () => {
  it('runs vidstabdetect in a measuring pass, then vidstabtransform reads its file', () => {
    const result = expectPlan(op({ type: 'stabilize', strength: 'strong' }));
    expect(result.passes.map((pass) => [pass.kind, pass.weight, pass.expectedDurationS])).toEqual([
      ['measure', 0.4, 10],
      ['encode', 0.6, 10],
    ]);
    expect(result.passes[0]!.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:0', '-vf', 'vidstabdetect=shakiness=9:accuracy=15:result=transforms.trf', '-an', '-f', 'null', '-',
    ]);
    expect(result.args.slice(HEAD.length)).toEqual(
      videoOnly(
        'vidstabtransform=input=transforms.trf:smoothing=30:zoom=0:optzoom=1',
        'unsharp=luma_msize_x=5:luma_msize_y=5:luma_amount=0.8:chroma_msize_x=3:chroma_msize_y=3:chroma_amount=0.4',
      ),
    );
    expect(result.requirements.filters).toEqual(expect.arrayContaining(['vidstabdetect', 'vidstabtransform', 'unsharp']));
    expect(result.requirements.muxers).toEqual(['mp4', 'null']);
  });

  it('measures the frames as the operations before it leave them, and stops there', () => {
    const result = expectPlan(plan({ output: 'mp4', operations: [{ type: 'crop', width: 640, height: 360 }, { type: 'stabilize' }, { type: 'blur' }] }));
    expect(result.passes[0]!.args).toContain('crop=w=640:h=360:x=640:y=360,vidstabdetect=shakiness=6:accuracy=15:result=transforms.trf');
    expect(result.passes[0]!.args.join(' ')).not.toContain('gblur');
    expect(result.args.join(' ')).toContain('vidstabtransform=input=transforms.trf:smoothing=12');
  });

  it('only once per job', () => {
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'stabilize' }, { type: 'stabilize' }] }))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/1' },
    ]);
  });
});

describe('audio', () => {
  it('volume is a gain in dB', () => {
    expect(tail(op({ type: 'volume', db: -6.5 }, 'm4a'))).toEqual([
      ...IN(), '-map', '0:1', '-vn', '-c:a', 'aac', '-af', 'volume=volume=-6.5dB', '-movflags', '+faststart', '-f', 'ipod', 'output.m4a',
    ]);
  });

  it('remove_audio drops the audio (and the untouched video is copied)', () => {
    expect(tail(op({ type: 'remove_audio' }))).toEqual([...IN(), '-map', '0:0', '-c', 'copy', '-an', ...MP4]);
  });

  it('extract_audio keeps only the audio, copied when the codec fits', () => {
    expect(tail(op({ type: 'extract_audio' }, 'm4a'))).toEqual([...IN(), '-map', '0:1', '-c', 'copy', '-vn', '-movflags', '+faststart', '-f', 'ipod', 'output.m4a']);
    expect(tail(op({ type: 'extract_audio' }, 'mkv'))).toEqual([...IN(), '-map', '0:1', '-c', 'copy', '-vn', '-f', 'matroska', 'output.mkv']);
    expect(tail(op({ type: 'extract_audio' }, 'mp3'))).toEqual([...IN(), '-map', '0:1', '-vn', '-c:a', 'libmp3lame', '-f', 'mp3', 'output.mp3']);
  });

  it('refuses audio operations on an output without audio, and contradictions', () => {
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'remove_audio' }, { type: 'volume', db: 3 }] }))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/1', message: 'the output has no audio for volume to work on' },
    ]);
    expect(expectProblems(plan({ output: { format: 'mp4', audio: { bitrate: '96k' } }, operations: [{ type: 'remove_audio' }] }))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/0' },
    ]);
    expect(expectProblems(op({ type: 'extract_audio' }, 'gif'))).toMatchObject([{ code: 'INVALID_CODEC_FORMAT', pointer: '/operations/0' }]);
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'extract_audio' }, { type: 'crop', width: 2, height: 2 }] }))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/1' },
    ]);
  });
});

describe('loudnorm (EBU R128, two passes)', () => {
  const measured = { input_i: -23.04, input_tp: -5.01, input_lra: 3.2, input_thresh: -33.5, target_offset: 0.04 };

  it('measures first: the audio only, to the null muxer, with loudnorm printing JSON', () => {
    const result = expectPlan(op({ type: 'loudnorm' }, 'mp3'));
    expect(result.passes.map((pass) => [pass.kind, pass.weight])).toEqual([
      ['measure', 0.15],
      ['encode', 0.85],
    ]);
    expect(result.passes[0]!.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:1', '-vn', '-af', 'loudnorm=I=-16:TP=-1.5:LRA=11:print_format=json', '-f', 'null', '-',
    ]);
    // Before the measurement, the final pass is one-pass dynamic normalisation.
    expect(result.args).toContain('loudnorm=I=-16:TP=-1.5:LRA=11,aformat=sample_rates=48000');
  });

  it('then normalises linearly with the measured values, back at the input sample rate', () => {
    const result = expectPlan(plan({ output: 'mp3', operations: [{ type: 'loudnorm', integrated: -23, true_peak: -2, lra: 7 }] }, { measurements: { loudnorm: measured } }));
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:1', '-vn', '-c:a', 'libmp3lame',
      '-af', 'loudnorm=I=-23:TP=-2:LRA=7:measured_I=-23.04:measured_TP=-5.01:measured_LRA=3.2:measured_thresh=-33.5:offset=0.04:linear=true:print_format=summary,aformat=sample_rates=48000',
      '-f', 'mp3', 'output.mp3',
    ]);
    expect(result.passes).toHaveLength(2);
  });

  it('single pass when asked', () => {
    const result = expectPlan(op({ type: 'loudnorm', two_pass: false }, 'mp3'));
    expect(result.passes.map((pass) => pass.kind)).toEqual(['encode']);
    expect(result.args).toContain('loudnorm=I=-16:TP=-1.5:LRA=11,aformat=sample_rates=48000');
  });

  it('measures after the audio operations before it, with video left out of the measuring pass', () => {
    const result = expectPlan(plan({ output: 'mp4', operations: [{ type: 'crop', width: 640, height: 360 }, { type: 'volume', db: 6 }, { type: 'loudnorm' }] }));
    expect(result.passes[0]!.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:1', '-vn', '-af', 'volume=volume=6dB,loudnorm=I=-16:TP=-1.5:LRA=11:print_format=json', '-f', 'null', '-',
    ]);
  });
});

describe('concat', () => {
  it('joins inputs made alike (frame, rate, sound), then the other operations work on the joined timeline', () => {
    const result = expectPlan(plan({ output: 'mp4', operations: [{ type: 'concat', inputs: [CLIP2] }, { type: 'trim', start: 2, end: 12 }] }));
    expect(result.inputs.map((input) => input.file)).toEqual(['input', 'input1']);
    const graph = [
      '[0:0]scale=w=1920:h=1080:force_original_aspect_ratio=decrease,pad=w=1920:h=1080:x=(ow-iw)/2:y=(oh-ih)/2,setsar=sar=1,fps=fps=25,format=pix_fmts=yuv420p[cv0]',
      '[0:1]aresample=osr=48000,aformat=sample_fmts=fltp:channel_layouts=stereo[ca0]',
      '[1:0]scale=w=1920:h=1080:force_original_aspect_ratio=decrease,pad=w=1920:h=1080:x=(ow-iw)/2:y=(oh-ih)/2,setsar=sar=1,fps=fps=25,format=pix_fmts=yuv420p[cv1]',
      // The second clip has no sound: silence of its length keeps the parts in step.
      'anullsrc=r=48000:cl=stereo,atrim=duration=4[ca1]',
      '[cv0][ca0][cv1][ca1]concat=n=2:v=1:a=1[v0][a0]',
      '[v0]trim=start=2:end=12,setpts=expr=PTS-STARTPTS[v1]',
      '[a0]atrim=start=2:end=12,asetpts=expr=PTS-STARTPTS[a1]',
    ].join(';');
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN(), ...IN('input1'), '-filter_complex', graph, '-map', '[v1]', '-map', '[a1]', ...X264, '-c:a', 'aac', ...MP4,
    ]);
    expect(result.expectedDurationS).toBe(10);
    expect(result.streamCopy).toBe(false);
  });

  it('fetches an input named twice once', () => {
    const result = expectPlan(plan({ output: 'mp4', operations: [{ type: 'concat', inputs: [CLIP2, CLIP2] }] }));
    expect(result.inputs.map((input) => input.file)).toEqual(['input', 'input1']);
    expect(result.expectedDurationS).toBe(18);
    expect(result.args.join(' ')).toContain('[cv0][ca0][cv1][ca1][cv2][ca2]concat=n=3:v=1:a=1[v0][a0]');
  });

  it('joins audio only for an audio output', () => {
    const result = expectPlan(plan({ output: 'mp3', operations: [{ type: 'concat', inputs: [CLIP3] }] }));
    expect(result.args.join(' ')).toContain('[ca0][ca1]concat=n=2:v=0:a=1[a0]');
  });

  it('refuses a part without video when the output has video', () => {
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'concat', inputs: [CLIP3] }] }))).toMatchObject([
      { code: 'NO_VIDEO_STREAM', pointer: '/operations/0/inputs/0' },
    ]);
  });
});

describe('thumbnails and sprite', () => {
  it('N evenly spaced frames, one decode, numbered files', () => {
    const result = expectPlan(op({ type: 'thumbnails', count: 4 }, 'jpg'));
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:0', '-c:v', 'mjpeg', '-q:v', '2',
      '-vf', 'select=expr=gte(t\\,1.25)*not(gte(prev_t\\,1.25))+gte(t\\,3.75)*not(gte(prev_t\\,3.75))+gte(t\\,6.25)*not(gte(prev_t\\,6.25))+gte(t\\,8.75)*not(gte(prev_t\\,8.75))',
      '-an', '-fps_mode', 'vfr', '-frames:v', '4', '-f', 'image2', 'thumb-%03d.jpg',
    ]);
    expect(result.outputs.map((o) => o.name)).toEqual(['thumb-001.jpg', 'thumb-002.jpg', 'thumb-003.jpg', 'thumb-004.jpg']);
    expect(result.outputs[0]!.contentType).toBe('image/jpeg');
  });

  it('frames at given times of the output, after the trim, in time order', () => {
    const result = expectPlan(plan({ output: 'png', operations: [{ type: 'trim', start: 2 }, { type: 'thumbnails', at: [5, '00:00:01.500'] }] }));
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN('input', '-ss', '2'), '-map', '0:0', '-c:v', 'png',
      '-vf', 'select=expr=gte(t\\,1.5)*not(gte(prev_t\\,1.5))+gte(t\\,5)*not(gte(prev_t\\,5))',
      '-an', '-fps_mode', 'vfr', '-frames:v', '2', '-f', 'image2', 'thumb-%03d.png',
    ]);
  });

  it('refuses times beyond the output, too close together, and formats that are not still images', () => {
    expect(expectProblems(op({ type: 'thumbnails', at: [1, 10] }, 'jpg'))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/at/1' }]);
    expect(expectProblems(op({ type: 'thumbnails', at: [1, 1.01] }, 'jpg'))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/operations/0/at' }]);
    expect(expectProblems(op({ type: 'thumbnails', count: 300 }, 'jpg'))).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/operations/0/count' }]);
    expect(expectProblems(op({ type: 'thumbnails', count: 2 }, 'mp4'))).toMatchObject([
      { code: 'INVALID_CODEC_FORMAT', pointer: '/operations/0', allowed: ['jpg', 'png', 'webp'] },
    ]);
  });

  it('a sprite sheet of tiles and its WebVTT index', () => {
    const result = expectPlan(op({ type: 'sprite', count: 4, columns: 2 }, 'jpg'));
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:0', '-c:v', 'mjpeg', '-q:v', '2',
      '-vf', 'select=expr=gte(t\\,1.25)*not(gte(prev_t\\,1.25))+gte(t\\,3.75)*not(gte(prev_t\\,3.75))+gte(t\\,6.25)*not(gte(prev_t\\,6.25))+gte(t\\,8.75)*not(gte(prev_t\\,8.75)),scale=w=160:h=90,tile=layout=2x2',
      '-an', '-frames:v', '1', '-update', '1', '-f', 'image2', 'sprite.jpg',
    ]);
    expect(result.outputs).toEqual([
      { name: 'sprite.jpg', file: 'sprite.jpg', contentType: 'image/jpeg' },
      { name: 'sprite.vtt', file: 'sprite.vtt', contentType: 'text/vtt; charset=utf-8' },
    ]);
    expect(result.files).toEqual([
      {
        file: 'sprite.vtt',
        text: [
          'WEBVTT',
          '',
          '00:00:00.000 --> 00:00:02.500',
          'sprite.jpg#xywh=0,0,160,90',
          '',
          '00:00:02.500 --> 00:00:05.000',
          'sprite.jpg#xywh=160,0,160,90',
          '',
          '00:00:05.000 --> 00:00:07.500',
          'sprite.jpg#xywh=0,90,160,90',
          '',
          '00:00:07.500 --> 00:00:10.000',
          'sprite.jpg#xywh=160,90,160,90',
          '',
        ].join('\n'),
      },
    ]);
  });

  it('a sprite with one tile every interval', () => {
    const result = expectPlan(op({ type: 'sprite', interval: 4, tile_width: 320 }, 'webp'));
    expect(result.args.join(' ')).toContain('select=expr=gte(t\\,0)*not(gte(prev_t\\,0))+gte(t\\,4)*not(gte(prev_t\\,4))+gte(t\\,8)*not(gte(prev_t\\,8)),scale=w=320:h=180,tile=layout=3x1');
    expect(result.args.join(' ')).toContain('-c:v libwebp -quality 80');
    expect(result.files[0]!.text).toContain('00:00:08.000 --> 00:00:10.000\nsprite.webp#xywh=640,0,320,180');
  });

  it('refuses a sheet beyond the frame limits, and thumbnails with a sprite', () => {
    expect(expectProblems(op({ type: 'sprite', count: 200, columns: 50, tile_width: 640 }, 'jpg'))).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/operations/0' }]);
    expect(expectProblems(plan({ output: 'jpg', operations: [{ type: 'thumbnails', count: 2 }, { type: 'sprite' }] }))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/1' },
    ]);
  });

  it('refuses output.video.resolution with a sprite: scaling the sheet would break its index', () => {
    expect(validate({ output: { format: 'jpg', video: { resolution: '240p' } }, operations: [{ type: 'sprite' }] })).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/0', message: expect.stringContaining('tile_width') },
    ]);
  });
});

describe('animated and still images', () => {
  it('gif: a palette per frame', () => {
    const result = expectPlan(plan({ output: 'gif', operations: [{ type: 'fps', fps: 10 }, { type: 'resize', width: 320 }] }));
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN(),
      '-filter_complex',
      '[0:0]fps=fps=10,scale=w=320:h=180[v0];[v0]split=outputs=2[g0][g1];[g0]palettegen=stats_mode=single[pal0];[g1][pal0]paletteuse=new=1[v1]',
      '-map', '[v1]', '-c:v', 'gif', '-an', '-loop', '0', '-f', 'gif', 'output.gif',
    ]);
  });

  it('webp: animated unless still frames are asked for', () => {
    expect(tail(plan({ output: 'webp', operations: [{ type: 'trim', duration: 2 }] }))).toEqual([
      ...IN('input', '-t', '2'), '-map', '0:0', '-c:v', 'libwebp_anim', '-quality', '75', '-an', '-loop', '0', '-f', 'webp', 'output.webp',
    ]);
  });

  it('png and jpg: one frame, at the trim start', () => {
    expect(tail(plan({ output: 'png', operations: [{ type: 'trim', start: 3 }] }))).toEqual([
      ...IN('input', '-ss', '3'), '-map', '0:0', '-c:v', 'png', '-an', '-frames:v', '1', '-update', '1', '-f', 'image2', 'output.png',
    ]);
    const jpg = expectPlan(plan({ output: 'jpg' }));
    expect(jpg.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:0', '-c:v', 'mjpeg', '-q:v', '2', '-an', '-frames:v', '1', '-update', '1', '-f', 'image2', 'output.jpg',
    ]);
    // One frame has no duration to measure progress against.
    expect(jpg.expectedDurationS).toBeNull();
  });

  it('refuses encoder settings images do not have', () => {
    expect(expectProblems(plan({ output: { format: 'gif', video: { crf: 20 } } }))).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/output/video/crf' }]);
    expect(expectProblems(plan({ output: { format: 'png', audio: { codec: 'aac' } } }))).toMatchObject([
      { code: 'INVALID_CODEC_FORMAT', pointer: '/output/audio' },
    ]);
  });
});

describe('metadata', () => {
  it('each tag is one argv item key=value after -metadata, keys in a fixed order', () => {
    const result = expectPlan(op({ type: 'metadata', tags: { comment: '-f null -', title: 'A = B; "C"' }, strip: true }));
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN(), '-map', '0:0', '-map', '0:1', '-c', 'copy', '-map_metadata', '-1', '-metadata', 'title=A = B; "C"', '-metadata', 'comment=-f null -', ...MP4,
    ]);
  });
});

describe('operations together', () => {
  it('apply in request order within the edit stage; trim and concat first, stills last', () => {
    const result = expectPlan(
      plan({
        output: 'mp4',
        operations: [
          { type: 'text', text: 'hi' },
          { type: 'resize', size: '360p' },
          { type: 'trim', start: 1, duration: 2 },
          { type: 'watermark', image: LOGO, position: 'top-left' },
          { type: 'metadata', tags: { title: 't' } },
        ],
      }),
    );
    expect(result.args.slice(HEAD.length)).toEqual([
      ...IN('input', '-ss', '1', '-t', '2'),
      ...IN('input1'),
      '-filter_complex',
      '[1:0]format=pix_fmts=rgba[wm0];[0:0]drawtext=font=Sans:text=hi:expansion=none:fontsize=32:fontcolor=white:x=(w-text_w)/2:y=h-text_h-16,scale=w=640:h=360[v0];[v0][wm0]overlay=x=16:y=16[v1]',
      // An exact trim is a decode: the audio is cut at the same sample, so it is encoded too.
      '-map', '[v1]', '-map', '0:1', ...X264, '-c:a', 'aac', '-metadata', 'title=t', ...MP4,
    ]);
    expect(result.expectedDurationS).toBe(2);
  });

  it('one of each, except text and watermark which may repeat', () => {
    expect(expectProblems(plan({ output: 'mp4', operations: [{ type: 'crop', width: 2, height: 2 }, { type: 'crop', width: 4, height: 4 }] }))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/1', message: 'only one crop operation is supported' },
    ]);
    const twice = expectPlan(plan({ output: 'mp4', operations: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b', position: 'top' }] }));
    expect(twice.args.join(' ')).toMatch(/drawtext=.*text=a:.*,drawtext=.*text=b:/);
  });

  it('refuses a size or rate given both as an operation and in output.video', () => {
    expect(expectProblems(plan({ output: { format: 'mp4', video: { resolution: '720p' } }, operations: [{ type: 'resize', width: 640 }] }))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/0' },
    ]);
    expect(expectProblems(plan({ output: { format: 'mp4', video: { fps: 24 } }, operations: [{ type: 'fps', fps: 30 }] }))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/0' },
    ]);
  });

  it('refuses more operations than the key tier allows', () => {
    const limits = { ...DEFAULT_LIMITS, operations: 2 };
    expect(validate({ output: 'mp4', operations: [{ type: 'blur' }, { type: 'sharpen' }, { type: 'denoise' }] }, limits)).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations' },
    ]);
  });

  it('video operations need a video output', () => {
    expect(expectProblems(op({ type: 'rotate', degrees: 90 }, 'mp3'))).toMatchObject([
      { code: 'INVALID_OPERATION', pointer: '/operations/0', message: 'the output has no video for rotate to work on' },
    ]);
  });
});
