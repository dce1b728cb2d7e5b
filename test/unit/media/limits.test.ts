/** Limits per key tier (audit #30), bounded bitrates (audit #14), zero and unknown durations (audit #21). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, limitsForTier, loadConfig } from '../../../src/config.js';
import { ConvertRequestSchema } from '../../../src/schemas/convert.js';
import { parseArgv } from './ffmpeg-syntax.js';
import { MAIN, expectPlan, expectProblems, hd, plan, validate } from './support.js';

describe('audit #30: limits per key tier', () => {
  const config = loadConfig({
    FFEDGE_TIERS: 'free,pro',
    FFEDGE_TIER_FREE_FPS_LIMIT: '30',
    FFEDGE_TIER_FREE_OUTPUT_PIXELS_LIMIT: String(1280 * 720),
    FFEDGE_TIER_FREE_BITRATE_LIMIT: '4000000',
    FFEDGE_TIER_FREE_INPUT_DURATION_LIMIT: '60',
    FFEDGE_TIER_FREE_OPERATIONS_LIMIT: '3',
    FFEDGE_TIER_FREE_OUTPUTS_LIMIT: '5',
    FFEDGE_TIER_PRO_FPS_LIMIT: '240',
    FFEDGE_FPS_LIMIT: '60',
  });
  const free = limitsForTier(config, 'free');

  it('a tier sets what it names and inherits the rest from the default tier', () => {
    expect(free).toMatchObject({ maxFps: 30, outputPixels: 1280 * 720, maxBitrate: 4_000_000, inputDurationS: 60, operations: 3, outputs: 5 });
    expect(free.concurrentJobs).toBe(config.limits.concurrentJobs);
    expect(limitsForTier(config, 'pro').maxFps).toBe(240);
    expect(config.limits.maxFps).toBe(60);
    // An unknown or missing tier gets the default tier, never another key's.
    expect(limitsForTier(config, 'standard')).toBe(config.limits);
    expect(limitsForTier(config, undefined)).toBe(config.limits);
    expect(limitsForTier(config, '__proto__')).toBe(config.limits);
    expect(() => loadConfig({ FFEDGE_TIERS: 'Free!' })).toThrow(/tier name/);
    expect(() => loadConfig({ FFEDGE_TIERS: 'free', FFEDGE_TIER_FREE_FPS_LIMIT: '1000' })).toThrow(/between/);
  });

  it('the tier bounds frame size, fps, bitrate, duration, operations and outputs, at submission', () => {
    expect(validate({ output: { format: 'mp4', video: { resolution: '1080p', fps: 60, bitrate: '5M' } } }, free).map((p) => [p.code, p.pointer])).toEqual([
      ['LIMIT_EXCEEDED', '/output/video/bitrate'],
      ['LIMIT_EXCEEDED', '/output/video/fps'],
      ['LIMIT_EXCEEDED', '/output/video/resolution'],
    ]);
    expect(validate({ output: 'mp4', operations: [{ type: 'fps', fps: 50 }] }, free)).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/operations/0/fps' }]);
    expect(validate({ output: 'mp4', operations: [{ type: 'resize', width: 1920, height: 1080 }] }, free)).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/operations/0' }]);
    expect(validate({ output: 'mp4', operations: [{ type: 'blur' }, { type: 'sharpen' }, { type: 'denoise' }, { type: 'hue', degrees: 1 }] }, free)).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations' },
    ]);
    expect(validate({ output: 'jpg', operations: [{ type: 'thumbnails', count: 6 }] }, free)).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/operations/0/count' }]);
    // The same requests pass with the default tier.
    expect(validate({ output: { format: 'mp4', video: { resolution: '1080p', fps: 60, bitrate: '5M' } } }, config.limits)).toEqual([]);
  });

  it('the tier bounds what the probe shows: input duration and frame size', () => {
    expect(expectProblems(plan({ output: 'mp4' }, { limits: free, probes: { [MAIN]: hd({ duration_s: 61 }) } }))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/input' },
      { code: 'LIMIT_EXCEEDED', pointer: '/output', suggestion: 'set output.video.resolution to 720p' },
    ]);
    const other = MAIN.replace(/e$/, 'f');
    const joined = expectProblems(
      plan({ output: 'mp4', operations: [{ type: 'concat', inputs: [other] }] }, { limits: free, probes: { [MAIN]: hd({ duration_s: 40 }), [other]: hd({ duration_s: 40 }) } }),
    );
    expect(joined.filter((p) => p.pointer === '/operations')).toMatchObject([{ code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/output would last 80 s/) }]);
  });

  it('audit #30: a sprite sheet is one image bounded like a frame, refused at submission when it cannot fit', () => {
    // 50 columns of 1,280 px tiles make a sheet 64,000 px wide, whatever the input.
    expect(validate({ output: 'jpg', operations: [{ type: 'sprite', count: 1000, tile_width: 1280, columns: 50 }] })).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations/0', message: expect.stringContaining('64000x') },
    ]);
    // Within 8K but over the tier's pixels: 10 x 10 tiles of 160x90 are 1600x900.
    expect(validate({ output: 'jpg', operations: [{ type: 'sprite', count: 100, columns: 10 }] }, free)).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations/0' },
    ]);
    expect(validate({ output: 'jpg', operations: [{ type: 'sprite' }] }, free)).toEqual([]);
    // Once probed, the input's own aspect ratio sizes the tiles: 4:3 tiles make the same sheet taller.
    const fourThree = hd({ streams: [{ index: 0, type: 'video', codec: 'h264', width: 960, height: 720, fps: 25, duration_s: 10 }] });
    const sprite = { output: 'jpg', operations: [{ type: 'sprite', count: 64, columns: 8 }] };
    expect(validate(sprite, free)).toEqual([]);
    expect(expectProblems(plan(sprite, { limits: free, probes: { [MAIN]: fourThree } }))).toMatchObject([
      { code: 'LIMIT_EXCEEDED', pointer: '/operations/0', message: expect.stringContaining('1280x960') },
    ]);
  });

  it('audit #30: every image output is bounded by the tier’s pixels: thumbnails, GIF and WebP frames, stills', () => {
    const cases: Record<string, unknown>[] = [
      { output: 'jpg', operations: [{ type: 'thumbnails', count: 3 }] },
      { output: 'png', operations: [{ type: 'thumbnails', at: [1] }] },
      { output: 'gif' },
      { output: 'webp' },
      { output: 'png' },
      { output: 'jpg' },
    ];
    for (const body of cases) {
      // A 1080p input is over the free tier's 720p for every one of them...
      expect(expectProblems(plan(body, { limits: free })), JSON.stringify(body)).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/output' }]);
      // ...and fits once scaled down; a larger frame asked for is refused at submission.
      const down = { ...body, operations: [{ type: 'resize', size: '720p' }, ...((body.operations as object[]) ?? [])] };
      expect(expectPlan(plan(down, { limits: free })).outputs.length, JSON.stringify(down)).toBeGreaterThan(0);
      const up = { ...body, operations: [{ type: 'resize', width: 1920, height: 1080, upscale: true }, ...((body.operations as object[]) ?? [])] };
      expect(validate(up, free), JSON.stringify(up)).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/operations/0' }]);
    }
  });

  it('no tier goes beyond 8K in either orientation', () => {
    const generous = { ...DEFAULT_LIMITS, outputPixels: 8192 * 8192 };
    expect(validate({ output: { format: 'mp4', video: { resolution: '8192x2160' } } }, generous)).toMatchObject([{ code: 'LIMIT_EXCEEDED' }]);
    expect(validate({ output: 'mp4', operations: [{ type: 'resize', width: 4320, height: 7680 }] }, generous)).toEqual([]);
    expect(validate({ output: 'mp4', operations: [{ type: 'resize', width: 4322, height: 7680 }] }, generous)).toMatchObject([{ code: 'LIMIT_EXCEEDED' }]);
    expect(ConvertRequestSchema.safeParse({ input: MAIN, output: 'mp4', operations: [{ type: 'resize', width: 7682 }] }).success).toBe(false);
  });
});

describe('audit #14: bitrates are bounded integers', () => {
  it('absurd, malformed or fractional bitrates are refused; good ones reach ffmpeg as plain integers', () => {
    for (const bitrate of ['1e309', '99999999999999999999999k', '0.5', '1.0001k', '-5M', 'NaN', '2,5M', '0x10']) {
      expect(ConvertRequestSchema.safeParse({ input: MAIN, output: { format: 'mp4', video: { bitrate } } }).success, bitrate).toBe(false);
    }
    expect(expectPlan(plan({ output: { format: 'mp4', video: { bitrate: '2.5M' }, audio: { bitrate: '96k' } } })).args.join(' ')).toContain(
      '-b:v 2500000',
    );
    expect(validate({ output: { format: 'mp4', video: { bitrate: '900M' } } })).toMatchObject([{ code: 'LIMIT_EXCEEDED', pointer: '/output/video/bitrate' }]);
  });

  it('any string either is refused or becomes an integer within the tier limit', () => {
    const limits = { ...DEFAULT_LIMITS, maxBitrate: 8_000_000 };
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^\d{1,12}(\.\d{1,4})?[kKmMgG]?$/));
    fc.assert(
      fc.property(text, (bitrate) => {
        const parsed = ConvertRequestSchema.safeParse({ input: MAIN, output: { format: 'mp4', video: { bitrate } } });
        if (!parsed.success) return;
        const result = plan({ output: { format: 'mp4', video: { bitrate } } }, { limits });
        if (Array.isArray(result)) {
          expect(result.every((p) => p.code === 'LIMIT_EXCEEDED' || p.code === 'INVALID_BITRATE')).toBe(true);
          return;
        }
        const value = parseArgv(result.args).options.find(([option]) => option === '-b:v')![1]!;
        expect(value).toMatch(/^[1-9]\d*$/);
        expect(Number(value)).toBeLessThanOrEqual(limits.maxBitrate);
      }),
      { numRuns: 500 },
    );
  });
});

describe('audit #21: zero and unknown durations', () => {
  const durations = [null, 0, Number.NaN, Number.POSITIVE_INFINITY, -1];

  it('give a null expected duration, never NaN or Infinity, in every pass', () => {
    const bodies = [
      { output: 'mp4', operations: [{ type: 'speed', factor: 2 }] },
      { output: 'mp3', operations: [{ type: 'loudnorm' }] },
      { output: 'mp4', operations: [{ type: 'stabilize' }, { type: 'trim', start: 1, end: 2 }] },
      { output: 'gif', operations: [{ type: 'fps', fps: 5 }] },
      { output: 'jpg', operations: [{ type: 'thumbnails', at: [0] }] },
    ];
    for (const duration_s of durations) {
      for (const body of bodies) {
        const result = expectPlan(plan(body, { probes: { [MAIN]: hd({ duration_s }) } }));
        for (const pass of result.passes) expect(pass.expectedDurationS, `${duration_s} ${JSON.stringify(body)}`).toBeNull();
        expect(result.args.join(' ')).not.toMatch(/NaN|Infinity/);
      }
    }
  });

  it('refuse what needs a duration, with a problem instead of a crash', () => {
    for (const duration_s of durations) {
      const probes = { [MAIN]: hd({ duration_s }) };
      expect(expectProblems(plan({ output: 'jpg', operations: [{ type: 'thumbnails', count: 3 }] }, { probes }))).toMatchObject([
        { code: 'UNSUPPORTED_INPUT', pointer: '/operations/0/count' },
      ]);
      expect(expectProblems(plan({ output: 'jpg', operations: [{ type: 'sprite' }] }, { probes }))).toMatchObject([{ code: 'UNSUPPORTED_INPUT', pointer: '/operations/0' }]);
    }
  });
});
