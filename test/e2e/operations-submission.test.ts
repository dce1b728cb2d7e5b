/**
 * Submission of convert requests with operations and presets, over HTTP on the real Node service: validation before
 * anything is stored or run (audit #13), the matrix and limits at submission (audits #29, #30, #14), presets CRUD
 * and convert-by-preset.
 */
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, idempotency, jobs } from '../../src/db/schema.js';
import { client } from '../helpers/api.js';
import { ffprobe, makeClip, run } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

let server: TestServer;
let api: ReturnType<typeof client>;
let clip: string;
let spyLog: string;

interface Problem {
  status: number;
  code: string;
  errors?: { pointer?: string; message: string; allowed?: unknown[]; suggestion?: string }[];
}

beforeAll(async () => {
  // ffmpeg and ffprobe behind scripts that log every invocation: a request refused at submission must run neither.
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const bin = await mkdtemp(join(tmpdir(), 'ffedge-spy-'));
  spyLog = join(bin, 'calls.log');
  await writeFile(spyLog, '');
  for (const tool of ['ffmpeg', 'ffprobe']) {
    const real = (await run('sh', ['-c', `command -v ${tool}`])).stdout.trim();
    const script = join(bin, tool);
    await writeFile(script, `#!/bin/sh\nprintf '%s %s\\n' "${tool}" "$*" >> '${spyLog}'\nexec '${real}' "$@"\n`);
    await chmod(script, 0o755);
  }
  server = await startTestServer({
    FFEDGE_POOL_SIZE: '1',
    FFEDGE_CONCURRENT_JOBS: '20',
    FFEDGE_TIERS: 'free',
    FFEDGE_TIER_FREE_FPS_LIMIT: '30',
    FFEDGE_TIER_FREE_OPERATIONS_LIMIT: '2',
    FFMPEG_PATH: join(bin, 'ffmpeg'),
    FFPROBE_PATH: join(bin, 'ffprobe'),
  });
  api = client(server, await server.key());
  const file = join(server.dir, 'clip.mp4');
  await makeClip(file, { seconds: 2 });
  clip = await api.upload(file);
});
afterAll(async () => server?.close());

