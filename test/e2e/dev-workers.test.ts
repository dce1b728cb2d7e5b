/**
 * `npm run dev:workers` as README "Run the Workers locally" tells a user to run it, on a machine with no Cloudflare
 * account and no Docker: the command itself (through npm), then over HTTP on 127.0.0.1 an upload, a light job that
 * the API Worker routes to the wasm Worker, a heavy one (VP9, which ffmpeg.wasm cannot encode) that goes to the
 * Transcoder and its stand-in, the Cron sweep triggered by hand, and a clean stop on SIGTERM.
 *
 * Slow by nature (wrangler bundles two Workers, workerd compiles the 32 MB core): generous deadlines, and every wait
 * polls for the state it wants instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyValue } from '../../src/security/api-keys.js';
import { client, type JobView } from '../helpers/api.js';
import { ffprobe, makeClip } from '../helpers/media.js';

// The ports this test may use (18700-18799 are set aside for it).
const PORT = 18740;
const INSPECTOR_PORT = 18741;
const WORKER_PORT = 18742;
const BASE = `http://127.0.0.1:${PORT}`;
const STARTUP_MS = 240_000;
const JOB_MS = 180_000;

const admin = generateKeyValue();
let dir: string;
let dev: ChildProcess;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let log = '';
const api = client({ fetch: (path, init) => fetch(`${BASE}${path}`, init) }, admin);

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** An answer that waiting longer cannot change. */
class Fatal extends Error {}

