/** What an operator does from a shell: create keys, start the service, stop it gracefully. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/api.js';
import { makeClip, run } from '../helpers/media.js';
import { freePort, startServerProcess } from '../helpers/process.js';
import { childPids } from '../helpers/procs.js';

const ROOT = resolve(import.meta.dirname, '../..');

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

/** Runs a command to its end from the repository root: its exit code and output, whatever the code. */
function exec(argv: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

interface Launched {
  child: ChildProcess;
  port: number;
  /** Everything the process wrote so far, stdout and stderr. */
  output(): string;
}

/** Starts a command from the repository root and waits for the service's "listening" line (PORT=0: any free port). */
function launch(argv: string[], env: Record<string, string>): Promise<Launched> {
  return new Promise((resolveLaunch, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no listening line in 30 s: ${output.slice(-2000)}`));
    }, 30_000);
    const read = (chunk: Buffer) => {
      output += chunk;
      const listening = /"message":"ffedge listening","url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(output);
      if (listening) {
        clearTimeout(timer);
        resolveLaunch({ child, port: Number(listening[1]), output: () => output });
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening: ${output.slice(-2000)}`));
    });
  });
}

/** Whether a process still runs (a zombie, waiting to be reaped, does not). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolveOpen(true);
    });
    socket.once('error', () => resolveOpen(false));
  });
}

/** The last command of README's "Run it" block: what a newcomer types to start the service. */
async function readmeRunCommand(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n## ').find((part) => part.startsWith('Run it\n'));
  const block = section ? /```sh\n([\s\S]*?)```/.exec(section)?.[1] : undefined;
  const lines = (block ?? '').split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter(Boolean);
  if (lines.length === 0) throw new Error('README has no "Run it" command');
  return lines[lines.length - 1]!.split(/\s+/);
}

describe('operator: keys and the run command', () => {
  const base = () => ({ PATH: process.env.PATH!, HOME: process.env.HOME ?? dir, FFEDGE_WASM_THREADS: '0' });

  it('`npm run keys -- --help` prints the usage and exits 0; an unknown command or option prints it and exits 2', async () => {
    const env = { ...base(), FFEDGE_DATA_DIR: join(dir, 'cli') };
    const help = await exec(['npm', 'run', '-s', 'keys', '--', '--help'], env);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^usage: npm run keys -- <command>/);
    for (const command of ['create', 'list', 'revoke', 'generate']) expect(help.stdout).toContain(`  ${command}`);
    for (const args of [['frobnicate'], [], ['create', '--nme', 'x'], ['create']]) {
      const wrong = await exec(['npm', 'run', '-s', 'keys', '--', ...args], env);
      expect(wrong.code, args.join(' ')).toBe(2);
      expect(wrong.stderr, args.join(' ')).toContain('usage: npm run keys -- <command>');
      expect(wrong.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
  });

  it('`keys list` shows id, name, scopes, tier, created and revoked, and never a secret or its hash', async () => {
    const env = { ...base(), FFEDGE_DATA_DIR: join(dir, 'list') };
    const keys = ['npm', 'run', '-s', 'keys', '--'];
    const ops = (await exec([...keys, 'create', '--name', 'ops', '--scope', 'admin'], env)).stdout.trim();
    const app = (await exec([...keys, 'create', '--name', 'app'], env)).stdout.trim();
    const opsId = ops.split('_')[1]!;
    expect((await exec([...keys, 'revoke', '--id', opsId], env)).code).toBe(0);
    const listed = await exec([...keys, 'list'], env);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
    expect(lines[0]).toEqual(['ID', 'NAME', 'SCOPES', 'TIER', 'CREATED', 'REVOKED']);
    expect(lines.slice(1)).toEqual([
      [opsId, 'ops', 'admin', 'standard', expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), expect.stringMatching(/^\d{4}-\d\d-\d\dT/)],
      [app.split('_')[1]!, 'app', 'jobs:read,jobs:write', 'standard', expect.stringMatching(/^\d{4}-/), '-'],
    ]);
    for (const key of [ops, app]) expect(listed.stdout).not.toContain(key.slice(21));
    expect(listed.stdout).not.toMatch(/[0-9a-f]{64}/);
  });

  it('a service started with no usable key logs the command that makes one, and that command works', async () => {
    const env = { ...base(), FFEDGE_DATA_DIR: join(dir, 'nokey'), FFEDGE_TMP_DIR: join(dir, 'nokey-tmp') };
    const start = [process.execPath, '--import', 'tsx', 'src/runtime/node.ts'];
    const first = await launch(start, env);
    let command: string[];
    try {
      const hint = /No API key can use this service yet\. Create an admin key with `([^`]+)`/.exec(first.output());
      expect(hint, first.output()).not.toBeNull();
      command = hint![1]!.split(/\s+/);
      const created = await exec([command[0]!, command[1]!, '-s', ...command.slice(2)], env);
      expect(created.code).toBe(0);
      const key = created.stdout.trim();
      const res = await fetch(`http://127.0.0.1:${first.port}/api/v1/jobs`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
    } finally {
      first.child.kill('SIGKILL');
    }
    // With a key in the database, the next start says nothing of it.
    const second = await launch(start, env);
    second.child.kill('SIGKILL');
    expect(second.output()).not.toContain('No API key');
  }, 90_000);

  it.each(['SIGTERM', 'SIGINT'] as const)('the README’s run command stops on %s: no process of it is left, and the port is closed', async (signal) => {
    const argv = await readmeRunCommand();
    const env = {
      ...base(),
      FFEDGE_DATA_DIR: join(dir, `run-${signal}`),
      FFEDGE_TMP_DIR: join(dir, `run-${signal}-tmp`),
      FFEDGE_BOOTSTRAP_ADMIN_KEY: `ffe_${'r'.repeat(16)}_${'R'.repeat(43)}`,
      FFEDGE_SHUTDOWN_GRACE_MS: '500',
    };
    const started = await launch(argv, env);
    const tree = [started.child.pid!, ...(await childPids(started.child.pid!))];
    try {
      expect(await portOpen(started.port)).toBe(true);
      const exited = new Promise<boolean>((resolveExit) => {
        started.child.once('exit', () => resolveExit(true));
        setTimeout(() => resolveExit(false), 20_000);
      });
      started.child.kill(signal);
      expect(await exited).toBe(true);
      await expect.poll(async () => (await Promise.all(tree.map(alive))).filter(Boolean).length, { timeout: 15_000 }).toBe(0);
      expect(await portOpen(started.port)).toBe(false);
      expect(started.output()).toContain(`"signal":"${signal}"`);
    } finally {
      for (const pid of tree) if (await alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 90_000);
});
