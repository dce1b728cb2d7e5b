import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { EngineError, type ProbeResult, type RunSpec } from '../../../src/engine/engine.js';
import { createNativeEngine, parseListing, parseProbeOutput } from '../../../src/engine/native.js';
import { BASE_ARGS, isPlanProblems, planConvert, type ConvertPlan } from '../../../src/media/plan.js';
import type { Progress } from '../../../src/media/progress-types.js';
import { ConvertRequestSchema, type ConvertRequestInput } from '../../../src/schemas/convert.js';

const engine = createNativeEngine();
let root = '';
let fixture = '';
let jobCount = 0;

/** Runs a command from the test itself (fixtures only); resolves with its exit code. */
function runTool(command: string, args: string[], cwd: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

async function jobDir(withInput = true): Promise<string> {
  const dir = join(root, `job-${++jobCount}`);
  await mkdir(dir);
  if (withInput) await copyFile(fixture, join(dir, 'input'));
  return dir;
}

function spec(cwd: string, args: string[], overrides: Partial<RunSpec> = {}): RunSpec {
  return { args, cwd, expectedDurationS: null, timeoutMs: 60_000, signal: new AbortController().signal, ...overrides };
}

function planFor(body: Omit<ConvertRequestInput, 'input'>, input: ProbeResult): ConvertPlan {
  const plan = planConvert(ConvertRequestSchema.parse({ input: 'upload:test', ...body }), input, DEFAULT_LIMITS);
  if (isPlanProblems(plan)) throw new Error(JSON.stringify(plan));
  return plan;
}

async function engineError(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error('expected an EngineError');
}

/** Pids of live processes whose working directory is `dir` (Linux /proc). */
async function processesIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await readlink(`/proc/${entry}/cwd`)) === dir) pids.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to inspect.
    }
  }
  return pids;
}

/** A 1080p encode at the slowest preset: minutes of work, so it is surely running when the test acts on it. */
const LONG_ENCODE = [
  ...BASE_ARGS,
  '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30:duration=120',
  '-c:v', 'libx264', '-preset', 'veryslow', '-f', 'mp4', 'output.mp4',
];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ffedge-native-'));
  fixture = join(root, 'fixture.mp4');
  const code = await runTool(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest',
      '-f', 'mp4', 'fixture.mp4',
    ],
    root,
  );
  expect(code).toBe(0);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('native engine: probe', () => {
  it('reads format, duration and streams of a real file', async () => {
    const result = await engine.probe('input', { cwd: await jobDir() });
    expect(result.format).toContain('mp4');
    expect(result.duration_s).toBeGreaterThan(1.9);
    expect(result.duration_s).toBeLessThan(2.2);
    expect(result.size).toBeGreaterThan(0);
    expect(result.streams).toMatchObject([
      { index: 0, type: 'video', codec: 'h264', width: 320, height: 240, fps: 25 },
      { index: 1, type: 'audio', codec: 'aac', sample_rate: 44100, channels: 1 },
    ]);
  });

  it('fails with PROBE_FAILED, and no path, for a file that is not media', async () => {
    const dir = await jobDir(false);
    await writeFile(join(dir, 'input'), 'not a video at all');
    const error = await engineError(engine.probe('input', { cwd: dir }));
    expect(error.code).toBe('PROBE_FAILED');
    expect(error.logTail).not.toContain(root);
  });

  it('reads names as local files, never as URLs or options', async () => {
    const dir = await jobDir();
    expect((await engineError(engine.probe('http://127.0.0.1:9/x.mp4', { cwd: dir }))).code).toBe('PROBE_FAILED');
    expect((await engineError(engine.probe('-version', { cwd: dir }))).code).toBe('PROBE_FAILED');
  });

  it('refuses a playlist that points at other files on the server', async () => {
    const dir = await jobDir(false);
    const playlist = ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXTINF:2,', fixture, '#EXT-X-ENDLIST', ''].join('\n');
    await writeFile(join(dir, 'input'), playlist);
    const error = await engineError(engine.probe('input', { cwd: dir }));
    expect(error.code).toBe('PROBE_FAILED');
    expect(error.safeMessage).toMatch(/playlist/);
  });
});

