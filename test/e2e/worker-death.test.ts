/**
 * Audits #27 and #31: a server process dies mid-job (SIGKILL of it and its ffmpeg); another process on the same
 * database sweeps the expired lease, runs the job again and completes it exactly once.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/api.js';
import { makeClip } from '../helpers/media.js';
import { freePort, startServerProcess } from '../helpers/process.js';
import { childPids, ffmpegPidsUnder } from '../helpers/procs.js';
import { readEvents } from '../helpers/sse.js';

const ADMIN = `ffe_${'d'.repeat(16)}_${'K'.repeat(43)}`;
const children: ChildProcess[] = [];
let dir: string;

function startProcess(port: number, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = startServerProcess(port, {
    PATH: process.env.PATH!,
    FFEDGE_DATA_DIR: join(dir, 'data'),
    FFEDGE_TMP_DIR: join(dir, 'tmp'),
    FFEDGE_LEASE_MS: '1500',
    FFEDGE_SWEEP_MS: '250',
    FFEDGE_POOL_SIZE: '1',
    FFEDGE_BOOTSTRAP_ADMIN_KEY: ADMIN,
    ...env,
  });
  return child.then((c) => (children.push(c), c));
}

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a worker that dies mid-job', () => {
  it('audit #27 / #31: the job is re-run by another process and completes exactly once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ffedge-death-'));
    const portA = await freePort();
    const a = await startProcess(portA);
    const apiA = client({ fetch: (p, i) => fetch(`http://127.0.0.1:${portA}${p}`, i) }, ADMIN);
    await makeClip(join(dir, 'clip.mp4'), { seconds: 6, size: '1280x720', audio: true });
    const input = await apiA.upload(join(dir, 'clip.mp4'));
    const job = await apiA.convert({ input, output: { format: 'mp4', video: { codec: 'h264', preset: 'slow' } } });
    await apiA.waitFor(job.id, ['processing'], 30_000, (j) => j.progress.stage === 'processing');
    await expect.poll(() => ffmpegPidsUnder(join(dir, 'tmp')), { timeout: 10_000 }).not.toEqual([]);

    // The worker dies: the server process and its ffmpeg, with no chance to clean up or say anything.
    const victims = [a.pid!, ...(await childPids(a.pid!))];
    for (const pid of victims) process.kill(pid, 'SIGKILL');
    await expect.poll(() => ffmpegPidsUnder(join(dir, 'tmp')), { timeout: 5_000 }).toEqual([]);

    const portB = await freePort();
    await startProcess(portB);
    const apiB = client({ fetch: (p, i) => fetch(`http://127.0.0.1:${portB}${p}`, i) }, ADMIN);
    const done = await apiB.waitFor(job.id, ['completed', 'failed'], 120_000);
    expect(done).toMatchObject({ status: 'completed', attempts: 2, error: null });
    expect(done.outputs).toHaveLength(1);

    const events = await readEvents(await fetch(`http://127.0.0.1:${portB}${done.links.events}`, { headers: apiB.headers() }));
    const statuses = events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data).status);
    expect(statuses).toEqual(['queued', 'processing', 'queued', 'processing', 'completed']);

    // The dead process's temp dir was removed by the process that came after it.
    const left = await readdir(join(dir, 'tmp'));
    expect(left).toHaveLength(1);
    expect(await readdir(join(dir, 'tmp', left[0]!))).toEqual([]);
  }, 240_000);

  it('no ffmpeg outlives the server that owns its attempt: kill -9 of the server alone ends its 5 running ffmpegs', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ffedge-orphans-'));
    const env = { FFEDGE_POOL_SIZE: '5', FFEDGE_CONCURRENT_JOBS: '10', FFEDGE_WASM_THREADS: '0' };
    const portA = await freePort();
    const a = await startProcess(portA, env);
    const apiA = client({ fetch: (p, i) => fetch(`http://127.0.0.1:${portA}${p}`, i) }, ADMIN);
    await makeClip(join(dir, 'clip.mp4'), { seconds: 4, size: '640x360', audio: false });
    const input = await apiA.upload(join(dir, 'clip.mp4'));
    const jobs = [];
    for (let i = 0; i < 5; i++) jobs.push(await apiA.convert({ input, output: { format: 'mp4', video: { codec: 'h264', preset: 'slow' } } }));
    await expect.poll(async () => (await ffmpegPidsUnder(join(dir, 'tmp'))).length, { timeout: 30_000, interval: 50 }).toBe(5);

    // Only the server dies; its ffmpegs get no signal from anyone but the kernel.
    process.kill(a.pid!, 'SIGKILL');
    await expect.poll(() => ffmpegPidsUnder(join(dir, 'tmp')), { timeout: 3_000, interval: 50 }).toEqual([]);

    // The restarted server runs every job again, once each, with no ffmpeg of the dead one still writing.
    const portB = await freePort();
    await startProcess(portB, env);
    const apiB = client({ fetch: (p, i) => fetch(`http://127.0.0.1:${portB}${p}`, i) }, ADMIN);
    for (const job of jobs) {
      expect(await apiB.waitFor(job.id, ['completed', 'failed'], 180_000)).toMatchObject({ status: 'completed', attempts: 2 });
    }
  }, 300_000);
});
