/** Inputs over HTTP: `local:` confinement, streamed uploads, and what the service says it can do. */
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/api.js';
import { makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

let server: TestServer;
let api: ReturnType<typeof client>;
let base: string;

beforeAll(async () => {
  // The local root holds a clip, a symlink to a file outside it and a symlink to the directory above it.
  base = await mkdtemp(join(tmpdir(), 'ffedge-local-'));
  const root = join(base, 'media');
  await mkdir(join(root, 'inbox'), { recursive: true });
  await makeClip(join(root, 'inbox', 'clip.mp4'), { seconds: 1 });
  await writeFile(join(base, 'secret.txt'), 'outside the root');
  await symlink(join(base, 'secret.txt'), join(root, 'inbox', 'escape.mp4'));
  await symlink(join(base, 'no-such-file.txt'), join(root, 'inbox', 'escape-missing.mp4'));
  await symlink(base, join(root, 'up'));
  server = await startTestServer({ FFEDGE_POOL_SIZE: '1', FFEDGE_LOCAL_ROOT: root, FFEDGE_UPLOAD_LIMIT: String(512 * 1024 ** 2) });
  api = client(server, await server.key());
}, 60_000);
afterAll(async () => {
  await server?.close();
  await rm(base, { recursive: true, force: true });
});

describe('local inputs', () => {
  it('converts a file under the local root', async () => {
    const job = await api.convert({ input: 'local:inbox/clip.mp4', output: 'mp3' });
    expect((await api.waitFor(job.id, ['completed', 'failed'])).status).toBe('completed');
  });

  it('audit #7: symlinks out of the root, .., absolute and encoded paths are refused at submission', async () => {
    for (const input of ['local:inbox/escape.mp4', 'local:up/secret.txt', 'local:../secret.txt', 'local:/etc/passwd', 'local:inbox/%2e%2e/x', 'local:inbox\\..\\x']) {
      const res = await server.fetch('/api/v1/convert', {
        method: 'POST',
        headers: api.headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ input, output: 'mp3' }),
      });
      expect([400, 422], input).toContain(res.status);
      const text = await res.text();
      expect(text).not.toContain(base);
    }
    const list = (await (await server.fetch('/api/v1/jobs', { headers: api.headers() })).json()) as { items: { request: { input: string } }[] };
    expect(list.items.map((j) => j.request.input)).toEqual(['local:inbox/clip.mp4']);
  });

  it('audit #7: a symlink out of the root gets the same problem whether the file it points at exists or not', async () => {
    const problem = async (input: string) => {
      const res = await server.fetch('/api/v1/convert', {
        method: 'POST',
        headers: api.headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ input, output: 'mp3' }),
      });
      const { instance: _instance, ...body } = (await res.json()) as Record<string, unknown>;
      return { status: res.status, body };
    };
    const existing = await problem('local:inbox/escape.mp4');
    expect(existing.status).toBe(422);
    expect(await problem('local:inbox/escape-missing.mp4')).toEqual(existing);
    // ...which is also what a missing file inside the root gets.
    expect(await problem('local:inbox/missing.mp4')).toEqual(existing);
  });

  it('audit #7: a local: symlink swapped after submission to point outside the root is refused when the job reads it', async () => {
    const root = join(base, 'media');
    // A playable clip outside the root: were it read, the job would complete.
    await makeClip(join(base, 'outside.mp4'), { seconds: 1 });
    await symlink(join(root, 'inbox', 'clip.mp4'), join(root, 'inbox', 'swap.mp4'));
    const paused = await startTestServer({ FFEDGE_POOL_SIZE: '1', FFEDGE_LOCAL_ROOT: root }, { start: false });
    try {
      const pausedApi = client(paused, await paused.key());
      const job = await pausedApi.convert({ input: 'local:inbox/swap.mp4', output: 'mp3' });
      await rm(join(root, 'inbox', 'swap.mp4'));
      await symlink(join(base, 'outside.mp4'), join(root, 'inbox', 'swap.mp4'));
      paused.platform.pool.start();
      const done = await pausedApi.waitFor(job.id, ['completed', 'failed']);
      expect(done.status).toBe('failed');
      expect(done.error?.code).toBe('INPUT_NOT_FOUND');
      expect(done.outputs).toEqual([]);
    } finally {
      await paused.close();
    }
  }, 60_000);
});

describe('uploads', () => {
  it('audit #17: a 256 MB upload streams through with bounded memory', async () => {
    const total = 256 * 1024 ** 2;
    const chunk = new Uint8Array(1024 * 1024).fill(42);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        controller.enqueue(chunk);
        sent += chunk.length;
      },
    });
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const res = await server.fetch('/api/v1/uploads', { method: 'POST', headers: api.headers(), body, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(201);
      expect(((await res.json()) as { size: number }).size).toBe(total);
    } finally {
      clearInterval(sampler);
    }
    // Whole-body buffering would add at least the 256 MB body; streaming keeps growth to buffers and GC slack.
    expect((peak - before) / 1024 ** 2).toBeLessThan(128);
    const uploads = await readdir(join(server.dir, 'data', 'blobs', 'uploads'));
    expect(uploads.every((name) => !name.startsWith('~'))).toBe(true);
  }, 120_000);
});

describe('capabilities', () => {
  it('lists the native engine with what it encodes, decodes and filters, and the limits', async () => {
    const caps = (await (await server.fetch('/api/v1/capabilities')).json()) as {
      runtime: string;
      engines: { name: string; encoders: string[]; filters: string[]; muxers: string[] }[];
      limits: Record<string, number>;
    };
    expect(caps.runtime).toBe('node');
    const native = caps.engines.find((e) => e.name === 'native')!;
    expect(native.encoders).toEqual(expect.arrayContaining(['libx264', 'aac', 'libopus']));
    expect(native.filters).toEqual(expect.arrayContaining(['scale']));
    expect(native.muxers).toEqual(expect.arrayContaining(['mp4', 'webm']));
    expect(caps.limits.upload_bytes).toBe(512 * 1024 ** 2);
  });
});