describe('native engine: run', () => {
  it('runs an mp4 plan whose output has the right codec, size and duration, with progress rising to 100', async () => {
    const dir = await jobDir();
    const input = await engine.probe('input', { cwd: dir });
    const plan = planFor({ output: 'mp4' }, input);
    // -re reads the input in real time so the 2 s encode reports progress several times, however fast the machine.
    const args = [...plan.args];
    args.splice(args.indexOf('-i'), 0, '-re');
    const reports: Progress[] = [];
    await engine.run(spec(dir, args, { expectedDurationS: plan.expectedDurationS, onProgress: (p) => reports.push(p) }));

    const output = await engine.probe(plan.outputs[0]!.file, { cwd: dir });
    expect(output.streams.map((s) => [s.type, s.codec])).toEqual([['video', 'h264'], ['audio', 'aac']]);
    expect(output.streams[0]).toMatchObject({ width: 320, height: 240 });
    expect(Math.abs((output.duration_s ?? 0) - 2)).toBeLessThan(0.1);

    const percentages = reports.map((r) => r.percentage);
    expect(percentages.length).toBeGreaterThanOrEqual(3);
    expect(percentages.at(-1)).toBe(100);
    expect(percentages[0]).toBeLessThan(100);
    for (let i = 1; i < percentages.length; i++) expect(percentages[i]!).toBeGreaterThanOrEqual(percentages[i - 1]!);
    expect(reports.every((r) => r.stage === 'processing')).toBe(true);
  });

  it('runs a trimmed, scaled webm vp9/opus plan', async () => {
    const dir = await jobDir();
    const input = await engine.probe('input', { cwd: dir });
    const plan = planFor(
      {
        output: { format: 'webm', video: { codec: 'vp9', resolution: '160x120', preset: 'ultrafast' }, audio: { codec: 'opus' } },
        operations: [{ type: 'trim', start: 0.5, end: '00:00:01.500' }],
      },
      input,
    );
    expect(plan.expectedDurationS).toBe(1);
    const reports: Progress[] = [];
    await engine.run(spec(dir, plan.args, { expectedDurationS: plan.expectedDurationS, onProgress: (p) => reports.push(p) }));

    const output = await engine.probe('output.webm', { cwd: dir });
    expect(output.streams.map((s) => [s.type, s.codec])).toEqual([['video', 'vp9'], ['audio', 'opus']]);
    expect(output.streams[0]).toMatchObject({ width: 160, height: 120 });
    expect(Math.abs((output.duration_s ?? 0) - 1)).toBeLessThan(0.1);
    expect(reports.at(-1)?.percentage).toBe(100);
  });

  it('runs an mp3 plan with the video dropped', async () => {
    const dir = await jobDir();
    const input = await engine.probe('input', { cwd: dir });
    const plan = planFor({ output: { format: 'mp3', audio: { bitrate: '64k', sample_rate: 22050 } } }, input);
    await engine.run(spec(dir, plan.args, { expectedDurationS: plan.expectedDurationS }));
    const output = await engine.probe('output.mp3', { cwd: dir });
    expect(output.streams).toMatchObject([{ type: 'audio', codec: 'mp3', sample_rate: 22050 }]);
    expect(Math.abs((output.duration_s ?? 0) - 2)).toBeLessThan(0.1);
  });

  it('audit #21: a run with zero or unknown duration completes with null percentages', async () => {
    for (const duration_s of [null, 0]) {
      const dir = await jobDir();
      const input = { ...(await engine.probe('input', { cwd: dir })), duration_s };
      const plan = planFor({ output: 'm4a' }, input);
      expect(plan.expectedDurationS).toBeNull();
      const reports: Progress[] = [];
      await engine.run(spec(dir, plan.args, { expectedDurationS: plan.expectedDurationS, onProgress: (p) => reports.push(p) }));
      expect(reports.length).toBeGreaterThan(0);
      expect(reports.every((r) => r.percentage === null && r.eta_s === null)).toBe(true);
      expect(reports.at(-1)?.out_time_s).toBeGreaterThan(1.5);
    }
  });

  it('kills ffmpeg within 2 s of a cancel and rejects with CANCELLED', async () => {
    const dir = await jobDir(false);
    const controller = new AbortController();
    let started!: () => void;
    const firstProgress = new Promise<void>((resolve) => (started = resolve));
    const running = engine.run(spec(dir, LONG_ENCODE, { expectedDurationS: 120, signal: controller.signal, onProgress: () => started() }));
    running.catch(() => {});
    await firstProgress;
    const pids = await processesIn(dir);
    expect(pids).toHaveLength(1);

    const abortedAt = Date.now();
    controller.abort();
    const error = await engineError(running);
    expect(error.code).toBe('CANCELLED');
    expect(Date.now() - abortedAt).toBeLessThan(2000);
    expect(await processesIn(dir)).toEqual([]);
  });

  it('kills ffmpeg at the timeout and rejects with TIMEOUT', async () => {
    const dir = await jobDir(false);
    const error = await engineError(engine.run(spec(dir, LONG_ENCODE, { timeoutMs: 1000 })));
    expect(error.code).toBe('TIMEOUT');
    expect(await processesIn(dir)).toEqual([]);
  });

  it('does not start ffmpeg for a job already cancelled', async () => {
    const dir = await jobDir(false);
    const controller = new AbortController();
    controller.abort();
    expect((await engineError(engine.run(spec(dir, LONG_ENCODE, { signal: controller.signal })))).code).toBe('CANCELLED');
  });

  it('reports a failed run with a safe message and a log tail without server paths', async () => {
    const dir = await jobDir(false);
    const missing = join(dir, 'missing.mp4');
    const error = await engineError(engine.run(spec(dir, [...BASE_ARGS, '-i', missing, '-f', 'null', '-'])));
    expect(error.code).toBe('FFMPEG_FAILED');
    expect(error.safeMessage).toBe('ffmpeg could not process the input');
    expect(error.logTail).toContain('<job>/missing.mp4');
    expect(error.logTail).not.toContain(dir);
    expect(error.logTail).not.toContain(tmpdir());

    const elsewhere = await engineError(engine.run(spec(dir, [...BASE_ARGS, '-i', '/srv/ffedge/secret/in.mp4', '-f', 'null', '-'])));
    expect(elsewhere.logTail).toContain('<path>');
    expect(elsewhere.logTail).not.toContain('/srv/ffedge');
  });

  it('keeps the log tail of a successful run, without memory addresses', async () => {
    const dir = await jobDir();
    const { logTail } = await engine.run(spec(dir, [...BASE_ARGS, '-i', 'input', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'null', '-']));
    expect(logTail).toContain('[libx264]');
    expect(logTail).not.toMatch(/@ 0x[0-9a-f]+/);
    expect(logTail.split('\n').length).toBeLessThanOrEqual(100);
  });

  it('reports a missing binary as ENGINE_UNAVAILABLE, from the option or from FFMPEG_PATH', async () => {
    const dir = await jobDir();
    const byOption = createNativeEngine({ ffmpegPath: join(root, 'no-ffmpeg'), ffprobePath: join(root, 'no-ffprobe') });
    expect((await engineError(byOption.run(spec(dir, ['-version'])))).code).toBe('ENGINE_UNAVAILABLE');
    expect((await engineError(byOption.probe('input', { cwd: dir }))).code).toBe('ENGINE_UNAVAILABLE');
    expect((await engineError(byOption.capabilities())).code).toBe('ENGINE_UNAVAILABLE');
    const byEnv = createNativeEngine({ env: { FFMPEG_PATH: join(root, 'no-ffmpeg') } });
    expect((await engineError(byEnv.run(spec(dir, ['-version'])))).code).toBe('ENGINE_UNAVAILABLE');
  });
});