async function post(path: string, body: unknown, key?: string, headers: Record<string, string> = {}, method = 'POST'): Promise<Response> {
  const auth = key ? { authorization: `Bearer ${key}` } : api.headers();
  return server.fetch(path, { method, headers: { ...auth, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function problem(res: Response, status: number): Promise<Problem> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  return (await res.json()) as Problem;
}

/** Invocations that processed media (anything with an input), not capability listings. */
async function mediaRuns(): Promise<string[]> {
  return (await readFile(spyLog, 'utf8')).split('\n').filter((line) => / -i |^ffprobe .*file:/.test(line));
}

describe('audit #13: validation before any processing', () => {
  it('an invalid request stores nothing and spawns no ffmpeg or ffprobe', async () => {
    const other = client(server, await server.key());
    const theirs = await other.upload(new Uint8Array(2048).fill(1), 'theirs.mp4');
    const free = await server.key();
    await server.platform.db.update(apiKeys).set({ tier: 'free' }).where(eq(apiKeys.id, free.split('_')[1]!));
    const freeClip = await client(server, free).upload(join(server.dir, 'clip.mp4'));
    const before = await mediaRuns();

    const refusals: [unknown, number, string, string][] = [
      [{ input: clip, output: { format: 'mp4', video: { codec: 'vp9' } } }, 422, 'INVALID_CODEC_FORMAT', '/output/video/codec'],
      [{ input: clip, output: 'gif', operations: [{ type: 'extract_audio' }] }, 422, 'INVALID_CODEC_FORMAT', '/operations/0'],
      [{ input: clip, output: 'mp4', operations: [{ type: 'thumbnails', count: 3 }] }, 422, 'INVALID_CODEC_FORMAT', '/operations/0'],
      [{ input: clip, output: 'mp4', operations: [{ type: 'crop', width: 101, height: 100 }] }, 422, 'INVALID_OPTION', '/operations/0/width'],
      [{ input: clip, output: 'mp4', operations: [{ type: 'watermark', image: theirs }] }, 422, 'INPUT_NOT_FOUND', '/operations/0/image'],
      [{ input: clip, output: 'mp4', operations: [{ type: 'concat', inputs: [clip, 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e'] }] }, 422, 'INPUT_NOT_FOUND', '/operations/0/inputs/1'],
      [{ input: clip, output: 'mp4', operations: [{ type: 'text', text: 'bell\u0007' }] }, 400, 'VALIDATION_FAILED', '/operations/0/text'],
      [{ input: clip, output: 'mp4', operations: [{ type: 'metadata', tags: { 'major_brand': 'x' } }] }, 400, 'VALIDATION_FAILED', '/operations/0/tags/major_brand'],
      [{ input: clip, output: { format: 'mp4', video: { bitrate: '1e309' } } }, 400, 'VALIDATION_FAILED', '/output/video/bitrate'],
      [{ input: clip, output: 'mp4', operations: [{ type: 'speed', factor: 10 }] }, 400, 'VALIDATION_FAILED', '/operations/0/factor'],
      [{ input: clip, preset: 'no-such-preset' }, 422, 'UNKNOWN_PRESET', '/preset'],
    ];
    for (const [body, status, code, pointer] of refusals) {
      const res = await post('/api/v1/convert', body, undefined, { 'idempotency-key': 'same-key' });
      const p = await problem(res, status);
      expect(p.code, JSON.stringify(body)).toBe(code);
      expect(p.errors?.map((e) => e.pointer), JSON.stringify(body)).toContain(pointer);
    }
    // The key's tier: fps and operation count over the free tier's limits (the default tier allows both).
    const fps = await problem(await post('/api/v1/convert', { input: freeClip, output: 'mp4', operations: [{ type: 'fps', fps: 60 }] }, free), 422);
    expect(fps).toMatchObject({ code: 'LIMIT_EXCEEDED', errors: [{ pointer: '/operations/0/fps' }] });
    const ops = await problem(await post('/api/v1/convert', { input: freeClip, output: 'mp4', operations: [{ type: 'blur' }, { type: 'sharpen' }, { type: 'hue', degrees: 5 }] }, free), 422);
    expect(ops).toMatchObject({ code: 'LIMIT_EXCEEDED', errors: [{ pointer: '/operations' }] });

    // Nothing stored: no job, no idempotency record (the key is still free), no new blob; nothing ran.
    expect(await server.platform.db.select({ n: count() }).from(jobs)).toEqual([{ n: 0 }]);
    expect(await server.platform.db.select({ n: count() }).from(idempotency)).toEqual([{ n: 0 }]);
    const blobs = await readdir(join(server.dir, 'data', 'blobs'), { recursive: true });
    expect(blobs.filter((entry) => entry.startsWith('outputs') || entry.startsWith('logs'))).toEqual([]);
    expect(await mediaRuns()).toEqual(before);

    // The same idempotency key then takes a valid request, which does run.
    const ok = await post('/api/v1/convert', { input: clip, output: 'mkv' }, undefined, { 'idempotency-key': 'same-key' });
    expect(ok.status).toBe(202);
    const job = (await ok.json()) as { id: string };
    await api.waitFor(job.id, ['completed']);
    expect((await mediaRuns()).length).toBeGreaterThan(before.length);
  });
});

describe('presets', () => {
  const body = { description: 'small webm', output: { format: 'webm', video: { codec: 'vp8', preset: 'ultrafast' }, audio: { codec: 'vorbis' } }, operations: [{ type: 'resize', width: 160 }] };

  it('lists the built-ins, and reads one', async () => {
    const res = await server.fetch('/api/v1/presets', { headers: api.headers() });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { name: string; builtin: boolean }[] };
    expect(items.filter((p) => p.builtin).map((p) => p.name).sort()).toEqual(['archive-hevc', 'gif-preview', 'mobile-480p', 'podcast-audio', 'thumbnails', 'web-1080p', 'web-720p']);
    const one = await server.fetch('/api/v1/presets/web-720p', { headers: api.headers() });
    expect(await one.json()).toMatchObject({ name: 'web-720p', builtin: true, output: { format: 'mp4' }, operations: [{ type: 'resize', size: '720p' }] });
  });

  it('create, replace, read, delete: each key sees only its own', async () => {
    const created = await post('/api/v1/presets/small-webm', body, undefined, {}, 'PUT');
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/v1/presets/small-webm');
    expect(await created.json()).toMatchObject({ name: 'small-webm', builtin: false, description: 'small webm', created_at: expect.any(String) });
    const replaced = await post('/api/v1/presets/small-webm', { ...body, description: 'smaller' }, undefined, {}, 'PUT');
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toMatchObject({ description: 'smaller' });
    expect((await problem(await post('/api/v1/presets', { name: 'small-webm', ...body }), 409)).code).toBe('PRESET_EXISTS');
    const posted = await post('/api/v1/presets', { name: 'audio.v2', output: 'opus' });
    expect(posted.status).toBe(201);

    const list = (await (await server.fetch('/api/v1/presets', { headers: api.headers() })).json()) as { items: { name: string }[] };
    expect(list.items.map((p) => p.name)).toEqual(expect.arrayContaining(['audio.v2', 'small-webm']));
    const stranger = client(server, await server.key());
    expect((await server.fetch('/api/v1/presets/small-webm', { headers: stranger.headers() })).status).toBe(404);

    expect((await server.fetch('/api/v1/presets/audio.v2', { method: 'DELETE', headers: api.headers() })).status).toBe(204);
    expect((await server.fetch('/api/v1/presets/audio.v2', { method: 'DELETE', headers: api.headers() })).status).toBe(404);
  });

  it('refuses built-in names, invalid presets with pointers, and changes without jobs:write', async () => {
    expect((await problem(await post('/api/v1/presets/web-720p', body, undefined, {}, 'PUT'), 409)).code).toBe('PRESET_BUILTIN');
    expect((await problem(await server.fetch('/api/v1/presets/web-720p', { method: 'DELETE', headers: api.headers() }), 409)).code).toBe('PRESET_BUILTIN');
    const mismatch = await problem(await post('/api/v1/presets/bad', { output: { format: 'webm', video: { codec: 'h264' } } }, undefined, {}, 'PUT'), 422);
    expect(mismatch).toMatchObject({ code: 'INVALID_CODEC_FORMAT', errors: [{ pointer: '/output/video/codec', allowed: ['vp9', 'vp8'] }] });
    expect((await problem(await post('/api/v1/presets/bad', { output: 'mp4', input: clip }, undefined, {}, 'PUT'), 400)).code).toBe('VALIDATION_FAILED');
    expect((await post('/api/v1/presets/Bad Name', body, undefined, {}, 'PUT')).status).toBe(400);
    const reader = await server.key(['jobs:read']);
    expect((await server.fetch('/api/v1/presets', { headers: { authorization: `Bearer ${reader}` } })).status).toBe(200);
    expect((await post('/api/v1/presets/mine', body, reader, {}, 'PUT')).status).toBe(403);
    expect((await server.fetch('/api/v1/presets')).status).toBe(401);
  });

  it('a convert request names a preset and overrides it; the job stores the merged request', async () => {
    await post('/api/v1/presets/tiny', body, undefined, {}, 'PUT');
    const job = await api.convert({ input: clip, preset: 'tiny', output: { video: { crf: 40 } }, operations: [{ type: 'resize', width: 128 }] });
    expect((job as unknown as { request: unknown }).request).toMatchObject({
      preset: 'tiny',
      output: { format: 'webm', video: { codec: 'vp8', preset: 'ultrafast', crf: 40 }, audio: { codec: 'vorbis' } },
      operations: [{ type: 'resize', width: 128 }],
    });
    const done = await api.waitFor(job.id, ['completed', 'failed']);
    expect(done.error).toBeNull();
    const file = join(server.dir, 'tiny.webm');
    await writeFile(file, new Uint8Array(await (await api.download(done.outputs[0]!.url)).arrayBuffer()));
    const p = await ffprobe(file);
    expect(p.streams.map((s) => `${s.codec_type}:${s.codec_name}:${s.width ?? ''}`).sort()).toEqual(['audio:vorbis:', 'video:vp8:128']);

    const builtin = await api.convert({ input: clip, preset: 'thumbnails', operations: [{ type: 'thumbnails', count: 2 }] });
    const thumbs = await api.waitFor(builtin.id, ['completed', 'failed']);
    expect(thumbs.outputs.map((o) => o.name)).toEqual(['thumb-001.jpg', 'thumb-002.jpg']);
  });
});

describe('inputs of one job', () => {
  it('the input size limit is for all of a job’s inputs together', async () => {
    const size = (await readFile(join(server.dir, 'clip.mp4'))).length;
    const small = await startTestServer({ FFEDGE_POOL_SIZE: '1', FFEDGE_INPUT_LIMIT: String(Math.floor(size * 1.5)) });
    try {
      const smallApi = client(small, await small.key());
      const [a, b] = [await smallApi.upload(join(server.dir, 'clip.mp4')), await smallApi.upload(join(server.dir, 'clip.mp4'))];
      const one = await smallApi.convert({ input: a, output: 'mkv' });
      expect((await smallApi.waitFor(one.id, ['completed', 'failed'])).status).toBe('completed');
      const both = await smallApi.convert({ input: a, output: 'mkv', operations: [{ type: 'concat', inputs: [b] }] });
      const failed = await smallApi.waitFor(both.id, ['completed', 'failed']);
      expect(failed.error).toEqual({ code: 'INPUT_TOO_LARGE', message: `The inputs exceed the limit of ${Math.floor(size * 1.5)} bytes.` });
      expect(failed.attempts).toBe(1);
    } finally {
      await small.close();
    }
  });
});