/** Live processes whose command line or environment contains one of the needles (Linux /proc). */
async function processesNaming(needles: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const read = (file: string) => readFile(`/proc/${pid}/${file}`, 'latin1').catch(() => '');
    const [cmdline, environ] = await Promise.all([read('cmdline'), read('environ')]);
    const text = `${cmdline}\0${environ}`;
    if (needles.some((needle) => text.split('\0').some((part) => part.includes(needle)))) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (dev.exitCode !== null || dev.signalCode !== null) throw new Error(`dev:workers exited while waiting for ${what}:\n${log.slice(-4000)}`);
    // Not listening yet, or a connection refused while starting: try again; a Fatal error ends the wait.
    const value = await probe().catch((error: unknown) => {
      if (error instanceof Fatal) throw error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${log.slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Polls a job until it completes. Every request counts against the key's rate limit (wrangler.toml: 120 a minute), so
 * each job is asked every 2 s, and a 429 waits for its Retry-After.
 */
async function finished(job: JobView): Promise<JobView> {
  let wait = 0;
  return until(`job ${job.id}`, JOB_MS, async () => {
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    wait = 2_000;
    const response = await fetch(`${BASE}/api/v1/jobs/${job.id}`, { headers: api.headers() });
    if (response.status === 429) {
      wait = Math.max(1, Number(response.headers.get('retry-after')) || 5) * 1000;
      await response.body?.cancel();
      return undefined;
    }
    const now = (await response.json()) as JobView;
    if (now.status === 'failed' || now.status === 'cancelled') throw new Fatal(`job ${job.id} ${now.status}: ${JSON.stringify(now.error)}`);
    return now.status === 'completed' ? now : undefined;
  });
}

async function downloaded(job: JobView, name: string): Promise<string> {
  const output = job.outputs.find((o) => o.name === name);
  expect(output, `${name} in ${JSON.stringify(job.outputs)}`).toBeDefined();
  const response = await api.download(output!.url);
  expect(response.status).toBe(200);
  const file = join(dir, `${job.id}-${name}`);
  await writeFile(file, new Uint8Array(await response.arrayBuffer()));
  return file;
}

beforeAll(async () => {
  for (const port of [PORT, INSPECTOR_PORT, WORKER_PORT]) {
    if (await listening(port)) throw new Error(`port ${port} is taken; this test needs 18740-18742`);
  }
  dir = await mkdtemp(join(tmpdir(), 'ffedge-dev-workers-'));
  const env: NodeJS.ProcessEnv = { ...process.env, FFEDGE_BOOTSTRAP_ADMIN_KEY: admin };
  delete env.FFEDGE_WORKER_TOKEN; // the command makes one for the run
  const args = ['run', 'dev:workers', '--', '--port', String(PORT), '--inspector-port', String(INSPECTOR_PORT)];
  args.push('--worker-port', String(WORKER_PORT), '--state', join(dir, 'state'), '--test-scheduled');
  dev = spawn('npm', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  exited = new Promise((resolve) => dev.once('exit', (code, signal) => resolve({ code, signal })));
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000);
  };
  dev.stdout!.on('data', keep);
  dev.stderr!.on('data', keep);
  const started = Date.now();
  await until('the API Worker', STARTUP_MS, async () => ((await fetch(`${BASE}/health`)).ok ? true : undefined));
  console.log(`dev:workers answered /health after ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, STARTUP_MS + 10_000);

afterAll(async () => {
  if (dev && dev.exitCode === null && dev.signalCode === null) {
    dev.kill('SIGTERM');
    const timer = setTimeout(() => dev.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('npm run dev:workers (no account, no Docker)', () => {
  it('applied the D1 migrations and reaches both engines', async () => {
    const ready = await until('readiness', 120_000, async () => {
      const response = await fetch(`${BASE}/health/ready`);
      return response.status === 200 ? ((await response.json()) as { components: Record<string, { status: string }> }) : undefined;
    });
    expect(ready.components.database?.status).toBe('ok');
    const caps = await until('capabilities', 120_000, async () => {
      const response = await fetch(`${BASE}/api/v1/capabilities`, { headers: api.headers() });
      return response.status === 200 ? ((await response.json()) as { engines: { name: string }[] }) : undefined;
    });
    expect(caps.engines.map((e) => e.name).sort()).toEqual(['native', 'wasm']);
  }, 250_000);

  it('runs a light job on the wasm Worker and a heavy one on the native stand-in', async () => {
    const clip = join(dir, 'clip.mp4');
    await makeClip(clip, { seconds: 2, size: '320x240' });
    const input = await api.upload(clip);

    // Small video at the edge: a 2 s 320x240 clip to 240p MP4 fits the wasm Worker (src/media/estimate.ts).
    const light = await api.convert({ input, output: { format: 'mp4', video: { resolution: '240p' } } });
    // VP9 crashes ffmpeg.wasm: only the container (here its stand-in, container/main.ts) can run it.
    const heavy = await api.convert({ input, output: { format: 'webm', video: { codec: 'vp9' } } });
    expect(light).toMatchObject({ engine: 'wasm' });
    expect(heavy).toMatchObject({ engine: 'native' });

    const [lightDone, heavyDone] = await Promise.all([finished(light), finished(heavy)]);
    expect(lightDone).toMatchObject({ status: 'completed', engine: 'wasm' });
    expect(heavyDone).toMatchObject({ status: 'completed', engine: 'native' });

    const mp4 = await ffprobe(await downloaded(lightDone, 'output.mp4'));
    expect(mp4.format.format_name).toContain('mp4');
    const video = mp4.streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    expect(mp4.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    expect(Number(mp4.format.duration)).toBeCloseTo(2, 0);

    const webm = await ffprobe(await downloaded(heavyDone, 'output.webm'));
    expect(webm.format.format_name).toContain('webm');
    expect(webm.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('vp9');
    expect(Number(webm.format.duration)).toBeCloseTo(2, 0);
  }, JOB_MS * 2);

  it('runs the Cron sweep on request (--test-scheduled)', async () => {
    const response = await fetch(`${BASE}/__scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Ran scheduled event');
    // wrangler 4's own route, with or without --test-scheduled.
    const handler = await fetch(`${BASE}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
    expect(handler.status).toBe(200);
  });

  it('stops everything it started on SIGTERM', async () => {
    // npm passes the signal on to the script (`exec node scripts/dev-workers.mjs`) and returns; the script then stops
    // wrangler (and its workerd) and the stand-in, each as a process group.
    dev.kill('SIGTERM');
    await Promise.race([
      exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`npm did not stop:\n${log.slice(-4000)}`)), 30_000)),
    ]);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const left = await processesNaming([dir, `PORT=${WORKER_PORT}`]);
      const open = (await Promise.all([PORT, INSPECTOR_PORT, WORKER_PORT].map(listening))).some(Boolean);
      if (left.length === 0 && !open) break;
      if (Date.now() > deadline) throw new Error(`still running after SIGTERM: ${left.join('; ')}${open ? ' (a port is still open)' : ''}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(log).toContain('shutting down'); // the stand-in's own graceful stop, not a kill
  }, 60_000);
});