describe('native engine: capabilities', () => {
  it('lists the encoders, decoders, filters and muxers the planner relies on, once', async () => {
    const first = engine.capabilities();
    expect(engine.capabilities()).toBe(first);
    const caps = await first;
    expect(caps.name).toBe('native');
    expect(caps.version).toMatch(/^\d+\.\d+/);
    expect(caps.encoders).toEqual(expect.arrayContaining(['libx264', 'libx265', 'libvpx', 'libvpx-vp9', 'aac', 'libmp3lame', 'libopus', 'libvorbis', 'flac', 'pcm_s16le']));
    expect(caps.decoders).toEqual(expect.arrayContaining(['h264', 'aac']));
    expect(caps.filters).toEqual(expect.arrayContaining(['scale', 'aresample']));
    expect(caps.muxers).toEqual(expect.arrayContaining(['mp4', 'webm', 'matroska', 'mov', 'mp3', 'ipod', 'ogg', 'wav', 'flac']));
    expect(caps.encoders).not.toContain('=');
  });
});

describe('native engine: parsers', () => {
  it('parses ffprobe numbers safely', () => {
    const result = parseProbeOutput(
      JSON.stringify({
        format: { format_name: 'matroska,webm', duration: 'N/A', size: '1234', bit_rate: 'N/A' },
        streams: [
          { index: 0, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, avg_frame_rate: '30000/1001', duration: '12.5' },
          { index: 1, codec_type: 'video', codec_name: 'vp9', width: 640, height: 360, avg_frame_rate: '0/0' },
          { index: 2, codec_type: 'audio', codec_name: 'opus', sample_rate: '48000', channels: 2, bit_rate: '1e309' },
          { index: 3, codec_type: 'video', codec_name: 'mjpeg', disposition: { attached_pic: 1 } },
          { index: -1, codec_type: 'audio' },
          { index: 4, codec_type: 'weird' },
        ],
      }),
    );
    expect(result).toEqual({
      format: 'matroska,webm',
      // The container gives no duration, so the longest stream's stands in.
      duration_s: 12.5,
      size: 1234,
      bit_rate: null,
      streams: [
        { index: 0, type: 'video', codec: 'h264', width: 1920, height: 1080, fps: 29.97, duration_s: 12.5, bit_rate: null },
        { index: 1, type: 'video', codec: 'vp9', width: 640, height: 360, fps: null, duration_s: null, bit_rate: null },
        { index: 2, type: 'audio', codec: 'opus', sample_rate: 48000, channels: 2, duration_s: null, bit_rate: null },
        { index: 3, type: 'attachment', codec: 'mjpeg', fps: null, duration_s: null, bit_rate: null },
        { index: 4, type: 'data', codec: null, duration_s: null, bit_rate: null },
      ],
    });
    expect(() => parseProbeOutput('{oops')).toThrow(EngineError);
  });

  it('parses listings and skips legends', () => {
    const text = ['Encoders:', ' V..... = Video', ' ------', ' V....D libx264   libx264 H.264', ' A..X.. opus      Opus', ''].join('\n');
    expect(parseListing(text)).toEqual(['libx264', 'opus']);
    expect(parseListing('File formats:\n D. = Demuxing\n --\n  E mp4   MP4\n DE matroska,webm  Matroska\n')).toEqual(['matroska', 'mp4', 'webm']);
  });
});
