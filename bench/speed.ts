/**
 * Calibrates the speed model of src/media/estimate.ts: runs the same small jobs on native ffmpeg and on the wasm
 * engine, in one process and one run, and prints
 *   - the best time of each job on each engine (the least disturbed by whatever else runs) and their ratio,
 *   - the stream-copy speedup (re-encoding the same input against copying its streams),
 *   - the wasm engine's start-up (cold: a new thread and instance; warm: a reused one) and memory per job,
 *   - a SPEED_MODELS block to paste into src/media/estimate.ts.
 *
 * `npm run bench` (or `npm run bench -- --runs 5`). Needs ffmpeg on PATH for the inputs and the native engine.
 * Times are wall-clock on whatever else the machine is doing: compare ratios from the same run, not across runs.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../src/engine/engine.js';
import { createNativeEngine } from '../src/engine/native.js';
import { SPEED_MODELS } from '../src/media/estimate.js';
import { createWasmEngine } from '../wasm/node-engine.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const BASE = ['-hide_banner', '-nostdin', '-y', '-progress', 'pipe:1', '-nostats', '-protocol_whitelist', 'file'];

interface Input {
  name: string;
  width: number;
  height: number;
  fps: number;
  seconds: number;
}

interface Job {
  name: string;
  input: Input;
  /** Arguments after `-i input`, as the planner writes them for this output. */
  args: string[];
  output: string;
  /** What the job's time is attributed to. */
  measures: { kind: 'video'; encoder: string; audio: string } | { kind: 'audio'; encoder: string } | { kind: 'image'; frames: number } | { kind: 'copy' };
}

const SMALL: Input = { name: 'small', width: 320, height: 240, fps: 25, seconds: 4 };
const MEDIUM: Input = { name: 'medium', width: 640, height: 360, fps: 25, seconds: 4 };
/** Only copied: large enough that the copy's own speed shows through the per-run overhead. */
const LARGE: Input = { name: 'large', width: 1280, height: 720, fps: 25, seconds: 10 };
/** Long enough that audio encoding shows through the per-run overhead (its video is not encoded). */
const LONG: Input = { name: 'long', width: 160, height: 120, fps: 5, seconds: 30 };

const H264 = ['-c:v', 'libx264', '-crf', '23', '-preset', 'medium', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', '-f', 'mp4'];
const VP8 = ['-c:v', 'libvpx', '-crf', '10', '-b:v', '100000000', '-deadline', 'good', '-cpu-used', '2', '-pix_fmt', 'yuv420p', '-c:a', 'libopus', '-f', 'webm'];

const JOBS: Job[] = [
  { name: 'h264 mp4 320x240', input: SMALL, args: H264, output: 'out.mp4', measures: { kind: 'video', encoder: 'libx264', audio: 'aac' } },
  { name: 'h264 mp4 640x360', input: MEDIUM, args: H264, output: 'out.mp4', measures: { kind: 'video', encoder: 'libx264', audio: 'aac' } },
  { name: 'vp8 webm 320x240', input: SMALL, args: VP8, output: 'out.webm', measures: { kind: 'video', encoder: 'libvpx', audio: 'libopus' } },
  { name: 'overhead (1 frame)', input: SMALL, args: ['-frames:v', '1', '-an', '-f', 'null'], output: '-', measures: { kind: 'image', frames: 1 } },
  { name: 'mp3 audio', input: LONG, args: ['-vn', '-c:a', 'libmp3lame', '-f', 'mp3'], output: 'out.mp3', measures: { kind: 'audio', encoder: 'libmp3lame' } },
  { name: 'aac m4a', input: LONG, args: ['-vn', '-c:a', 'aac', '-f', 'ipod'], output: 'out.m4a', measures: { kind: 'audio', encoder: 'aac' } },
  { name: 'opus ogg', input: LONG, args: ['-vn', '-c:a', 'libopus', '-f', 'ogg'], output: 'out.ogg', measures: { kind: 'audio', encoder: 'libopus' } },
  { name: 'png thumbnail', input: MEDIUM, args: ['-ss', '1', '-frames:v', '1', '-f', 'image2'], output: 'thumb.png', measures: { kind: 'image', frames: 1 } },
  { name: 'copy mkv 640x360', input: MEDIUM, args: ['-map', '0', '-c', 'copy', '-f', 'matroska'], output: 'out.mkv', measures: { kind: 'copy' } },
  { name: 'copy mkv 1280x720', input: LARGE, args: ['-map', '0', '-c', 'copy', '-f', 'matroska'], output: 'out.mkv', measures: { kind: 'copy' } },
];

function sh(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr.slice(-500)}`))));
  });
}

async function makeInput(dir: string, input: Input): Promise<string> {
  const file = join(dir, `${input.name}.mp4`);
  await sh('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${input.width}x${input.height}:rate=${input.fps}:duration=${input.seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${input.seconds}`,
    '-c:v', 'libx264', '-preset', input === LARGE ? 'ultrafast' : 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', file,
  ]);
  return file;
}

