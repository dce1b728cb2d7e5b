import { describe, expect, it } from 'vitest';
import {
  ASSUMED,
  DECODE_BYTES_PER_PIXEL,
  SPEED_MODELS,
  WASM_BASE_BYTES,
  encoderKind,
  expectedMemoryBytes,
  expectedOutputBytes,
  expectedWorkMs,
  profileOf,
  withAssumptions,
  type JobProfile,
} from '../../../src/media/estimate.js';

function profile(overrides: Partial<JobProfile> = {}): JobProfile {
  return {
    streamCopy: false,
    encoders: ['libx264', 'aac'],
    durationS: 10,
    inputBytes: 2_000_000,
    inputDurationS: 10,
    frame: { width: 640, height: 360, fps: 25 },
    imageFrames: null,
    preset: null,
    crf: null,
    videoBitrate: null,
    audioBitrate: null,
    ...overrides,
  };
}

const { native, wasm } = SPEED_MODELS;

describe('estimate: processing time', () => {
  it('grows with the duration and the frame size', () => {
    const short = expectedWorkMs(native, profile({ durationS: 5 }))!;
    const long = expectedWorkMs(native, profile({ durationS: 50 }))!;
    const large = expectedWorkMs(native, profile({ frame: { width: 1920, height: 1080, fps: 25 } }))!;
    expect(long).toBeGreaterThan(short * 5);
    expect(large).toBeGreaterThan(expectedWorkMs(native, profile())!);
  });

  it('is longer on wasm than on native for a video encode', () => {
    expect(expectedWorkMs(wasm, profile())!).toBeGreaterThan(expectedWorkMs(native, profile())!);
  });

  it('follows the preset', () => {
    const fast = expectedWorkMs(native, profile({ preset: 'ultrafast' }))!;
    const slow = expectedWorkMs(native, profile({ preset: 'veryslow' }))!;
    expect(fast).toBeLessThan(expectedWorkMs(native, profile())!);
    expect(slow).toBeGreaterThan(expectedWorkMs(native, profile())!);
  });

  it('counts one image for a thumbnail, not every frame', () => {
    const thumb = profile({ encoders: ['png'], imageFrames: 1 });
    const everyFrame = profile({ encoders: ['png'], imageFrames: null });
    expect(expectedWorkMs(native, thumb)!).toBeLessThan(expectedWorkMs(native, everyFrame)!);
  });

  it('moves bytes for a stream copy, only the part a trim keeps', () => {
    const whole = expectedWorkMs(native, profile({ streamCopy: true, encoders: [], inputBytes: 400_000_000 }))!;
    const half = expectedWorkMs(native, profile({ streamCopy: true, encoders: [], inputBytes: 400_000_000, durationS: 5 }))!;
    expect(half - native.runOverheadMs).toBeCloseTo((whole - native.runOverheadMs) / 2, 5);
    expect(whole).toBeLessThan(expectedWorkMs(native, profile({ inputBytes: 400_000_000 }))!);
  });

  it('is unknown without a duration (or, for a copy, without a size)', () => {
    expect(expectedWorkMs(native, profile({ durationS: null }))).toBeNull();
    expect(expectedWorkMs(native, profile({ streamCopy: true, inputBytes: null }))).toBeNull();
  });

  it('tells audio, image and video encoders apart', () => {
    expect(['aac', 'libmp3lame', 'libopus', 'flac', 'pcm_s16le'].map(encoderKind)).toEqual(['audio', 'audio', 'audio', 'audio', 'audio']);
    expect(['png', 'mjpeg', 'libwebp', 'gif'].map(encoderKind)).toEqual(['image', 'image', 'image', 'image']);
    expect(['libx264', 'libvpx', 'something-new'].map(encoderKind)).toEqual(['video', 'video', 'video']);
  });
});

describe('estimate: output size', () => {
  it('is the bitrates times the duration when the request sets them', () => {
    const bytes = expectedOutputBytes(profile({ videoBitrate: 1_000_000, audioBitrate: 128_000, durationS: 8 }))!;
    expect(bytes).toBe(((1_000_000 + 128_000) * 8) / 8);
  });

  it('halves the video for six CRF steps up', () => {
    const video = (crf: number | null) => expectedOutputBytes(profile({ encoders: ['libx264'], crf }))!;
    expect(video(29) / video(23)).toBeCloseTo(0.5, 5);
    expect(video(null)).toBe(video(23));
  });

  it('is the kept share of the input for a stream copy', () => {
    expect(expectedOutputBytes(profile({ streamCopy: true, encoders: [], inputBytes: 1_000_000, durationS: 2.5 }))).toBe(250_000);
  });

  it('counts audio alone for an audio output, and images per frame written', () => {
    expect(expectedOutputBytes(profile({ encoders: ['libmp3lame'], frame: null, durationS: 10 }))).toBe((128_000 * 10) / 8);
    const one = expectedOutputBytes(profile({ encoders: ['png'], imageFrames: 1 }))!;
    const three = expectedOutputBytes(profile({ encoders: ['png'], imageFrames: 3 }))!;
    expect(three).toBe(one * 3);
  });

  it('is unknown without a duration', () => {
    expect(expectedOutputBytes(profile({ durationS: null }))).toBeNull();
  });
});

