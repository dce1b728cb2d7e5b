/**
 * The wasm engine inside workerd (wasm/workerd.ts): the core's module imported as a compiled module, as a Worker
 * would bundle it, runs a tiny job planned by the real planner. The input is made by the core itself (lavfi), since
 * there is no ffmpeg or file system here. Miniflare does not enforce the 128 MB isolate limit, so the memory the
 * instance used is asserted against it instead.
 */
import wasmModule from '@ffmpeg/core/wasm';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config.js';
import type { ProbeResult } from '../../src/engine/engine.js';
import { isPlanProblems, planConvert } from '../../src/media/plan.js';
import type { Progress } from '../../src/media/progress-types.js';
import { ConvertRequestSchema } from '../../src/schemas/convert.js';
import { createWorkerdWasm } from '../../wasm/workerd.js';

const MIB = 1024 ** 2;
const engine = createWorkerdWasm({ module: wasmModule });

async function makeClip(): Promise<Uint8Array> {
  const { outputs } = await engine.run({
    args: [
      '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=1',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=1',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', 'clip.mp4',
    ],
    files: new Map(),
    expectedDurationS: 1,
    timeoutMs: 30_000,
  });
  return outputs.get('clip.mp4')!;
}

describe('wasm engine in workerd', () => {
  it('loads the imported module, runs a planned job and probes its output', async () => {
    const clip = await makeClip();
    const input: ProbeResult = await engine.probe('input', clip);
    expect(input.streams.map((s) => [s.type, s.codec])).toEqual([
      ['video', 'h264'],
      ['audio', 'aac'],
    ]);
    expect(input.streams[0]).toMatchObject({ width: 160, height: 120 });

    const plan = planConvert(ConvertRequestSchema.parse({ input: 'upload:x', output: { format: 'webm', video: { codec: 'vp8' } } }), input, DEFAULT_LIMITS);
    if (isPlanProblems(plan)) throw new Error(JSON.stringify(plan));
    const reports: Progress[] = [];
    const { outputs } = await engine.run({
      args: plan.args,
      files: new Map([['input', clip]]),
      expectedDurationS: plan.expectedDurationS,
      timeoutMs: 30_000,
      onProgress: (p) => reports.push(p),
    });
    expect([...outputs.keys()]).toEqual(['output.webm']);
    expect(reports.at(-1)?.percentage).toBe(100);
    const afterJob = engine.memoryBytes();

    const output = await engine.probe('output.webm', outputs.get('output.webm')!);
    expect(output.format).toContain('webm');
    expect(output.streams.map((s) => s.codec)).toEqual(['vp8', 'opus']);
    expect(output.duration_s).toBeCloseTo(1, 0);

    // The instance's memory (linear memory + files) at its high-water mark, against a Worker's 128 MB (which also
    // holds the compiled code, about as large as the module, and the JS heap).
    console.log(`workerd wasm instance: ${(afterJob / MIB).toFixed(1)} MiB after a 160x120 VP8 job`);
    expect(afterJob).toBeLessThan(64 * MIB);
  });

  it('lists capabilities without what the core cannot run, and refuses what does not fit', async () => {
    const caps = await engine.capabilities();
    expect(caps.encoders).toEqual(expect.arrayContaining(['libx264', 'libvpx', 'libmp3lame', 'aac', 'libopus', 'png']));
    expect(caps.encoders).not.toContain('libvpx-vp9');

    const tooBig = new Uint8Array(100 * MIB);
    await expect(engine.probe('input', tooBig)).rejects.toMatchObject({ code: 'RESOURCE_LIMIT' });
  });
});
