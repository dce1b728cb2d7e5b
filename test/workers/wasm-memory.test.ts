/**
 * What the wasm engine really holds inside workerd, against what routing expects (src/media/estimate.ts) and what
 * the wasm Worker may use (WORKERS_WASM_MEMORY_BYTES): each job runs on a fresh instance of wasm/workerd.ts, as a
 * new wasm Worker isolate would, and its memoryBytes() is the high-water mark of the core's linear memory (it never
 * shrinks) plus its files. Miniflare does not enforce the isolate's 128 MB, so the figures are compared instead.
 *
 * Measured here (2 s clips unless said): idle instance 32.0 MiB; 320x240 -> 240p MP4 (x264 medium + AAC) 46.4 MiB;
 * 320x240 -> VP8 WebM 32.4; 640x360 (4 s) -> 360p MP4 81.1; 1280x720 -> 240p MP4 from an x264-medium source 67.9;
 * 1280x720 -> 720p MP4 200.9. The constants of estimate.ts come from these and the preset sweep noted there.
 */
import wasmModule from '@ffmpeg/core/wasm';
import { describe, expect, it } from 'vitest';
import { planAssumed } from '../../src/api/engine-choice.js';
import { convertKind } from '../../src/kinds/convert.js';
import { DEFAULT_LIMITS } from '../../src/config.js';
import { expectedMemoryBytes, profileOf, withAssumptions } from '../../src/media/estimate.js';
import { isPlanProblems, planConvert } from '../../src/media/plan.js';
import { WORKERS_WASM_MEMORY_BYTES } from '../../src/runtime/worker-engines.js';
import { ConvertRequestSchema } from '../../src/schemas/convert.js';
import { createWorkerdWasm } from '../../wasm/workerd.js';

const MIB = 1024 ** 2;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
/** Makes the inputs; big enough for any of them, and never the instance a job is measured on. */
const maker = createWorkerdWasm({ module: wasmModule, memoryLimitBytes: 1024 * MIB });

async function clip(size: string, seconds: number, preset = 'ultrafast'): Promise<Uint8Array> {
  const { outputs } = await maker.run({
    args: [
      '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25:duration=${seconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
      '-c:v', 'libx264', '-preset', preset, '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', 'clip.mp4',
    ],
    files: new Map(),
    expectedDurationS: seconds,
    timeoutMs: 120_000,
  });
  return outputs.get('clip.mp4')!;
}

/** Runs one planned job on a fresh instance; returns what it used and what routing expected, before and after a probe. */
async function measure(input: Uint8Array, output: unknown) {
  const engine = createWorkerdWasm({ module: wasmModule, memoryLimitBytes: 1024 * MIB });
  const probe = await engine.probe('input', input);
  // Re-encoded whatever the sizes: a resolution equal to the input's would otherwise be a stream copy.
  const request = ConvertRequestSchema.parse({ input: 'upload:x', output, options: { stream_copy: 'never' } });
  const plan = planConvert(request, [probe], DEFAULT_LIMITS);
  if (isPlanProblems(plan)) throw new Error(JSON.stringify(plan));
  const { outputs } = await engine.run({ args: plan.args, files: new Map([['input', input]]), expectedDurationS: plan.expectedDurationS, timeoutMs: 120_000 });
  expect(outputs.size).toBe(1);
  const used = engine.memoryBytes();
  // At submission (src/api/route.ts): planned against assumed probes, with the upload's size; routing fills the rest.
  const assumed = planAssumed(convertKind, request, DEFAULT_LIMITS)!;
  const atSubmission = expectedMemoryBytes(withAssumptions(profileOf({ plan: assumed, probe: null, request, inputBytes: input.byteLength })));
  const afterProbe = expectedMemoryBytes(withAssumptions(profileOf({ plan, probe, request, inputBytes: input.byteLength })));
  console.log(`${JSON.stringify(output)}: used ${mib(used)}, expected ${mib(atSubmission)} at submission, ${mib(afterProbe)} after the probe`);
  return { used, atSubmission, afterProbe };
}

describe('wasm engine memory in workerd, against the estimate', () => {
  it('a 2 s 320x240 clip to 240p MP4 fits the wasm Worker, and the estimate says so', async () => {
    const { used, atSubmission, afterProbe } = await measure(await clip('320x240', 2), { format: 'mp4', video: { resolution: '240p' } });
    expect(used).toBeLessThan(WORKERS_WASM_MEMORY_BYTES);
    expect(atSubmission).toBeGreaterThanOrEqual(used);
    expect(atSubmission).toBeLessThan(WORKERS_WASM_MEMORY_BYTES);
    expect(afterProbe).toBeGreaterThanOrEqual(used);
  }, 180_000);

  it('VP8 at 320x240 fits too', async () => {
    const { used, atSubmission, afterProbe } = await measure(await clip('320x240', 2), { format: 'webm', video: { codec: 'vp8' } });
    expect(used).toBeLessThan(WORKERS_WASM_MEMORY_BYTES);
    expect(Math.min(atSubmission, afterProbe)).toBeGreaterThanOrEqual(used);
  }, 180_000);

  it('the estimate stays above what 360p and a 720p source really take', async () => {
    const sd = await measure(await clip('640x360', 4), { format: 'mp4', video: { resolution: '360p' } });
    expect(sd.afterProbe).toBeGreaterThanOrEqual(sd.used);
    // A source with B-frames and references, as cameras and encoders write them: the decoder holds its frames.
    const hd = await measure(await clip('1280x720', 2, 'medium'), { format: 'mp4', video: { resolution: '240p' } });
    expect(hd.afterProbe).toBeGreaterThanOrEqual(hd.used);
  }, 180_000);

  it('720p H.264 needs more than the wasm Worker has, and the estimate says so before the probe', async () => {
    const { used, atSubmission, afterProbe } = await measure(await clip('1280x720', 2), { format: 'mp4', video: { resolution: '720p' } });
    expect(used).toBeGreaterThan(WORKERS_WASM_MEMORY_BYTES);
    expect(atSubmission).toBeGreaterThan(WORKERS_WASM_MEMORY_BYTES);
    expect(afterProbe).toBeGreaterThanOrEqual(used);
  }, 180_000);
});
