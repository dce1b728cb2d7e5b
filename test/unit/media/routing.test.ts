import { describe, expect, it } from 'vitest';
import { planAssumed } from '../../../src/api/engine-choice.js';
import { convertKind } from '../../../src/kinds/convert.js';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { NODE_STARTUP_MS, SPEED_MODELS, profileOf, type JobProfile } from '../../../src/media/estimate.js';
import { MIN_GAIN_MS, routeJob, type EngineProfile, type Requirements } from '../../../src/media/routing.js';
import { TRANSCODER_STARTUP_MS, WORKERS_WASM_MEMORY_BYTES, WORKERS_WASM_STARTUP_MS } from '../../../src/runtime/worker-engines.js';
import { ConvertRequestSchema } from '../../../src/schemas/convert.js';
import { WASM_EXCLUDED } from '../../../wasm/capabilities.js';

const MIB = 1024 ** 2;

/** What the wasm core lists (the parts these tests use), without what it lists but cannot do. */
const WASM_CAPS: Requirements = {
  encoders: ['libx264', 'libvpx', 'aac', 'libmp3lame', 'libopus', 'libvorbis', 'png', 'mjpeg', 'libwebp', 'flac'],
  decoders: ['h264', 'hevc', 'vp8', 'vp9', 'aac', 'mp3', 'opus', 'png'],
  filters: ['scale', 'fps', 'overlay', 'psnr', 'ssim', 'trim', 'atrim'],
  muxers: ['mp4', 'webm', 'matroska', 'mp3', 'ipod', 'ogg', 'image2', 'wav', 'flac'],
};
const NATIVE_CAPS: Requirements = {
  encoders: [...WASM_CAPS.encoders, 'libx265', 'libvpx-vp9'],
  decoders: [...WASM_CAPS.decoders, 'prores'],
  filters: [...WASM_CAPS.filters, 'drawtext', 'loudnorm'],
  muxers: [...WASM_CAPS.muxers, 'mov'],
};

// As the Node platform describes its engines.
const native: EngineProfile = {
  name: 'native',
  capabilities: NATIVE_CAPS,
  memoryLimitBytes: null,
  startupMs: NODE_STARTUP_MS.native,
  speed: SPEED_MODELS.native,
};
const wasm: EngineProfile = {
  name: 'wasm',
  capabilities: WASM_CAPS,
  excluded: [
    { kind: 'encoder', name: 'libvpx-vp9', reason: 'VP9 encoding crashes in ffmpeg.wasm' },
    { kind: 'encoder', name: 'libx265', reason: 'H.265 encoding never finishes in ffmpeg.wasm' },
  ],
  memoryLimitBytes: 1024 * MIB,
  startupMs: NODE_STARTUP_MS.wasm,
  speed: SPEED_MODELS.wasm,
};
/** Native ffmpeg as a Cloudflare Container: seconds to boot. */
const container: EngineProfile = { ...native, startupMs: 8_000 };
/** The wasm engine inside a 128 MB Worker isolate. */
const workerWasm: EngineProfile = { ...wasm, memoryLimitBytes: 128 * MIB, startupMs: 300 };

const h264: Requirements = { encoders: ['libx264', 'aac'], decoders: ['h264', 'aac'], filters: ['scale'], muxers: ['mp4'] };

function profile(overrides: Partial<JobProfile> = {}): JobProfile {
  return {
    streamCopy: false,
    encoders: ['libx264', 'aac'],
    durationS: 2,
    inputBytes: 200_000,
    inputDurationS: 2,
    frame: { width: 320, height: 240, fps: 25 },
    imageFrames: null,
    preset: null,
    crf: null,
    videoBitrate: null,
    audioBitrate: null,
    ...overrides,
  };
}

