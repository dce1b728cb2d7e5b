/**
 * The fleet on Node: two native worker processes (`container/main.ts`, as `npm run worker` starts them) on
 * 127.0.0.1 and a Node server with FFEDGE_WORKERS and no in-process pool. Jobs run on the workers, progress and
 * cancel cross the HTTP boundary, and a worker killed mid-job costs an attempt, not the job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type JobView } from '../helpers/api.js';
import { ffprobe, makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { childPids, ffmpegPidsUnder } from '../helpers/procs.js';
import { freePort, stderrTail, waitHealthy } from '../helpers/services.js';
import { readEvents } from '../helpers/sse.js';

const TOKEN = 'fleet-test-token-0123456789abcdef';

interface WorkerProcess {
  name: string;
  url: string;
  tmp: string;
  child: ChildProcess;
  stderr: () => string;
}

let dir: string;
let clip: string;
let server: TestServer;
let api: ReturnType<typeof client>;
const workers: WorkerProcess[] = [];

async function startWorker(name: string): Promise<WorkerProcess> {
  const port = await freePort();
  const tmp = join(dir, name);
  const child = spawn(process.execPath, ['--import', 'tsx', 'container/main.ts'], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      FFEDGE_WORKER_TOKEN: TOKEN,
      FFEDGE_WORKER_SLOTS: '1',
      FFEDGE_WORKER_HEARTBEAT_MS: '250',
      FFEDGE_TMP_DIR: tmp,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const worker = { name, url: `http://127.0.0.1:${port}`, tmp, child, stderr: stderrTail(child) };
  workers.push(worker);
  await waitHealthy(child, `${worker.url}/health`, 60_000);
  return worker;
}

/** The worker whose dir an ffmpeg of a job is running in, once there is one. */
async function workerRunning(): Promise<WorkerProcess> {
  let found: WorkerProcess | undefined;
  await expect
    .poll(
      async () => {
        for (const worker of workers) if ((await ffmpegPidsUnder(worker.tmp)).length > 0) found = worker;
        return found?.name;
      },
      { timeout: 30_000, interval: 50 },
    )
    .toBeDefined();
  return found!;
}

/** Run dirs a worker still holds (each worker process keeps one per-process dir holding its runs). */
async function runDirs(worker: WorkerProcess): Promise<string[]> {
  const left: string[] = [];
  for (const own of await readdir(worker.tmp).catch(() => [] as string[])) {
    left.push(...(await readdir(join(worker.tmp, own)).catch(() => [] as string[])));
  }
  return left;
}

