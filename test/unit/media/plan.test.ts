import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Limits } from '../../../src/config.js';
import type { ProbeResult } from '../../../src/engine/engine.js';
import { isPlanProblems, planConvert, validateConvert, type ConvertPlan, type PlanProblem } from '../../../src/media/plan.js';
import { ConvertRequestSchema, type ConvertRequestInput } from '../../../src/schemas/convert.js';

const HEAD = ['-hide_banner', '-nostdin', '-y', '-progress', 'pipe:1', '-nostats', '-protocol_whitelist', 'file'];

function probe(overrides: Partial<ProbeResult> = {}): ProbeResult {
  return {
    format: 'mov,mp4,m4a,3gp,3g2,mj2',
    duration_s: 10,
    size: 1_000_000,
    bit_rate: 800_000,
    streams: [
      { index: 0, type: 'video', codec: 'h264', width: 1920, height: 1080, fps: 25, duration_s: 10, bit_rate: 700_000 },
      { index: 1, type: 'audio', codec: 'aac', sample_rate: 44100, channels: 2, duration_s: 10, bit_rate: 128_000 },
    ],
    ...overrides,
  };
}

const audioOnlyInput = probe({
  format: 'mp3',
  streams: [{ index: 0, type: 'audio', codec: 'mp3', sample_rate: 44100, channels: 2, duration_s: 10, bit_rate: 128_000 }],
});
const silentInput = probe({ streams: [{ index: 0, type: 'video', codec: 'h264', width: 640, height: 360, fps: 30 }] });