describe('routing: the capable engine with the least expected completion time', () => {
  it('picks native on Node when it is installed, and says why', () => {
    const route = routeJob({ requirements: h264, profile: profile() }, [native, wasm]);
    expect(route).toMatchObject({ ok: true, engine: 'native' });
    if (!route.ok) return;
    expect(route.reason).toMatch(/least expected time/);
    const [n, w] = route.candidates;
    expect(n!.expectedMs).toBeLessThan(w!.expectedMs);
  });

  it('picks native for a long job too, and for a stream copy', () => {
    expect(routeJob({ requirements: h264, profile: profile({ durationS: 600, inputDurationS: 600, inputBytes: 100 * MIB }) }, [native, wasm])).toMatchObject({ engine: 'native' });
    const copy = { encoders: [], decoders: [], filters: [], muxers: ['matroska'] };
    const remux = profile({ streamCopy: true, encoders: [], inputBytes: 50 * MIB, durationS: 300, inputDurationS: 300 });
    expect(routeJob({ requirements: copy, profile: remux }, [native, wasm])).toMatchObject({ engine: 'native' });
  });

  it('keeps a tiny job on native when wasm is not clearly faster', () => {
    const mp3 = { encoders: ['libmp3lame'], decoders: ['aac'], filters: [], muxers: ['mp3'] };
    const tiny = profile({ encoders: ['libmp3lame'], frame: null, durationS: 1, inputDurationS: 1 });
    const route = routeJob({ requirements: mp3, profile: tiny }, [native, wasm]);
    expect(route).toMatchObject({ ok: true, engine: 'native' });
    if (!route.ok) return;
    const [n, w] = route.candidates;
    // The model puts them within a few milliseconds of each other; that is no reason to leave native.
    expect(Math.abs(n!.expectedMs - w!.expectedMs)).toBeLessThan(MIN_GAIN_MS);
    expect(route.reason).toMatch(/^preferred: wasm is not clearly faster|^least expected time/);
  });

  it('runs on wasm what wasm can when there is no native ffmpeg', () => {
    const route = routeJob({ requirements: h264, profile: profile() }, [wasm]);
    expect(route).toMatchObject({ ok: true, engine: 'wasm' });
    if (route.ok) expect(route.reason).toMatch(/only engine/);
  });

  it('sends what wasm cannot encode to native, naming what wasm lacks', () => {
    const vp9 = { encoders: ['libvpx-vp9', 'libopus'], decoders: ['h264'], filters: [], muxers: ['webm'] };
    const route = routeJob({ requirements: vp9, profile: profile({ encoders: ['libvpx-vp9', 'libopus'] }) }, [native, wasm]);
    expect(route).toMatchObject({ ok: true, engine: 'native' });
    if (route.ok) expect(route.reason).toContain('libvpx-vp9');
  });

  it('refuses a job no engine can run, naming the missing capability and why', () => {
    const h265 = { encoders: ['libx265'], decoders: [], filters: [], muxers: ['mp4'] };
    const route = routeJob({ requirements: h265, profile: profile({ encoders: ['libx265'] }) }, [wasm]);
    expect(route).toMatchObject({ ok: false, code: 'ENGINE_INCAPABLE', available: ['wasm'] });
    if (route.ok) return;
    expect(route.missing).toEqual([expect.objectContaining({ kind: 'encoder', name: 'libx265' })]);
    expect(route.message).toContain('libx265');
    expect(route.message).toContain('never finishes');
  });

  it('names a capability an engine simply does not have', () => {
    const loud = { encoders: ['aac'], decoders: [], filters: ['loudnorm'], muxers: ['ipod'] };
    const route = routeJob({ requirements: loud, profile: profile({ encoders: ['aac'], frame: null }) }, [wasm]);
    expect(route).toMatchObject({ ok: false, missing: [{ kind: 'filter', name: 'loudnorm', reason: 'no filter loudnorm' }] });
  });

  it('checks decoders and muxers as well as encoders and filters', () => {
    const prores = { ...h264, decoders: ['prores'] };
    expect(routeJob({ requirements: prores, profile: profile() }, [native, wasm])).toMatchObject({ engine: 'native' });
    const mov = { ...h264, muxers: ['mov'] };
    expect(routeJob({ requirements: mov, profile: profile() }, [wasm])).toMatchObject({ ok: false, missing: [{ kind: 'muxer', name: 'mov' }] });
  });

  it('keeps a job that does not fit in its memory off wasm', () => {
    const big = profile({ inputBytes: 1500 * MIB, durationS: 600, inputDurationS: 600 });
    expect(routeJob({ requirements: h264, profile: big }, [native, wasm])).toMatchObject({ engine: 'native' });
    const alone = routeJob({ requirements: h264, profile: big }, [wasm]);
    expect(alone).toMatchObject({ ok: false, missing: [{ kind: 'memory' }] });
    if (!alone.ok) expect(alone.message).toMatch(/MiB/);
  });

  it('counts the frames in flight: 4K does not fit a Worker isolate, 240p does', () => {
    const uhd = profile({ frame: { width: 3840, height: 2160, fps: 30 }, inputBytes: 5 * MIB });
    expect(routeJob({ requirements: h264, profile: uhd }, [workerWasm])).toMatchObject({ ok: false, missing: [{ kind: 'memory' }] });
    expect(routeJob({ requirements: h264, profile: profile() }, [workerWasm])).toMatchObject({ ok: true, engine: 'wasm' });
  });

  it('on Workers, wasm wins a small job because a container takes seconds to start', () => {
    expect(routeJob({ requirements: h264, profile: profile() }, [container, workerWasm])).toMatchObject({ engine: 'wasm' });
  });

  it('on Workers, a long job goes to the container: its start-up is paid back by its speed', () => {
    const long = profile({ durationS: 300, inputDurationS: 300, inputBytes: 30 * MIB, frame: { width: 640, height: 360, fps: 30 } });
    expect(routeJob({ requirements: h264, profile: long }, [container, { ...workerWasm, memoryLimitBytes: 1024 * MIB }])).toMatchObject({ engine: 'native' });
  });

  it('with an unknown duration, estimates one from the input size', () => {
    const unknown = profile({ durationS: null, inputDurationS: null, frame: null, inputBytes: 300 * MIB });
    const route = routeJob({ requirements: h264, profile: unknown }, [container, { ...workerWasm, memoryLimitBytes: 2048 * MIB }]);
    expect(route).toMatchObject({ engine: 'native' });
  });
});