async function submit(): Promise<JobView> {
  const input = await api.upload(clip);
  // x264 "slow" on a small frame: a few seconds of work, long enough to watch, cancel and kill.
  return api.convert({ input, output: { format: 'mp4', video: { codec: 'h264', preset: 'slow' } } });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffedge-fleet-'));
  clip = join(dir, 'clip.mp4');
  const [a, b] = await Promise.all([startWorker('worker-a'), startWorker('worker-b'), makeClip(clip, { seconds: 8, size: '640x360', audio: true })]);
  server = await startTestServer({
    FFEDGE_POOL_SIZE: '0',
    FFEDGE_WORKERS: `${a!.url}#1,${b!.url}#1`,
    FFEDGE_WORKER_TOKEN: TOKEN,
    FFEDGE_WORKER_HEALTH_MS: '250',
    // A killed worker stays out because its health checks fail, whatever the cool-down.
    FFEDGE_WORKER_COOLDOWN_MS: '1000',
    FFEDGE_SWEEP_MS: '250',
    FFEDGE_LEASE_MS: '5000',
  });
  api = client(server, await server.key());
  // The workers are found by the health checks (all checked together, both already listening) before any job.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = (await (await server.fetch('/health/ready')).json()) as { components: Record<string, { status: string }> };
    if (ready.components.workers?.status === 'ok') break;
    if (Date.now() > deadline) throw new Error(`the fleet did not come up: ${JSON.stringify(ready)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  await server?.close();
  for (const worker of workers) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('fleet on Node (FFEDGE_WORKERS)', () => {
  it('runs a job on a worker: progress crosses the boundary and the output is valid', async () => {
    const job = await submit();
    const worker = await workerRunning();
    // Progress reported by the worker's ffmpeg reaches the job.
    const moving = await api.waitFor(job.id, ['processing', 'completed'], 60_000, (j) => j.status === 'completed' || (j.progress.percentage ?? 0) > 0);
    expect(moving.status === 'completed' || moving.progress.stage === 'processing').toBe(true);

    const done = await api.waitFor(job.id, ['completed', 'failed'], 120_000);
    expect(done).toMatchObject({ status: 'completed', attempts: 1, error: null });
    expect(done.progress).toMatchObject({ stage: 'done', percentage: 100 });
    expect(done.outputs).toHaveLength(1);
    const events = await readEvents(await server.fetch(done.links.events, { headers: api.headers() }));
    const percentages = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data).percentage as number | null);
    expect(percentages.some((p) => p !== null && p > 0 && p < 100)).toBe(true);

    const res = await api.download(done.outputs[0]!.url);
    expect(res.status).toBe(200);
    await writeFile(join(dir, 'out.mp4'), new Uint8Array(await res.arrayBuffer()));
    const probed = await ffprobe(join(dir, 'out.mp4'));
    expect(probed.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    expect(Number(probed.format.duration)).toBeCloseTo(8, 0);

    // The run left nothing on the worker, and no ffmpeg ran on this host (no pool).
    await expect.poll(() => runDirs(worker)).toEqual([]);
    expect(await ffmpegPidsUnder(join(server.dir, 'tmp'))).toEqual([]);
  });

  it('cancel kills the remote ffmpeg within 2 s and the worker removes the run', async () => {
    const job = await submit();
    const worker = await workerRunning();
    const res = await api.cancel(job.id);
    expect(res.status).toBe(200);
    await expect.poll(() => ffmpegPidsUnder(worker.tmp), { timeout: 2_000, interval: 50 }).toEqual([]);
    await expect.poll(() => runDirs(worker), { timeout: 2_000, interval: 50 }).toEqual([]);
    expect(await api.get(job.id)).toMatchObject({ status: 'cancelled' });
  });

  it('a worker SIGKILLed mid-job: the job runs again on the other worker and completes once', async () => {
    const job = await submit();
    const victim = await workerRunning();
    const survivor = workers.find((w) => w !== victim)!;
    // The worker dies as a container would: the process and its ffmpeg, with no chance to say anything.
    for (const pid of [victim.child.pid!, ...(await childPids(victim.child.pid!))]) process.kill(pid, 'SIGKILL');

    await expect.poll(() => ffmpegPidsUnder(survivor.tmp), { timeout: 30_000, interval: 50 }).not.toEqual([]);
    const done = await api.waitFor(job.id, ['completed', 'failed'], 120_000);
    expect(done).toMatchObject({ status: 'completed', attempts: 2, error: null });
    expect(done.outputs).toHaveLength(1);
    const events = await readEvents(await server.fetch(done.links.events, { headers: api.headers() }));
    const statuses = events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data).status);
    expect(statuses).toEqual(['queued', 'processing', 'queued', 'processing', 'completed']);

    const res = await api.download(done.outputs[0]!.url);
    await writeFile(join(dir, 'rerun.mp4'), new Uint8Array(await res.arrayBuffer()));
    expect((await ffprobe(join(dir, 'rerun.mp4'))).streams.some((s) => s.codec_type === 'video')).toBe(true);
    await expect.poll(() => runDirs(survivor)).toEqual([]);

    // Readiness names the fleet: still ready with one worker up.
    const ready = (await (await server.fetch('/health/ready')).json()) as { components: Record<string, { status: string }> };
    expect(ready.components.workers).toMatchObject({ status: 'ok' });
  });
});
