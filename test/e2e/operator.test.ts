/** What an operator does from a shell: create keys, start the service, stop it gracefully. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/api.js';
import { makeClip, run } from '../helpers/media.js';
import { freePort, startServerProcess } from '../helpers/process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffedge-operator-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const env = () => ({ PATH: process.env.PATH!, FFEDGE_DATA_DIR: join(dir, 'data'), FFEDGE_TMP_DIR: join(dir, 'tmp') });

describe('operator workflow', () => {
  it('`npm run keys -- create` prints a working key once; `generate` prints a bootstrap value', async () => {
    const generated = (await run('npm', ['run', '-s', 'keys', '--', 'generate'])).stdout.trim();
    expect(generated).toMatch(/^ffe_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/);
    const created = await new Promise<string>((resolve, reject) => {
      const child = spawn('npm', ['run', '-s', 'keys', '--', 'create', '--name', 'ops', '--scope', 'jobs:read'], { env: env() });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`))));
    });
    expect(created).toMatch(/^ffe_/);
    const port = await freePort();
    const server = await startServerProcess(port, env());
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/api/v1/jobs`, { headers: { authorization: `Bearer ${created}` } });
      expect(ok.status).toBe(200);
      const denied = await fetch(`http://127.0.0.1:${port}/api/v1/jobs`, { headers: { authorization: `Bearer ${generated}` } });
      expect(denied.status).toBe(401);
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('SIGTERM stops taking requests, gives running jobs back to the queue after the grace period, and exits 0', async () => {
    const admin = `ffe_${'e'.repeat(16)}_${'Q'.repeat(43)}`;
    const port = await freePort();
    const server = await startServerProcess(port, {
      ...env(),
      FFEDGE_BOOTSTRAP_ADMIN_KEY: admin,
      FFEDGE_POOL_SIZE: '1',
      FFEDGE_SHUTDOWN_GRACE_MS: '300',
    });
    const api = client({ fetch: (p, i) => fetch(`http://127.0.0.1:${port}${p}`, i) }, admin);
    await makeClip(join(dir, 'long.mp4'), { seconds: 20, size: '1280x720', audio: false });
    const input = await api.upload(join(dir, 'long.mp4'));
    const job = await api.convert({ input, output: { format: 'mp4', video: { codec: 'h265', preset: 'veryslow' } } });
    await api.waitFor(job.id, ['processing'], 30_000, (j) => j.progress.stage === 'processing');

    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);

    // The next process finds the job queued again, with no attempt charged for the shutdown.
    const next = await startServerProcess(port, { ...env(), FFEDGE_BOOTSTRAP_ADMIN_KEY: admin, FFEDGE_POOL_SIZE: '0' });
    try {
      expect(await api.get(job.id)).toMatchObject({ status: 'queued', attempts: 0 });
    } finally {
      next.kill('SIGKILL');
    }
  }, 120_000);
});