describe('routing: options.engine', () => {
  it('forces a capable engine even when another would be faster', () => {
    const route = routeJob({ requirements: h264, profile: profile(), forced: 'wasm' }, [native, wasm]);
    expect(route).toMatchObject({ ok: true, engine: 'wasm' });
    if (route.ok) expect(route.reason).toMatch(/forced by options\.engine/);
  });

  it('refuses a forced engine that cannot run the job, naming the capability', () => {
    const vp9 = { encoders: ['libvpx-vp9'], decoders: [], filters: [], muxers: ['webm'] };
    const route = routeJob({ requirements: vp9, profile: profile({ encoders: ['libvpx-vp9'] }), forced: 'wasm' }, [native, wasm]);
    expect(route).toMatchObject({ ok: false, code: 'ENGINE_INCAPABLE', missing: [{ kind: 'encoder', name: 'libvpx-vp9' }] });
    if (!route.ok) expect(route.message).toMatch(/^engine wasm cannot run this job: no working encoder libvpx-vp9/);
  });

  it('refuses a forced engine that is not available here', () => {
    const route = routeJob({ requirements: h264, profile: profile(), forced: 'native' }, [wasm]);
    expect(route).toMatchObject({ ok: false, code: 'ENGINE_UNAVAILABLE', available: ['wasm'], missing: [{ kind: 'engine', name: 'native' }] });
  });

  it('with no engine at all, refuses every job', () => {
    expect(routeJob({ requirements: h264, profile: profile() }, [])).toMatchObject({ ok: false, code: 'ENGINE_INCAPABLE', available: [] });
  });
});