describe('estimate: memory on the wasm engine', () => {
  it('holds the input, the output and the frames in flight', () => {
    const base = expectedMemoryBytes(profile());
    expect(expectedMemoryBytes(profile({ inputBytes: 102_000_000 }))).toBe(base + 100_000_000);
    expect(expectedMemoryBytes(profile({ frame: { width: 3840, height: 2160, fps: 25 } }))).toBeGreaterThan(base + 500 * 1024 ** 2);
  });

  it('counts the encoder per output pixel, more for slower x264 presets, and the decoder at the source size', () => {
    const at = (overrides: Partial<JobProfile>) => expectedMemoryBytes(profile({ inputBytes: 0, durationS: 0, ...overrides }));
    const small = at({ frame: { width: 320, height: 240, fps: 25 } });
    const large = at({ frame: { width: 1280, height: 720, fps: 25 } });
    expect(large - WASM_BASE_BYTES).toBeCloseTo((small - WASM_BASE_BYTES) * 12, -3);
    expect(at({ preset: 'veryslow' })).toBeGreaterThan(at({ preset: 'medium' }));
    expect(at({ preset: 'ultrafast' })).toBeLessThan(at({ preset: 'fast' }));
    const fromHd = at({ frame: { width: 426, height: 240, fps: 25 }, source: { width: 1920, height: 1080 } });
    expect(fromHd - at({ frame: { width: 426, height: 240, fps: 25 }, source: { width: 426, height: 240 } })).toBe(
      (1920 * 1080 - 426 * 240) * DECODE_BYTES_PER_PIXEL,
    );
  });

  it('holds no frames for a stream copy or an audio job', () => {
    const copy = expectedMemoryBytes(profile({ streamCopy: true, encoders: [] }));
    const audio = expectedMemoryBytes(profile({ encoders: ['aac'] }));
    expect(copy).toBeLessThan(expectedMemoryBytes(profile()));
    expect(audio).toBeLessThan(expectedMemoryBytes(profile()));
  });
});

describe('estimate: profiles', () => {
  it('fills what a probe would say from the input size before the probe', () => {
    const filled = withAssumptions(profile({ durationS: null, inputDurationS: null, frame: null, inputBytes: ASSUMED.inputBytesPerS * 40 }));
    expect(filled.durationS).toBe(40);
    expect(filled.frame).toEqual({ width: ASSUMED.width, height: ASSUMED.height, fps: ASSUMED.fps });
    expect(withAssumptions(profile({ encoders: ['aac'], frame: null })).frame).toBeNull();
  });

  const plan = { args: ['-i', 'input', '-frames:v', '3', 'thumb-%03d.png'], streamCopy: false, expectedDurationS: 4, requirements: { encoders: ['png'] } };
  const probe = {
    duration_s: 6,
    size: 1_000_000,
    streams: [
      { type: 'video', width: 1280, height: 720, fps: 30 },
      { type: 'audio' },
    ],
  };

  it('reads the plan, the probe and the output hints of the request', () => {
    const request = { output: { format: 'mp4', video: { resolution: '480p', preset: 'fast', crf: 26, bitrate: '2.5M' }, audio: { bitrate: '96k' } } };
    expect(profileOf({ plan, probe, request, inputBytes: null })).toEqual({
      streamCopy: false,
      encoders: ['png'],
      durationS: 4,
      inputBytes: 1_000_000,
      inputDurationS: 6,
      frame: { width: 853, height: 480, fps: 30 },
      source: { width: 1280, height: 720 },
      imageFrames: 3,
      preset: 'fast',
      crf: 26,
      videoBitrate: 2_500_000,
      audioBitrate: 96_000,
    });
  });

  it('bounds the frame by a named resolution before the probe, from the assumed 720p input', () => {
    const request = { output: { format: 'mp4', video: { resolution: '240p' } } };
    expect(profileOf({ plan, probe: null, request, inputBytes: 200_000 })).toMatchObject({ frame: { width: 427, height: 240, fps: 30 }, source: null });
    expect(withAssumptions(profileOf({ plan, probe: null, request, inputBytes: 200_000 })).source).toEqual({ width: 1280, height: 720 });
    const up = { output: { format: 'mp4', video: { resolution: '1080p' } } };
    expect(profileOf({ plan, probe: null, request: up, inputBytes: null }).frame).toEqual({ width: 1280, height: 720, fps: 30 });
  });

  it('takes an exact resolution and fps from the request, and the input size it is given', () => {
    const request = { output: { format: 'webm', video: { resolution: '320x240', fps: 15 } } };
    expect(profileOf({ plan, probe, request, inputBytes: 5 })).toMatchObject({ frame: { width: 320, height: 240, fps: 15 }, inputBytes: 5 });
  });

  it('keeps the input frame without a resolution, never scales up, and knows nothing without a probe', () => {
    expect(profileOf({ plan, probe, request: { output: 'mp4' }, inputBytes: null }).frame).toEqual({ width: 1280, height: 720, fps: 30 });
    const up = { output: { format: 'mp4', video: { resolution: '1080p' } } };
    expect(profileOf({ plan, probe, request: up, inputBytes: null }).frame).toEqual({ width: 1280, height: 720, fps: 30 });
    expect(profileOf({ plan, probe: null, request: { output: 'mp4' }, inputBytes: null })).toMatchObject({ frame: null, inputDurationS: null });
  });

  it('sizes an exact resolution as the planner does: within the input unless upscale is asked for', () => {
    const exact = { output: { format: 'mp4', video: { resolution: '1920x1080' } } };
    expect(profileOf({ plan, probe, request: exact, inputBytes: null }).frame).toEqual({ width: 1280, height: 720, fps: 30 });
    const up = { output: { format: 'mp4', video: { resolution: '1080p', upscale: true } } };
    expect(profileOf({ plan, probe, request: up, inputBytes: null }).frame).toEqual({ width: 1920, height: 1080, fps: 30 });
  });
});