function plan(body: Omit<ConvertRequestInput, 'input'>, input: ProbeResult = probe(), limits: Limits = DEFAULT_LIMITS) {
  return planConvert(ConvertRequestSchema.parse({ input: 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e', ...body }), input, limits);
}

function expectPlan(result: ConvertPlan | PlanProblem[]): ConvertPlan {
  if (isPlanProblems(result)) throw new Error(`expected a plan, got ${JSON.stringify(result)}`);
  return result;
}

function expectProblems(result: ConvertPlan | PlanProblem[]): PlanProblem[] {
  if (!isPlanProblems(result)) throw new Error(`expected problems, got ${JSON.stringify(result.args)}`);
  return result;
}

describe('planConvert: golden argv', () => {
  it('mp4 defaults to h264 + aac with explicit stream maps', () => {
    const result = expectPlan(plan({ output: 'mp4', options: { stream_copy: 'never' } }));
    const args = [
      ...HEAD,
      '-i', 'input',
      '-map', '0:0', '-map', '0:1',
      '-c:v', 'libx264', '-crf', '23', '-preset', 'medium', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac',
      '-movflags', '+faststart',
      '-f', 'mp4', 'output.mp4',
    ];
    expect(result).toEqual({
      inputs: [{ pointer: '/input', uri: 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e', file: 'input' }],
      passes: [{ kind: 'encode', args, expectedDurationS: 10, weight: 1 }],
      args,
      outputs: [{ name: 'output.mp4', file: 'output.mp4', contentType: 'video/mp4' }],
      files: [],
      expectedDurationS: 10,
      streamCopy: false,
      requirements: { encoders: ['libx264', 'aac'], decoders: ['h264', 'aac'], filters: [], muxers: ['mp4'] },
    });
  });

  it('mp4 h264/aac with every option and a trim', () => {
    const result = expectPlan(
      plan({
        output: {
          format: 'mp4',
          video: { codec: 'h264', crf: 20, preset: 'fast', bitrate: '2.5M', resolution: '720p', fps: 30 },
          audio: { codec: 'aac', bitrate: '128k', channels: 2, sample_rate: 48000 },
        },
        operations: [{ type: 'trim', start: '00:00:01.500', end: 4 }],
      }),
    );
    expect(result.args).toEqual([
      ...HEAD,
      '-ss', '1.5', '-to', '4',
      '-i', 'input',
      '-map', '0:0', '-map', '0:1',
      '-c:v', 'libx264', '-crf', '20', '-maxrate', '2500000', '-bufsize', '5000000', '-preset', 'fast',
      '-pix_fmt', 'yuv420p', '-vf', 'scale=w=1280:h=720', '-r', '30',
      '-c:a', 'aac', '-b:a', '128000', '-ac', '2', '-ar', '48000',
      '-movflags', '+faststart',
      '-f', 'mp4', 'output.mp4',
    ]);
    expect(result.expectedDurationS).toBe(2.5);
  });

  it('webm defaults to vp9 in constant quality + opus', () => {
    const result = expectPlan(plan({ output: 'webm' }));
    expect(result.args).toEqual([
      ...HEAD,
      '-i', 'input',
      '-map', '0:0', '-map', '0:1',
      '-c:v', 'libvpx-vp9', '-crf', '31', '-b:v', '0', '-deadline', 'good', '-cpu-used', '2', '-row-mt', '1',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'libopus',
      '-f', 'webm', 'output.webm',
    ]);
    expect(result.outputs).toEqual([{ name: 'output.webm', file: 'output.webm', contentType: 'video/webm' }]);
  });

  it('webm vp9/opus trimmed by start and duration, scaled to an exact size', () => {
    const result = expectPlan(
      plan({
        output: { format: 'webm', video: { codec: 'vp9', bitrate: 1_000_000, resolution: '640x360', preset: 'ultrafast' }, audio: { codec: 'opus', bitrate: '96k' } },
        operations: [{ type: 'trim', start: 2, duration: '00:03' }],
      }),
    );
    expect(result.args).toEqual([
      ...HEAD,
      '-ss', '2', '-t', '3',
      '-i', 'input',
      '-map', '0:0', '-map', '0:1',
      '-c:v', 'libvpx-vp9', '-b:v', '1000000', '-deadline', 'good', '-cpu-used', '5', '-row-mt', '1',
      '-pix_fmt', 'yuv420p', '-vf', 'scale=w=640:h=360,setsar=sar=1',
      '-c:a', 'libopus', '-b:a', '96000',
      '-f', 'webm', 'output.webm',
    ]);
    expect(result.expectedDurationS).toBe(3);
  });

  it('mp3 drops the video and maps only the audio', () => {
    const result = expectPlan(plan({ output: 'mp3' }));
    const args = [...HEAD, '-i', 'input', '-map', '0:1', '-vn', '-c:a', 'libmp3lame', '-f', 'mp3', 'output.mp3'];
    expect(result).toMatchObject({
      args,
      passes: [{ kind: 'encode', args, expectedDurationS: 10, weight: 1 }],
      outputs: [{ name: 'output.mp3', file: 'output.mp3', contentType: 'audio/mpeg' }],
      expectedDurationS: 10,
      streamCopy: false,
      requirements: { encoders: ['libmp3lame'], decoders: ['aac'], filters: [], muxers: ['mp3'] },
    });
  });

  it('mp3 trimmed from an audio-only input', () => {
    const result = expectPlan(
      plan({ output: { format: 'mp3', audio: { bitrate: '192k' } }, operations: [{ type: 'trim', end: '00:00:05' }] }, audioOnlyInput),
    );
    expect(result.args).toEqual([
      ...HEAD, '-to', '5', '-i', 'input', '-map', '0:0', '-vn', '-c:a', 'libmp3lame', '-b:a', '192000', '-f', 'mp3', 'output.mp3',
    ]);
    expect(result.expectedDurationS).toBe(5);
  });

  it('maps the first real streams by their probe index, skipping cover art', () => {
    const input = probe({
      streams: [
        { index: 0, type: 'attachment', codec: 'mjpeg', width: 500, height: 500 },
        { index: 1, type: 'subtitle', codec: 'mov_text' },
        { index: 2, type: 'audio', codec: 'aac', sample_rate: 48000, channels: 2 },
        { index: 3, type: 'video', codec: 'h264', width: 1280, height: 720 },
      ],
    });
    expect(expectPlan(plan({ output: 'mkv' }, input)).args).toEqual(expect.arrayContaining(['-map', '0:3']));
    expect(expectPlan(plan({ output: 'mkv' }, input)).args.join(' ')).toContain('-map 0:3 -map 0:2');
  });

  it('keeps a silent video silent instead of refusing it', () => {
    const result = expectPlan(plan({ output: 'mp4' }, silentInput));
    expect(result.args).toContain('-an');
    expect(result.args.join(' ')).not.toContain('-c:a');
  });

  it('drops a stream on request', () => {
    expect(expectPlan(plan({ output: { format: 'mp4', audio: false } })).args).toContain('-an');
    const noVideo = expectPlan(plan({ output: { format: 'mkv', video: false }, options: { stream_copy: 'never' } }));
    expect(noVideo.args).toContain('-vn');
    expect(noVideo.args.join(' ')).toContain('-map 0:1 -vn');
  });

  it('gives vp8 a bitrate ceiling so CRF, not libvpx default cap, decides', () => {
    const args = expectPlan(plan({ output: { format: 'webm', video: { codec: 'vp8', crf: 12 } } })).args.join(' ');
    expect(args).toContain(`-c:v libvpx -crf 12 -b:v ${DEFAULT_LIMITS.maxBitrate} -deadline good -cpu-used 2`);
  });

  it('tags HEVC as hvc1 in mp4', () => {
    const args = expectPlan(plan({ output: { format: 'mp4', video: { codec: 'h265' } } })).args.join(' ');
    expect(args).toContain('-c:v libx265 -crf 28 -preset medium -tag:v hvc1 -x265-params log-level=error');
  });

  it('scales portrait inputs by their short side, and crops odd sizes to even', () => {
    const portrait = probe({ streams: [{ index: 0, type: 'video', codec: 'h264', width: 1080, height: 1920 }] });
    expect(expectPlan(plan({ output: { format: 'mp4', video: { resolution: '720p' } } }, portrait)).args).toContain('scale=w=720:h=1280');
    const odd = probe({ streams: [{ index: 0, type: 'video', codec: 'h264', width: 641, height: 361 }] });
    expect(expectPlan(plan({ output: 'mp4', options: { stream_copy: 'never' } }, odd)).args).toContain('scale=w=640:h=360');
    // Copied, the odd frame stays as it is: nothing is decoded.
    expect(expectPlan(plan({ output: 'mp4' }, odd)).args).not.toContain('scale=w=640:h=360');
  });

  it('output.video.resolution never upscales unless asked, by the same rule as the resize operation', () => {
    const small = probe({ streams: [{ index: 0, type: 'video', codec: 'h264', width: 640, height: 360, fps: 25 }] });
    const never = { stream_copy: 'never' } as const;
    const vf = (result: ConvertPlan | PlanProblem[]) => {
      const args = expectPlan(result).args;
      return args.includes('-vf') ? args[args.indexOf('-vf') + 1] : null;
    };
    // A 640x360 input stays 640x360 for 480p and for 1280x720, as resize leaves it.
    expect(vf(plan({ output: { format: 'mp4', video: { resolution: '480p' } }, options: never }, small))).toBeNull();
    expect(vf(plan({ output: { format: 'mp4', video: { resolution: '1280x720' } }, options: never }, small))).toBeNull();
    expect(vf(plan({ output: 'mp4', operations: [{ type: 'resize', size: '480p' }], options: never }, small))).toBeNull();
    // Asked for, both scale up alike.
    expect(vf(plan({ output: { format: 'mp4', video: { resolution: '480p', upscale: true } }, options: never }, small))).toBe('scale=w=854:h=480');
    expect(vf(plan({ output: 'mp4', operations: [{ type: 'resize', size: '480p', upscale: true }], options: never }, small))).toBe('scale=w=854:h=480');
    expect(vf(plan({ output: { format: 'mp4', video: { resolution: '1280x720', upscale: true } }, options: never }, small))).toBe('scale=w=1280:h=720,setsar=sar=1');
    // Downscaling needs nothing: the same argv either way.
    expect(vf(plan({ output: { format: 'mp4', video: { resolution: '240p' } } }, small))).toBe(vf(plan({ output: 'mp4', operations: [{ type: 'resize', size: '240p' }] }, small)));
    expect(expectProblems(plan({ output: { format: 'mp4', video: { upscale: true } } }, small))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/output/video/upscale' },
    ]);
  });

  it('uses the right muxer and content type for every audio format', () => {
    const cases = [
      ['m4a', 'ipod', 'output.m4a', 'audio/mp4', 'aac'],
      ['ogg', 'ogg', 'output.ogg', 'audio/ogg', 'libopus'],
      ['wav', 'wav', 'output.wav', 'audio/wav', 'pcm_s16le'],
      ['flac', 'flac', 'output.flac', 'audio/flac', 'flac'],
    ] as const;
    for (const [format, muxer, file, contentType, encoder] of cases) {
      const result = expectPlan(plan({ output: format, options: { stream_copy: 'never' } }));
      expect(result.args.slice(-3)).toEqual(['-f', muxer, file]);
      expect(result.args.join(' ')).toContain(`-c:a ${encoder}`);
      expect(result.outputs[0]?.contentType).toBe(contentType);
    }
  });
});

describe('planConvert: expected duration', () => {
  it('is the trim window, cut short by the end of the input', () => {
    expect(expectPlan(plan({ output: 'mp3', operations: [{ type: 'trim', start: 8, duration: 5 }] })).expectedDurationS).toBe(2);
    expect(expectPlan(plan({ output: 'mp3', operations: [{ type: 'trim', start: 4 }] })).expectedDurationS).toBe(6);
    expect(expectPlan(plan({ output: 'mp3', operations: [{ type: 'trim', end: 60 }] })).expectedDurationS).toBe(10);
  });

  it('audit #21: is null, not zero, when the input duration is unknown or zero', () => {
    for (const duration_s of [null, 0, Number.NaN]) {
      const result = expectPlan(plan({ output: 'mp3', operations: [{ type: 'trim', start: 1, end: 2 }] }, probe({ duration_s })));
      expect(result.expectedDurationS).toBeNull();
      expect(result.args).toContain('-ss');
    }
  });
});

describe('planConvert: problems', () => {
  it('audit: codec/container mismatch names the pointer, the allowed codecs and a fix', () => {
    const problems = expectProblems(plan({ output: { format: 'mp4', video: { codec: 'vp9' }, audio: { codec: 'vorbis' } } }));
    expect(problems).toEqual([
      {
        code: 'INVALID_CODEC_FORMAT',
        pointer: '/output/video/codec',
        message: 'mp4 cannot hold vp9 video',
        allowed: ['h264', 'h265'],
        suggestion: 'use video codec h264 with mp4 or keep vp9 with format webm or mkv',
      },
      {
        code: 'INVALID_CODEC_FORMAT',
        pointer: '/output/audio/codec',
        message: 'mp4 cannot hold vorbis audio',
        allowed: ['aac', 'mp3', 'opus'],
        suggestion: 'use audio codec aac with mp4 or keep vorbis with format webm or mkv or ogg',
      },
    ]);
  });

  it('refuses video settings for an audio-only format', () => {
    const [problem] = expectProblems(plan({ output: { format: 'mp3', video: { codec: 'h264' } } }));
    expect(problem).toMatchObject({ code: 'INVALID_CODEC_FORMAT', pointer: '/output/video', allowed: [] });
    expect(problem?.suggestion).toMatch(/audio only/);
  });

  it('refuses video when the input has none', () => {
    expect(expectProblems(plan({ output: 'mp4' }, audioOnlyInput))).toMatchObject([
      { code: 'NO_VIDEO_STREAM', pointer: '/output' },
    ]);
    expect(expectProblems(plan({ output: { format: 'webm', video: { crf: 30 } } }, audioOnlyInput))).toMatchObject([
      { code: 'NO_VIDEO_STREAM', pointer: '/output/video' },
    ]);
    // Turning video off is the fix the problem suggests, and it works.
    expect(isPlanProblems(plan({ output: { format: 'mp4', video: false } }, audioOnlyInput))).toBe(false);
  });

  it('refuses audio that the input does not have, when asked for', () => {
    expect(expectProblems(plan({ output: 'mp3' }, silentInput))).toMatchObject([{ code: 'NO_AUDIO_STREAM', pointer: '/output' }]);
    expect(expectProblems(plan({ output: { format: 'mp4', audio: { bitrate: '96k' } } }, silentInput))).toMatchObject([
      { code: 'NO_AUDIO_STREAM', pointer: '/output/audio' },
    ]);
    expect(expectProblems(plan({ output: { format: 'mp4', video: false } }, silentInput))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/output' },
    ]);
  });

  it('refuses trims outside the input or that make no sense', () => {
    const trim = (operation: object, input = probe()) =>
      expectProblems(plan({ output: 'mp3', operations: [{ type: 'trim', ...operation }] }, input));
    expect(trim({ start: 10 })).toMatchObject([{ code: 'INVALID_TRIM', pointer: '/operations/0/start' }]);
    expect(trim({ start: '00:00:30' })).toMatchObject([{ code: 'INVALID_TRIM', pointer: '/operations/0/start' }]);
    expect(trim({ start: 5, end: 5 })).toMatchObject([{ code: 'INVALID_TRIM', pointer: '/operations/0/end' }]);
    expect(trim({ start: 1, end: 3, duration: 2 })).toMatchObject([{ code: 'INVALID_TRIM', pointer: '/operations/0/duration' }]);
    expect(trim({ duration: 0 })).toMatchObject([{ code: 'INVALID_TRIM', pointer: '/operations/0/duration' }]);
    const twice = expectProblems(plan({ output: 'mp3', operations: [{ type: 'trim', start: 1 }, { type: 'trim', start: 2 }] }));
    expect(twice).toMatchObject([{ code: 'INVALID_TRIM', pointer: '/operations/1' }]);
  });

  it('refuses bitrates over the key limit', () => {
    const limits = { ...DEFAULT_LIMITS, maxBitrate: 5_000_000 };
    expect(expectProblems(plan({ output: { format: 'mp4', video: { bitrate: '8M' }, audio: { bitrate: '6000k' } } }, probe(), limits))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/output/video/bitrate' },
      { code: 'LIMIT_EXCEEDED', pointer: '/output/audio/bitrate' },
    ]);
  });

  it('refuses frame rates and sizes over the limits', () => {
    const limits = { ...DEFAULT_LIMITS, maxFps: 30, outputPixels: 1280 * 720 };
    const problems = expectProblems(plan({ output: { format: 'mp4', video: { fps: 60, resolution: '1920x1080' } } }, probe(), limits));
    expect(problems).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/output/video/fps' },
      { code: 'LIMIT_EXCEEDED', pointer: '/output/video/resolution' },
    ]);
    expect(expectProblems(plan({ output: { format: 'mp4', video: { resolution: '1080p' } } }, probe(), limits))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/output/video/resolution' },
    ]);
    // An input above the limit needs an explicit downscale, and the problem says which one fits.
    expect(expectProblems(plan({ output: 'mp4' }, probe(), limits))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/output', suggestion: 'set output.video.resolution to 720p' },
    ]);
    expect(isPlanProblems(plan({ output: { format: 'mp4', video: { resolution: '720p' } } }, probe(), limits))).toBe(false);
  });

  it('refuses frames beyond 8K in either orientation, and odd sizes', () => {
    expect(expectProblems(plan({ output: { format: 'mkv', video: { resolution: '8192x4320' } } }))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/output/video/resolution' },
    ]);
    expect(isPlanProblems(plan({ output: { format: 'mkv', video: { resolution: '4320x7680' } } }))).toBe(false);
    expect(expectProblems(plan({ output: { format: 'mkv', video: { resolution: '1281x721' } } }))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/output/video/resolution', suggestion: '1282x722' },
    ]);
    expect(expectProblems(plan({ output: { format: 'mkv', video: { resolution: '0x720' } } }))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/output/video/resolution' },
    ]);
  });

  it('refuses encoder settings ffmpeg would only reject at run time', () => {
    expect(expectProblems(plan({ output: { format: 'webm', video: { codec: 'vp8', crf: 2 } } }))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/output/video/crf' },
    ]);
    expect(expectProblems(plan({ output: { format: 'ogg', audio: { sample_rate: 44100 } } }))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/output/audio/sample_rate', allowed: [8000, 12000, 16000, 24000, 48000] },
    ]);
    expect(expectProblems(plan({ output: { format: 'mp3', audio: { channels: 6 } } }))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/output/audio/channels' },
    ]);
    expect(expectProblems(plan({ output: { format: 'flac', audio: { bitrate: '320k' } } }))).toMatchObject([
      { code: 'INVALID_OPTION', pointer: '/output/audio/bitrate' },
    ]);
  });

  it('refuses playlists and file lists as inputs', () => {
    for (const format of ['hls', 'concat', 'dash']) {
      expect(expectProblems(plan({ output: 'mp4' }, probe({ format })))).toMatchObject([{ code: 'UNSUPPORTED_INPUT', pointer: '/input' }]);
    }
  });

  it('refuses inputs longer than the duration limit', () => {
    const limits = { ...DEFAULT_LIMITS, inputDurationS: 5 };
    expect(expectProblems(plan({ output: 'mp3' }, probe(), limits))).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/input' }]);
  });

  it('reports every problem at once rather than the first', () => {
    const problems = expectProblems(
      plan({
        output: { format: 'mov', video: { codec: 'vp8' }, audio: { codec: 'opus' } },
        operations: [{ type: 'trim', start: 50 }],
      }),
    );
    expect(problems.map((p) => p.pointer).sort()).toEqual(['/operations/0/start', '/output/audio/codec', '/output/video/codec']);
  });
});

