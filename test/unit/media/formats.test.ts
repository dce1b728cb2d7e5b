/** The codec/container matrix (audit #29) and stream copy decisions. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { AUDIO_CODECS, FORMATS, OUTPUT_FORMATS, PICTURE_CODECS } from '../../../src/media/formats.js';
import { HEAD, IN, MAIN, X264, expectPlan, expectProblems, hd, plan, song, tail, validate } from './support.js';

describe('audit #29: codec/container matrix', () => {
  it('every format accepts exactly its codecs, at submission, with the allowed values and a suggestion otherwise', () => {
    for (const format of OUTPUT_FORMATS) {
      const spec = FORMATS[format];
      for (const codec of PICTURE_CODECS) {
        const problems = validate({ output: { format, video: { codec } } });
        if ((spec.videoCodecs as readonly string[]).includes(codec)) {
          expect(problems, `${format} + ${codec}`).toEqual([]);
        } else if (spec.videoCodecs.length === 0) {
          expect(problems, `${format} + ${codec}`).toMatchObject([{ code: 'INVALID_CODEC_FORMAT', pointer: '/output/video', allowed: [] }]);
          expect(problems[0]!.suggestion).toMatch(/audio only/);
        } else {
          expect(problems, `${format} + ${codec}`).toMatchObject([
            { code: 'INVALID_CODEC_FORMAT', pointer: '/output/video/codec', allowed: [...spec.videoCodecs] },
          ]);
          expect(problems[0]!.suggestion).toMatch(new RegExp(`^use video codec ${spec.videoCodecs[0]} with ${format}`));
        }
      }
      for (const codec of AUDIO_CODECS) {
        const problems = validate({ output: { format, audio: { codec } } });
        if ((spec.audioCodecs as readonly string[]).includes(codec)) {
          expect(problems, `${format} + ${codec}`).toEqual([]);
        } else if (spec.audioCodecs.length === 0) {
          expect(problems, `${format} + ${codec}`).toMatchObject([{ code: 'INVALID_CODEC_FORMAT', pointer: '/output/audio', allowed: [] }]);
        } else {
          expect(problems, `${format} + ${codec}`).toMatchObject([
            { code: 'INVALID_CODEC_FORMAT', pointer: '/output/audio/codec', allowed: [...spec.audioCodecs] },
          ]);
          expect(problems[0]!.suggestion).toContain(`use audio codec ${spec.audioCodecs[0]} with ${format}`);
        }
      }
    }
  });

  it('the suggestion names the formats that do take the codec', () => {
    expect(validate({ output: { format: 'ts', audio: { codec: 'opus' } } })[0]!.suggestion).toBe(
      'use audio codec aac with ts or keep opus with format mp4 or webm or mkv or ogg or opus',
    );
    expect(validate({ output: { format: 'webm', video: { codec: 'h265' } } })[0]!.suggestion).toBe(
      'use video codec vp9 with webm or keep h265 with format mp4 or mkv or mov or ts',
    );
  });

  it.each([
    ['mp4', 'mp4', 'video/mp4', '-c:v libx264', '-c:a aac'],
    ['mov', 'mov', 'video/quicktime', '-c:v libx264', '-c:a aac'],
    ['mkv', 'matroska', 'video/x-matroska', '-c:v libx264', '-c:a aac'],
    ['webm', 'webm', 'video/webm', '-c:v libvpx-vp9', '-c:a libopus'],
    ['ts', 'mpegts', 'video/mp2t', '-c:v libx264', '-c:a aac'],
    ['mp3', 'mp3', 'audio/mpeg', null, '-c:a libmp3lame'],
    ['m4a', 'ipod', 'audio/mp4', null, '-c:a aac'],
    ['aac', 'adts', 'audio/aac', null, '-c:a aac'],
    ['ogg', 'ogg', 'audio/ogg', null, '-c:a libopus'],
    ['opus', 'opus', 'audio/ogg', null, '-c:a libopus'],
    ['flac', 'flac', 'audio/flac', null, '-c:a flac'],
    ['wav', 'wav', 'audio/wav', null, '-c:a pcm_s16le'],
    ['gif', 'gif', 'image/gif', '-c:v gif', null],
    ['webp', 'webp', 'image/webp', '-c:v libwebp_anim', null],
    ['png', 'image2', 'image/png', '-c:v png', null],
    ['jpg', 'image2', 'image/jpeg', '-c:v mjpeg', null],
  ])('%s: muxer %s, %s, default encoders', (format, muxer, contentType, video, audio) => {
    const result = expectPlan(plan({ output: format, options: { stream_copy: 'never' } }));
    const args = result.args.join(' ');
    expect(result.args.slice(-2)).toEqual([muxer, `output.${FORMATS[format as 'mp4'].extension}`]);
    expect(result.outputs).toEqual([{ name: `output.${FORMATS[format as 'mp4'].extension}`, file: `output.${FORMATS[format as 'mp4'].extension}`, contentType }]);
    if (video) expect(args).toContain(video);
    else expect(args).toContain('-vn');
    if (audio) expect(args).toContain(audio);
    else expect(args).toContain('-an');
    expect(result.requirements.muxers).toEqual([muxer]);
  });
});

describe('stream copy', () => {
  const copied = (format: string, muxer: string, file: string, extra: string[] = []) => [
    ...IN(), '-map', '0:0', '-map', '0:1', '-c', 'copy', ...extra, '-f', muxer, file,
  ];

  it('a container change with codecs the new container holds copies everything, and needs no codec at all', () => {
    const result = expectPlan(plan({ output: 'mkv' }));
    expect(result.args.slice(HEAD.length)).toEqual(copied('mkv', 'matroska', 'output.mkv'));
    expect(result.streamCopy).toBe(true);
    expect(result.requirements).toEqual({ encoders: [], decoders: [], filters: [], muxers: ['matroska'] });
    expect(tail(plan({ output: 'ts' }))).toEqual(copied('ts', 'mpegts', 'output.ts'));
    expect(tail(plan({ output: 'mov' }))).toEqual(copied('mov', 'mov', 'output.mov', ['-movflags', '+faststart']));
  });

  it('asking for the codec the input already has still copies; another codec encodes', () => {
    expect(expectPlan(plan({ output: { format: 'mkv', video: { codec: 'h264' }, audio: { codec: 'aac' } } })).streamCopy).toBe(true);
    const h265 = expectPlan(plan({ output: { format: 'mkv', video: { codec: 'h265' } } }));
    expect(h265.streamCopy).toBe(false);
    expect(h265.args.join(' ')).toContain('-c:v libx265');
    expect(h265.args.join(' ')).toContain('-c:a copy');
  });

  it('a container that cannot hold the input codec encodes', () => {
    const webm = expectPlan(plan({ output: 'webm' }));
    expect(webm.streamCopy).toBe(false);
    expect(webm.requirements.encoders).toEqual(['libvpx-vp9', 'libopus']);
    expect(webm.requirements.decoders).toEqual(['h264', 'aac']);
  });

  it('any encoder setting, filter, frame rate or size change means encoding that stream only', () => {
    expect(tail(plan({ output: { format: 'mp4', video: { crf: 20 } } }))).toEqual([
      ...IN(), '-map', '0:0', '-map', '0:1', '-c:v', 'libx264', '-crf', '20', '-preset', 'medium', '-pix_fmt', 'yuv420p', '-c:a', 'copy', '-movflags', '+faststart', '-f', 'mp4', 'output.mp4',
    ]);
    expect(tail(plan({ output: { format: 'mp4', audio: { bitrate: '96k' } } }))).toEqual([
      ...IN(), '-map', '0:0', '-map', '0:1', '-c:v', 'copy', '-c:a', 'aac', '-b:a', '96000', '-movflags', '+faststart', '-f', 'mp4', 'output.mp4',
    ]);
    expect(expectPlan(plan({ output: { format: 'mp4', video: { fps: 24 } } })).args).toContain('-r');
    expect(expectPlan(plan({ output: { format: 'mp4', video: { fps: 24 } } })).streamCopy).toBe(false);
    expect(expectPlan(plan({ output: { format: 'mp4', video: { resolution: '480p' } } })).streamCopy).toBe(false);
  });

  it('a keyframe trim copies (and shifts the start to zero); an exact trim decodes', () => {
    expect(tail(plan({ output: 'mkv', operations: [{ type: 'trim', start: 2, end: 5, mode: 'keyframe' }] }))).toEqual([
      ...IN('input', '-ss', '2', '-to', '5'), '-map', '0:0', '-map', '0:1', '-c', 'copy', '-avoid_negative_ts', 'make_zero', '-f', 'matroska', 'output.mkv',
    ]);
    expect(expectPlan(plan({ output: 'mkv', operations: [{ type: 'trim', start: 2, end: 5 }] })).streamCopy).toBe(false);
  });

  it('audio extraction in the same codec copies', () => {
    expect(tail(plan({ output: 'm4a' }))).toEqual([...IN(), '-map', '0:1', '-c', 'copy', '-vn', '-movflags', '+faststart', '-f', 'ipod', 'output.m4a']);
    expect(tail(plan({ output: 'aac' }))).toEqual([...IN(), '-map', '0:1', '-c', 'copy', '-vn', '-f', 'adts', 'output.aac']);
    expect(tail(plan({ output: 'mp3' }, { probes: { [MAIN]: song } }))).toEqual([...IN(), '-map', '0:0', '-c', 'copy', '-vn', '-f', 'mp3', 'output.mp3']);
    expect(expectPlan(plan({ output: 'mp3' })).streamCopy).toBe(false);
  });

  it('HEVC copied into MP4 gets the hvc1 tag Apple players need', () => {
    const hevc = hd({ streams: [{ index: 0, type: 'video', codec: 'hevc', width: 1920, height: 1080 }] });
    expect(tail(plan({ output: 'mp4' }, { probes: { [MAIN]: hevc } }))).toEqual([
      ...IN(), '-map', '0:0', '-c', 'copy', '-tag:v', 'hvc1', '-an', '-movflags', '+faststart', '-f', 'mp4', 'output.mp4',
    ]);
  });

  it('never copies a codec it does not know, nor when asked not to, nor into images or joined inputs', () => {
    const prores = hd({ streams: [{ index: 0, type: 'video', codec: 'prores', width: 1920, height: 1080 }] });
    expect(expectPlan(plan({ output: 'mkv' }, { probes: { [MAIN]: prores } })).streamCopy).toBe(false);
    expect(tail(plan({ output: 'mkv', options: { stream_copy: 'never' } }))).toEqual([
      ...IN(), '-map', '0:0', '-map', '0:1', ...X264, '-c:a', 'aac', '-f', 'matroska', 'output.mkv',
    ]);
    expect(expectPlan(plan({ output: 'png' })).streamCopy).toBe(false);
  });

  it('metadata changes still copy', () => {
    expect(expectPlan(plan({ output: 'mkv', operations: [{ type: 'metadata', tags: { title: 'x' } }] })).streamCopy).toBe(true);
  });

  it('an input above the tier frame limit is not copied through: it needs a downscale', () => {
    const limits = { ...DEFAULT_LIMITS, outputPixels: 1280 * 720 };
    expect(expectProblems(plan({ output: 'mkv' }, { limits }))).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/output', suggestion: 'set output.video.resolution to 720p' }]);
  });
});
