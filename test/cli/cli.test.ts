/**
 * The CLI as a user runs it: `node packages/cli/bin/ffedge.mjs` (what the `ffedge` bin links to) as a child process
 * against a real server with real ffmpeg; outputs checked with ffprobe, --json parsed, exit codes as documented.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe, makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { freePort } from '../helpers/services.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'packages/cli/bin/ffedge.mjs');

let server: TestServer;
let dir: string;
let key: string;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with this Node (so the node-lines runs test the CLI on each line); `tty` runs it under script(1);
 * `onStderr` sees the child and what it wrote so far.
 */
function ffedge(args: string[], options: { env?: Record<string, string>; tty?: boolean; onStderr?: (text: string, child: ChildProcess) => void } = {}): Promise<Ran> {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', FFEDGE_URL: server.url, FFEDGE_KEY: key, ...options.env };
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  // script(1) from util-linux gives the command a pseudo-terminal; -e returns the command's exit status.
  const [command, argv] = options.tty ? ['script', ['-qefc', quoted, '/dev/null']] : [process.execPath, [BIN, ...args]];
  return new Promise((done, fail) => {
    const child = spawn(command as string, argv as string[], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      options.onStderr?.(stderr, child);
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key();
  dir = await mkdtemp(join(tmpdir(), 'ffedge-cli-'));
  await makeClip(join(dir, 'in.mp4'), { seconds: 5 });
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ffedge CLI', () => {
  it('convert in.mp4 --to webm --op trim:start=1,end=4 --wait -o out.webm: the file, and progress lines when not a terminal', async () => {
    const ran = await ffedge(['convert', 'in.mp4', '--to', 'webm', '--op', 'trim:start=1,end=4', '--wait', '-o', 'out.webm']);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^completed [0-9a-f-]{36}: output\.webm \(\d+ bytes\) -> out\.webm\n$/);
    const probed = await ffprobe(join(dir, 'out.webm'));
    expect(probed.format.format_name).toMatch(/webm/);
    expect(Number(probed.format.duration)).toBeGreaterThan(2.5);
    expect(Number(probed.format.duration)).toBeLessThan(3.5);
    // Non-TTY: one line per change, never a carriage return or an escape sequence.
    expect(ran.stderr).toMatch(/^uploaded in\.mp4 \(\d+ bytes\) as upload:/m);
    expect(ran.stderr).toMatch(/^(queued|fetching|probing|processing|uploading|done) (\d+%|--) fps=\S+ eta=\S+$/m);
    expect(ran.stderr).not.toMatch(/[\r\x1b]/);
  });

  it('--json: the final job on stdout, nothing else; jobs ls/show/logs and download agree with it', async () => {
    const ran = await ffedge(['--json', 'convert', 'in.mp4', '--to', 'mp3', '--wait']);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toBe('');
    const job = JSON.parse(ran.stdout) as { id: string; status: string; outputs: { name: string; size: number }[] };
    expect(job).toMatchObject({ status: 'completed', outputs: [{ name: 'output.mp3' }] });

    const listed = JSON.parse((await ffedge(['jobs', 'ls', '--json', '--limit', '50'])).stdout) as { items: { id: string }[] };
    expect(listed.items.map((j) => j.id)).toContain(job.id);
    const shown = await ffedge(['jobs', 'show', job.id]);
    expect(shown.stdout).toMatch(new RegExp(`^${job.id}\\s+convert\\s+completed`));
    expect((await ffedge(['jobs', 'logs', job.id])).code).toBe(0);

    const got = await ffedge(['download', job.id, '-o', 'got.mp3', '--json']);
    expect(JSON.parse(got.stdout)).toMatchObject({ path: 'got.mp3', bytes: job.outputs[0]!.size });
    expect((await stat(join(dir, 'got.mp3'))).size).toBe(job.outputs[0]!.size);
    expect((await ffprobe(join(dir, 'got.mp3'))).streams[0]!.codec_name).toBe('mp3');
  });

  it('probe prints what ffprobe found', async () => {
    const ran = await ffedge(['probe', 'in.mp4']);
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout) as Record<string, unknown>;
    expect(JSON.stringify(result)).toMatch(/h264/);
  });

  it('stream -o dir writes every file of the package', async () => {
    const ran = await ffedge(['stream', 'in.mp4', '--format', 'hls', '-o', 'pkg', '--json']);
    expect(ran.code, ran.stderr).toBe(0);
    const job = JSON.parse(ran.stdout) as { outputs: { name: string; size: number }[] };
    const master = job.outputs.find((o) => o.name.endsWith('.m3u8'))!;
    expect((await readFile(join(dir, 'pkg', master.name), 'utf8')).startsWith('#EXTM3U')).toBe(true);
    for (const output of job.outputs) expect((await stat(join(dir, 'pkg', ...output.name.split('/')))).size).toBe(output.size);
  });

  it('exit codes: 1 job failed, 2 usage or invalid request, 3 auth, 4 not found, 5 unreachable', async () => {
    await writeFile(join(dir, 'noise.mp4'), crypto.getRandomValues(new Uint8Array(4096)));
    const failed = await ffedge(['convert', 'noise.mp4', '--to', 'webm', '--wait']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^failed [0-9a-f-]{36}: [A-Z_]+: /m);
    const failedId = /^failed ([0-9a-f-]{36})/m.exec(failed.stderr)![1]!;
    const finished = await ffedge(['jobs', 'cancel', failedId]);
    expect(finished.code).toBe(2);
    expect(finished.stderr).toMatch(/JOB_FINISHED, HTTP 409/);

    expect((await ffedge(['convert', 'in.mp4'])).code).toBe(2);
    expect((await ffedge(['jobs', 'ls', '--limit', 'many'])).code).toBe(2);
    const invalid = await ffedge(['convert', 'in.mp4', '--to', 'mp4', '--video-codec', 'vp8']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/INVALID_CODEC_FORMAT, HTTP 422, request \S+\)\n\s+\/output\/video\/codec: .*\(allowed: /);
    const invalidJson = await ffedge(['--json', 'convert', 'in.mp4', '--to', 'mp4', '--video-codec', 'vp8']);
    expect(JSON.parse(invalidJson.stderr)).toMatchObject({ error: { status: 422, code: 'INVALID_CODEC_FORMAT' } });

    expect((await ffedge(['jobs', 'ls'], { env: { FFEDGE_KEY: '' } })).code).toBe(3);
    expect((await ffedge(['jobs', 'ls', '--key', `ffe_aaaaaaaaaaaaaaaa_${'A'.repeat(43)}`])).code).toBe(3);
    expect((await ffedge(['jobs', 'show', '0193a000-0000-7000-8000-000000000000'])).code).toBe(4);
    expect((await ffedge(['convert', 'missing.mp4', '--to', 'webm'])).code).toBe(4);
    const unreachable = await ffedge(['jobs', 'ls'], { env: { FFEDGE_URL: `http://127.0.0.1:${await freePort()}` } });
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toMatch(/ECONNREFUSED/);
  });

  it('Ctrl-C while following exits 130 and says how to cancel; the job goes on', async () => {
    await makeClip(join(dir, 'long.mp4'), { seconds: 30 });
    let interrupted = false;
    const ran = await ffedge(['convert', 'long.mp4', '--to', 'webm', '--wait'], {
      onStderr: (text, child) => {
        if (!interrupted && /fps=/.test(text)) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(ran.code, ran.stderr).toBe(130);
    const id = /jobs cancel ([0-9a-f-]{36})/.exec(ran.stderr)?.[1];
    expect(id, ran.stderr).toBeDefined();
    // The CLI stopped following, not the job (which may have finished meanwhile on a fast machine).
    const shown = JSON.parse((await ffedge(['--json', 'jobs', 'show', id!])).stdout) as { status: string };
    expect(['queued', 'processing', 'completed']).toContain(shown.status);
    await ffedge(['jobs', 'cancel', id!]);
  });

  it('draws a progress bar in a pseudo-terminal', async () => {
    const ran = await ffedge(['convert', 'in.mp4', '--to', 'webm', '--wait'], { tty: true });
    expect(ran.code, ran.stdout).toBe(0);
    // script(1) merges the streams: the bar (cli-progress redraws the line with \r or cursor moves), then the summary.
    expect(ran.stdout).toMatch(/\|[█░]+\| 100% \| \S+ fps \| ETA \S+/);
    expect(ran.stdout).toMatch(/completed [0-9a-f-]{36}/);
  });
});