describe('routing on Workers, at submission (the profiles src/runtime/worker-engines.ts gives)', () => {
  /** As src/api/route.ts routes a POST /convert: planned against assumed probes, with the upload's size. */
  function routeAtSubmission(output: unknown, inputBytes: number) {
    const request = ConvertRequestSchema.parse({ input: 'upload:x', output });
    const plan = planAssumed(convertKind, request, DEFAULT_LIMITS);
    if (!plan) throw new Error('not plannable before the probe');
    const needs = plan.requirements;
    const all: Requirements = { encoders: [...needs.encoders], decoders: [...needs.decoders], filters: [...needs.filters], muxers: [...needs.muxers] };
    const excluded = (kind: string, name: string) => WASM_EXCLUDED.some((e) => e.kind === kind && e.name === name);
    const wasmCaps: Requirements = {
      encoders: all.encoders.filter((n) => !excluded('encoder', n)),
      decoders: all.decoders,
      filters: all.filters.filter((n) => !excluded('filter', n)),
      muxers: all.muxers,
    };
    const engines: EngineProfile[] = [
      { name: 'native', capabilities: all, memoryLimitBytes: null, startupMs: TRANSCODER_STARTUP_MS, speed: SPEED_MODELS.native },
      {
        name: 'wasm',
        capabilities: wasmCaps,
        excluded: WASM_EXCLUDED,
        memoryLimitBytes: WORKERS_WASM_MEMORY_BYTES,
        startupMs: WORKERS_WASM_STARTUP_MS,
        speed: SPEED_MODELS.wasm,
      },
    ];
    return routeJob({ requirements: needs, profile: profileOf({ plan, probe: null, request, inputBytes }) }, engines);
  }

  /** test/helpers/media.ts makeClip(): 2 s of 320x240 x264 + AAC, about 200 kB. */
  const SMALL_CLIP_BYTES = 200_000;

  it('runs a small video job at the edge: a 2 s 320x240 clip to 240p MP4 goes to the wasm Worker', () => {
    // Inside workerd this job takes 46.4 MiB of the wasm engine (test/workers/wasm-memory.test.ts); the estimate is
    // about 77 MiB before the probe (the input assumed 720p), within the wasm Worker's 96 MiB.
    const route = routeAtSubmission({ format: 'mp4', video: { resolution: '240p' } }, SMALL_CLIP_BYTES);
    expect(route).toMatchObject({ ok: true, engine: 'wasm' });
    if (!route.ok) return;
    const wasm = route.candidates.find((c) => c.engine === 'wasm')!;
    expect(wasm.memoryBytes).toBeLessThan(WORKERS_WASM_MEMORY_BYTES);
    expect(wasm.memoryBytes).toBeGreaterThan(46.4 * MIB);
  });

  it('runs audio at the edge', () => {
    expect(routeAtSubmission({ format: 'mp3' }, SMALL_CLIP_BYTES)).toMatchObject({ ok: true, engine: 'wasm' });
  });

  it('sends H.264 at 360p and up, or at the input size, to the container: it does not fit', () => {
    // 720p took 200.9 MiB inside workerd; 480p 116.0 MiB.
    for (const video of [{}, { resolution: '720p' }, { resolution: '480p' }, { resolution: '360p' }, { resolution: '1080p' }]) {
      const route = routeAtSubmission({ format: 'mp4', video }, SMALL_CLIP_BYTES);
      expect(route, JSON.stringify(video)).toMatchObject({ ok: true, engine: 'native' });
      if (route.ok) expect(route.reason).toMatch(/MiB of memory, more than the 96 MiB wasm may use/);
    }
  });

  it('sends a large input to the container even at 240p', () => {
    const route = routeAtSubmission({ format: 'mp4', video: { resolution: '240p' } }, 60 * MIB);
    expect(route).toMatchObject({ ok: true, engine: 'native' });
  });

  it('sends VP9 to the container whatever its size', () => {
    const route = routeAtSubmission({ format: 'webm', video: { codec: 'vp9', resolution: '240p' } }, SMALL_CLIP_BYTES);
    expect(route).toMatchObject({ ok: true, engine: 'native' });
    if (route.ok) expect(route.reason).toContain('libvpx-vp9');
  });
});