/** A job dir holding only `input` (a hard link to the generated file), as the runner prepares one. */
async function jobDir(root: string, source: string): Promise<string> {
  const dir = await mkdtemp(join(root, 'job-'));
  await sh('ln', [source, join(dir, 'input')]);
  return dir;
}

async function timeJob(engine: Engine, dir: string, job: Job): Promise<number> {
  const started = performance.now();
  await engine.run({
    args: [...BASE, '-i', 'input', ...job.args, job.output],
    cwd: dir,
    expectedDurationS: job.input.seconds,
    timeoutMs: 600_000,
    signal: new AbortController().signal,
  });
  const ms = performance.now() - started;
  for (const entry of await readdir(dir)) if (entry !== 'input') await unlink(join(dir, entry));
  if (job.output === '-') return ms;
  return ms;
}

const fmt = (ms: number) => `${ms.toFixed(0).padStart(7)} ms`;
const round = (value: number, digits = 2) => Number(value.toPrecision(digits));

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'ffedge-bench-'));
  const native = createNativeEngine();
  const wasm = createWasmEngine({ maxThreads: 1, maxRunsPerThread: 1000 });
  try {
    await native.capabilities();
    const sources = new Map<Input, string>();
    for (const input of [SMALL, MEDIUM, LARGE, LONG]) sources.set(input, await makeInput(root, input));
    const largeBytes = (await stat(sources.get(LARGE)!)).size;

    // Start-up of the wasm engine: the process's first job pays for compiling the module and starting a thread; a
    // new thread (after an idle one was ended, or a cancel) only for the thread and its instance.
    const coldDir = await jobDir(root, sources.get(SMALL)!);
    const noop = JOBS.find((j) => j.name === 'overhead (1 frame)')!;
    const firstMs = await timeJob(wasm, coldDir, noop);
    const threadMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const fresh = createWasmEngine({ maxThreads: 1 });
      threadMs.push(await timeJob(fresh, coldDir, noop));
      await fresh.close();
    }
    const warmMs = Math.min(await timeJob(wasm, coldDir, noop), await timeJob(wasm, coldDir, noop), await timeJob(wasm, coldDir, noop));

    const results: { job: Job; native: number; wasm: number; wasmMemory: number }[] = [];
    for (const job of JOBS) {
      const dir = await jobDir(root, sources.get(job.input)!);
      const times: Record<'native' | 'wasm', number[]> = { native: [], wasm: [] };
      let wasmMemory = 0;
      for (let i = 0; i < runs; i++) {
        // Interleaved, so that a burst of load elsewhere on the machine hits both engines alike.
        times.native.push(await timeJob(native, dir, job));
        times.wasm.push(await timeJob(wasm, dir, job));
        wasmMemory = Math.max(wasmMemory, ...wasm.threads().map((t) => t.memoryBytes));
      }
      results.push({ job, native: Math.min(...times.native), wasm: Math.min(...times.wasm), wasmMemory });
    }

    console.log(`\nffedge bench: ${runs} runs per job and engine, best of each\n`);
    console.log(`${'job'.padEnd(20)} ${'native'.padStart(10)} ${'wasm'.padStart(10)}  wasm/native  wasm memory`);
    for (const r of results) {
      console.log(`${r.job.name.padEnd(20)} ${fmt(r.native)} ${fmt(r.wasm)}  ${(r.wasm / r.native).toFixed(1).padStart(9)}x  ${(r.wasmMemory / 1024 ** 2).toFixed(0).padStart(7)} MiB`);
    }

    const of = (name: string) => results.find((r) => r.job.name === name)!;
    const reencode = of('h264 mp4 640x360');
    const copy = of('copy mkv 640x360');
    const largeCopy = of('copy mkv 1280x720');
    const encodes = results.filter((r) => r.job.measures.kind === 'video');
    const geo = (values: number[]) => Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
    console.log(`\nwasm/native, re-encoding (geometric mean of the video jobs): ${geo(encodes.map((r) => r.wasm / r.native)).toFixed(1)}x`);
    console.log(`wasm/native, all jobs (geometric mean): ${geo(results.map((r) => r.wasm / r.native)).toFixed(1)}x`);
    console.log(`stream copy speedup over re-encoding the same 640x360 input to h264: native ${(reencode.native / copy.native).toFixed(1)}x, wasm ${(reencode.wasm / copy.wasm).toFixed(1)}x`);
    console.log(
      `wasm start-up, for a one-frame job: first in the process ${firstMs.toFixed(0)} ms (compile + thread + instance), ` +
        `on a new thread ${Math.min(...threadMs).toFixed(0)} ms, on a warm thread ${warmMs.toFixed(0)} ms; native ${of('overhead (1 frame)').native.toFixed(0)} ms (process start)`,
    );
    console.log(`  -> wasm startupMs on Node: ${Math.round(Math.min(...threadMs) - warmMs)} (a new thread and instance)`);

    // ---------------------------------------------------------------------------------- suggested constants
    const suggest = (engine: 'native' | 'wasm') => {
      const model = SPEED_MODELS[engine];
      const overhead = of('overhead (1 frame)')[engine];
      const audio: Record<string, number> = { ...model.audioRealtime };
      for (const r of results) {
        if (r.job.measures.kind !== 'audio') continue;
        const work = Math.max(1, r[engine] - overhead);
        audio[r.job.measures.encoder] = round(r.job.input.seconds / (work / 1000));
      }
      const video: Record<string, number> = { ...model.videoMpxPerS };
      for (const encoder of ['libx264', 'libvpx']) {
        const rates = results
          .filter((r) => r.job.measures.kind === 'video' && r.job.measures.encoder === encoder)
          .map((r) => {
            const m = r.job.measures as { audio: string };
            const audioMs = (r.job.input.seconds / (audio[m.audio] ?? model.audioDefaultRealtime)) * 1000;
            const work = Math.max(1, r[engine] - overhead - audioMs);
            const mpx = (r.job.input.width * r.job.input.height * r.job.input.fps * r.job.input.seconds) / 1e6;
            return mpx / (work / 1000);
          });
        if (rates.length > 0) video[encoder] = round(geo(rates));
      }
      return { overhead, audio, video, copyMs: Math.max(1, largeCopy[engine] - overhead) };
    };
    console.log('\nSuggested SPEED_MODELS (src/media/estimate.ts); encoders not measured keep their current values:\n');
    for (const engine of ['native', 'wasm'] as const) {
      const s = suggest(engine);
      console.log(`  ${engine}: {`);
      console.log(`    videoMpxPerS: ${JSON.stringify(s.video)},`);
      console.log(`    audioRealtime: ${JSON.stringify(s.audio)},`);
      console.log(`    copyBytesPerS: ${round(largeBytes / (s.copyMs / 1000))},`);
      console.log(`    runOverheadMs: ${Math.round(s.overhead)},`);
      console.log('  },');
    }
  } finally {
    await wasm.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