describe('validateConvert: before the input is fetched', () => {
  const validate = (body: Omit<ConvertRequestInput, 'input'>, limits: Limits = DEFAULT_LIMITS) =>
    validateConvert(ConvertRequestSchema.parse({ input: 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e', ...body }), limits);

  it('audit: late validation: refuses what the request alone shows to be wrong', () => {
    const limits = { ...DEFAULT_LIMITS, maxBitrate: 1_000_000, maxFps: 30, outputPixels: 1280 * 720 };
    const problems = validate(
      {
        output: { format: 'mp4', video: { codec: 'vp8', bitrate: '2M', fps: 60, resolution: '1080p' }, audio: { codec: 'opus', sample_rate: 44100 } },
        operations: [{ type: 'trim', start: 5, end: 3 }],
      },
      limits,
    );
    expect(problems.map((p) => [p.code, p.pointer])).toEqual([
      ['INVALID_TRIM', '/operations/0/end'],
      ['INVALID_CODEC_FORMAT', '/output/video/codec'],
      ['INVALID_OPTION', '/output/audio/sample_rate'],
      ['LIMIT_EXCEEDED', '/output/video/resolution'],
    ]);
    const limitsOnly = validate({ output: { format: 'mp4', video: { bitrate: '2M', fps: 60, resolution: '1080p' } } }, limits);
    expect(limitsOnly.map((p) => [p.code, p.pointer])).toEqual([
      ['LIMIT_EXCEEDED', '/output/video/bitrate'],
      ['LIMIT_EXCEEDED', '/output/video/fps'],
      ['LIMIT_EXCEEDED', '/output/video/resolution'],
    ]);
  });

  it('leaves what depends on the input to the planner', () => {
    expect(validate({ output: 'mp4', operations: [{ type: 'trim', start: 3600 }] })).toEqual([]);
    expect(validate({ output: { format: 'mp4', audio: { channels: 2 } } })).toEqual([]);
    expect(validate({ output: { format: 'mkv', video: false, audio: false } })).toMatchObject([{ code: 'INVALID_OPTION', pointer: '/output' }]);
  });
});

describe('ConvertRequestSchema', () => {
  const base = { input: 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e', output: 'mp4' };

  it('fills the job options defaults', () => {
    expect(ConvertRequestSchema.parse(base).options).toEqual({ priority: 0, engine: 'auto', stream_copy: 'auto' });
  });

  it('refuses unknown keys at every level', () => {
    expect(ConvertRequestSchema.safeParse({ ...base, extra: 1 }).success).toBe(false);
    expect(ConvertRequestSchema.safeParse({ ...base, output: { format: 'mp4', video: { codec: 'h264', x264opts: 'a' } } }).success).toBe(false);
    expect(ConvertRequestSchema.safeParse({ ...base, operations: [{ type: 'trim', start: 1, filter: 'x' }] }).success).toBe(false);
    expect(ConvertRequestSchema.safeParse({ ...base, options: { priority: 1, shell: true } }).success).toBe(false);
  });

  it('refuses malformed values before any job exists', () => {
    const bad = [
      { output: 'avi' },
      { output: { format: 'mp4', video: { codec: 'av1' } } },
      { output: { format: 'mp4', video: { crf: 52 } } },
      { output: { format: 'mp4', video: { crf: 20.5 } } },
      { output: { format: 'mp4', video: { preset: 'placebo' } } },
      { output: { format: 'mp4', video: { bitrate: '1e309' } } },
      { output: { format: 'mp4', video: { bitrate: -5 } } },
      { output: { format: 'mp4', video: { resolution: '1280x720; rm -rf /' } } },
      { output: { format: 'mp4', video: { resolution: '4k' } } },
      { output: { format: 'mp4', video: { fps: 0 } } },
      { output: { format: 'mp4', video: true } },
      { output: { format: 'mp4', audio: { channels: 9 } } },
      { output: { format: 'mp4', audio: { sample_rate: 44000 } } },
      { operations: [{ type: 'trim', start: '-00:00:01' }] },
      { operations: [{ type: 'trim', start: 'now' }] },
      { operations: [{ type: 'concat' }] },
      { operations: Array.from({ length: 101 }, () => ({ type: 'trim' })) },
      { options: { priority: 11 } },
      { options: { engine: 'gpu' } },
      { webhook_url: 'not a url' },
      { input: '' },
      { input: 'x'.repeat(2049) },
    ];
    for (const body of bad) {
      expect(ConvertRequestSchema.safeParse({ ...base, ...body }).success, JSON.stringify(body).slice(0, 80)).toBe(false);
    }
  });

  it('accepts the documented shapes', () => {
    const body = {
      input: 'local:media/in.mov',
      output: {
        format: 'webm',
        video: { codec: 'vp9', crf: 33, preset: 'slow', bitrate: 2_000_000, resolution: '1440p', fps: 24 },
        audio: { codec: 'opus', bitrate: '96k', channels: 2, sample_rate: 48000 },
      },
      operations: [{ type: 'trim', start: '00:01:02.500', end: 90 }],
      options: { priority: -10, engine: 'native' },
      webhook_url: 'https://example.com/hook',
    };
    expect(ConvertRequestSchema.parse(body)).toEqual({ ...body, options: { ...body.options, stream_copy: 'auto' } });
  });
});
