/**
 * Resumable uploads (tus 1.0) on the real Node service with the real tus-js-client: a file of several MiB sent in
 * chunks, interrupted mid-chunk and resumed from the offset the server reports, becomes an ordinary `upload:<id>`
 * that a convert job takes as its input. And the protocol's edges, each one changing nothing: an Upload-Length past
 * the limit, a PATCH at the wrong offset or past the length, two PATCHes racing, termination, expiry.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { Upload } from 'tus-js-client';
import { memoryUrlStorage } from '../helpers/tus-storage.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tusUploads } from '../../src/db/schema.js';
import { sweepRetention } from '../../src/storage/retention.js';
import { appendTusPart, findTusUpload } from '../../src/storage/tus-store.js';
import { client } from '../helpers/api.js';
import { makeClip } from '../helpers/media.js';
import { quietLog, startTestServer, type TestServer } from '../helpers/node-server.js';
import { storedUploads } from '../helpers/stored.js';

const LIMIT = 16 * 1024 * 1024;
const RETENTION_S = 3600;
const CHUNK = 1024 * 1024;
/** A page on another origin, as a browser's tus-js-client would be. */
const ORIGIN = 'https://app.example';

let server: TestServer;
let api: ReturnType<typeof client>;
let file: Buffer;

beforeAll(async () => {
  server = await startTestServer({ FFEDGE_CORS_ORIGINS: ORIGIN, FFEDGE_UPLOAD_LIMIT: String(LIMIT), FFEDGE_RETENTION_S: String(RETENTION_S), FFEDGE_RETENTION_SWEEP_MS: '3600000' });
  api = client(server, await server.key());
  const path = join(server.dir, 'clip.mp4');
  // ultrafast x264 of a 720p test pattern: about 0.8 MB a second, so several chunks of 1 MiB.
  await makeClip(path, { seconds: 6, size: '1280x720' });
  file = await readFile(path);
}, 120_000);
afterAll(async () => server?.close());

const endpoint = () => `${server.url}/api/v1/uploads/tus`;
const stored = () => storedUploads(server.platform.db, join(server.dir, 'data', 'blobs'));
const tusRows = async () => (await server.platform.db.select({ id: tusUploads.id }).from(tusUploads)).map((r) => r.id);
const tus = (extra: Record<string, string> = {}) => api.headers({ 'tus-resumable': '1.0.0', ...extra });
const b64 = (text: string) => Buffer.from(text).toString('base64');

async function create(length: number, headers: Record<string, string> = {}): Promise<{ res: Response; url: string }> {
  const res = await server.fetch('/api/v1/uploads/tus', { method: 'POST', headers: tus({ 'upload-length': String(length), ...headers }) });
  return { res, url: res.headers.get('location') ?? '' };
}

const patch = (url: string, offset: number, body: Uint8Array, headers: Record<string, string> = {}) =>
  server.fetch(url, { method: 'PATCH', headers: tus({ 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...headers }), body: body as unknown as BodyInit });

const head = (url: string) => server.fetch(url, { method: 'HEAD', headers: tus() });

describe('tus resumable uploads', () => {
  it('takes a file in chunks with tus-js-client, interrupted and resumed, as an upload a convert job uses', async () => {
    expect(file.byteLength).toBeGreaterThan(3 * CHUNK);
    const before = await stored();
    const urlStorage = memoryUrlStorage();
    const patches: string[] = [];
    const options = {
      endpoint: endpoint(),
      chunkSize: CHUNK,
      headers: api.headers(),
      metadata: { filename: 'clip één.mp4', filetype: 'video/mp4' },
      urlStorage,
      retryDelays: [0, 200, 1000, 2000],
      onBeforeRequest: (req: { getMethod(): string; getHeader(name: string): string | undefined }) => {
        if (req.getMethod() === 'PATCH') patches.push(req.getHeader('Upload-Offset') ?? '?');
      },
    };

    // First run: abort in the middle of the third chunk.
    const first = new Upload(file, options);
    await new Promise<void>((resolve, reject) => {
      Object.assign(first.options, {
        onError: reject,
        onSuccess: () => reject(new Error('finished before it was interrupted')),
        onProgress: (sent: number) => {
          if (sent > 2.5 * CHUNK) first.abort().then(resolve, reject);
        },
      });
      first.start();
    });
    const url = new URL(first.url!).pathname;
    expect(url).toMatch(/\/api\/v1\/uploads\/tus\/[0-9a-f-]{36}$/);
    const id = url.split('/').at(-1)!;

    // The server says how far it got: whole chunks only (a PATCH cut off counts whole if all its bytes had arrived,
    // else not at all), and it is not an upload yet.
    const probe = await head(url);
    expect(probe.status).toBe(200);
    expect(probe.headers.get('cache-control')).toBe('no-store');
    expect(probe.headers.get('tus-resumable')).toBe('1.0.0');
    expect(probe.headers.get('upload-length')).toBe(String(file.byteLength));
    const offset = Number(probe.headers.get('upload-offset'));
    expect(offset % CHUNK).toBe(0);
    expect(offset).toBeGreaterThanOrEqual(CHUNK);
    expect(offset).toBeLessThan(file.byteLength);
    expect((await server.fetch(`/api/v1/uploads/${id}`, { headers: api.headers() })).status).toBe(404);

    // Second run: a new Upload finds the first in its store and resumes from the server's offset.
    const second = new Upload(file, options);
    const previous = await second.findPreviousUploads();
    expect(previous).toHaveLength(1);
    second.resumeFromPreviousUpload(previous[0]!);
    const resumedAt = patches.length;
    await new Promise<void>((resolve, reject) => {
      Object.assign(second.options, { onError: reject, onSuccess: () => resolve() });
      second.start();
    });
    expect(second.url).toBe(first.url);
    expect(Number(patches[resumedAt])).toBeGreaterThanOrEqual(offset);
    // The cut PATCH was a client going away, not a fault of the service.
    expect(quietLog.errors.filter((e) => e.startsWith('unhandled error'))).toEqual([]);
    console.log(`tus: ${file.byteLength} bytes, interrupted at offset ${offset}, PATCH offsets ${patches.join(',')}`);

    const res = await server.fetch(`/api/v1/uploads/${id}`, { headers: api.headers() });
    expect(res.status).toBe(200);
    const upload = (await res.json()) as { uri: string; size: number; sha256: string; filename: string; content_type: string; created_at: string; expires_at: string };
    expect(upload).toMatchObject({
      uri: `upload:${id}`,
      size: file.byteLength,
      sha256: createHash('sha256').update(file).digest('hex'),
      filename: 'clip één.mp4',
      content_type: 'video/mp4',
    });
    expect(Date.parse(upload.expires_at) - Date.parse(upload.created_at)).toBe(RETENTION_S * 1000);
    // Its parts are gone: the store holds the upload and nothing else of it.
    expect(await stored()).toEqual([...before, `blob:uploads/${id}`, `row:${id}`].sort());
    const done = await head(url);
    expect(done.headers.get('upload-offset')).toBe(String(file.byteLength));

    const job = await api.convert({ input: upload.uri, output: 'mkv' });
    const finished = await api.waitFor(job.id, ['completed', 'failed'], 120_000);
    expect(finished.status).toBe('completed');
  }, 180_000);

  it('keeps nothing of a PATCH whose client goes away mid-body', async () => {
    const { url } = await create(5000);
    const id = url.split('/').at(-1)!;
    expect((await patch(url, 0, new Uint8Array(1000))).status).toBe(204);
    await new Promise<void>((resolve) => {
      const req = request(server.url + url, {
        method: 'PATCH',
        headers: tus({ 'content-type': 'application/offset+octet-stream', 'upload-offset': '1000', 'content-length': '3000' }),
      });
      req.on('error', () => resolve());
      req.write(new Uint8Array(1500), () => setTimeout(() => req.destroy(), 100));
    });
    // The server notices the cut when it reads on; wait for its part to go rather than for a fixed time.
    const parts = async () => (await stored()).filter((s) => s.includes(`tus/${id}.`));
    for (let tries = 0; (await parts()).length > 1 && tries < 100; tries++) await new Promise((r) => setTimeout(r, 100));
    expect(await parts()).toHaveLength(1);
    expect(quietLog.errors.filter((e) => e.startsWith('unhandled error'))).toEqual([]);
    expect((await head(url)).headers.get('upload-offset')).toBe('1000');
    expect((await patch(url, 1000, new Uint8Array(4000))).status).toBe(204);
    expect((await server.fetch(`/api/v1/uploads/${id}`, { headers: api.headers() })).status).toBe(200);
  });

  it('finishes an upload whose last PATCH died while copying, when the client sends the last bytes again', async () => {
    const bytes = new Uint8Array(3000).map((_, i) => i % 251);
    const { url } = await create(3000);
    const id = url.split('/').at(-1)!;
    expect((await patch(url, 0, bytes.slice(0, 1000))).status).toBe(204);
    // What a crash leaves: the last part counted (the CAS happened) and no upload row, its lease run out.
    const deps = { db: server.platform.db, blobs: server.platform.blobs, clock: () => Date.now() };
    const row = (await findTusUpload(deps.db, id, (await server.platform.db.select().from(tusUploads).where(eq(tusUploads.id, id)).get())!.apiKeyId))!;
    await appendTusPart(deps, row, new Blob([bytes.slice(1000)]).stream());
    // While its lease holds, the last bytes are not counted yet and a PATCH of them waits (409).
    expect((await head(url)).headers.get('upload-offset')).toBe('1000');
    expect((await patch(url, 1000, bytes.slice(1000))).status).toBe(409);
    await deps.db.update(tusUploads).set({ finishingUntil: Date.now() - 1 }).where(eq(tusUploads.id, id));

    const res = await patch(url, 1000, bytes.slice(1000));
    expect([res.status, res.headers.get('upload-offset')]).toEqual([204, '3000']);
    const upload = (await (await server.fetch(`/api/v1/uploads/${id}`, { headers: api.headers() })).json()) as { size: number; sha256: string };
    expect(upload).toMatchObject({ size: 3000, sha256: createHash('sha256').update(bytes).digest('hex') });
    // The dead request's part went with the takeover, the rest with the copy.
    expect((await stored()).filter((s) => s.includes(`tus/${id}.`))).toEqual([]);
  });

  it('answers OPTIONS with what it speaks, without a key', async () => {
    const res = await server.fetch('/api/v1/uploads/tus', { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('tus-resumable')).toBe('1.0.0');
    expect(res.headers.get('tus-version')).toBe('1.0.0');
    expect(res.headers.get('tus-extension')).toBe('creation,creation-with-upload,termination,expiration');
    expect(res.headers.get('tus-max-size')).toBe(String(LIMIT));
    // With CORS on, a plain OPTIONS is still this operation, not taken for a preflight; a page may read its answer.
    const fromPage = await server.fetch('/api/v1/uploads/tus', { method: 'OPTIONS', headers: { origin: ORIGIN } });
    expect([fromPage.status, fromPage.headers.get('tus-version'), fromPage.headers.get('access-control-allow-origin')]).toEqual([204, '1.0.0', ORIGIN]);
  });

  it('refuses an Upload-Length past the upload limit with 413, storing nothing', async () => {
    const before = [await stored(), await tusRows()];
    const { res } = await create(LIMIT + 1);
    expect(res.status).toBe(413);
    expect(res.headers.get('tus-resumable')).toBe('1.0.0');
    expect(((await res.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
    expect([await stored(), await tusRows()]).toEqual(before);
    // The same with tus-js-client: it reports the 413 as its error.
    const error = await new Promise<Error>((resolve) => {
      new Upload(Buffer.alloc(8), { endpoint: endpoint(), headers: api.headers(), uploadSize: LIMIT + 1, onError: resolve, onSuccess: () => resolve(new Error('accepted')) }).start();
    });
    expect(String(error)).toContain('413');
    expect([await stored(), await tusRows()]).toEqual(before);
  });

  it('refuses a PATCH at the wrong offset or past the length, and counts one of two racing PATCHes', async () => {
    const { res, url } = await create(3000, { 'upload-metadata': `filename ${b64('a.bin')}` });
    expect(res.status).toBe(201);
    expect(Date.parse(res.headers.get('upload-expires')!)).toBeGreaterThan(Date.now());
    const wrong = await patch(url, 10, new Uint8Array(100));
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { code: string }).code).toBe('OFFSET_MISMATCH');
    expect((await head(url)).headers.get('upload-offset')).toBe('0');

    const past = await patch(url, 0, new Uint8Array(3001));
    expect(past.status).toBe(413);
    expect((await head(url)).headers.get('upload-offset')).toBe('0');

    const untyped = await server.fetch(url, { method: 'PATCH', headers: tus({ 'content-type': 'application/octet-stream', 'upload-offset': '0' }), body: new Uint8Array(10) });
    expect(untyped.status).toBe(415);

    const racing = await Promise.all([patch(url, 0, new Uint8Array(1000).fill(1)), patch(url, 0, new Uint8Array(1000).fill(2))]);
    expect(racing.map((r) => r.status).sort()).toEqual([204, 409]);
    expect((await head(url)).headers.get('upload-offset')).toBe('1000');
    const rows = await server.platform.db.select().from(tusUploads).where(eq(tusUploads.id, url.split('/').at(-1)!));
    expect(rows[0]!.parts).toHaveLength(1);
    // The loser's part was deleted: one part blob of this upload is left.
    expect((await stored()).filter((s) => s.includes(`tus/${rows[0]!.id}.`))).toHaveLength(1);
    expect((await server.fetch(url, { method: 'DELETE', headers: tus() })).status).toBe(204);
  });

  it('refuses a request without Tus-Resumable: 1.0.0 with 412 and Tus-Version', async () => {
    const res = await server.fetch('/api/v1/uploads/tus', { method: 'POST', headers: api.headers({ 'upload-length': '10' }) });
    expect(res.status).toBe(412);
    expect(res.headers.get('tus-version')).toBe('1.0.0');
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });

  it('refuses bad Upload-Metadata with a 400 naming it', async () => {
    const before = await tusRows();
    const { res } = await create(10, { 'upload-metadata': 'filename not*base64' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { parameter: string }[] }).errors[0]!.parameter).toBe('upload-metadata');
    expect(await tusRows()).toEqual(before);
  });

  it('takes a whole small file in the creation request (creation-with-upload)', async () => {
    const bytes = new Uint8Array(4096).fill(7);
    const res = await server.fetch('/api/v1/uploads/tus', {
      method: 'POST',
      headers: tus({ 'upload-length': '4096', 'content-type': 'application/offset+octet-stream', 'upload-metadata': `filename ${b64('x.bin')},filetype ${b64('application/octet-stream')}` }),
      body: bytes,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('upload-offset')).toBe('4096');
    const id = res.headers.get('location')!.split('/').at(-1)!;
    const upload = (await (await server.fetch(`/api/v1/uploads/${id}`, { headers: api.headers() })).json()) as { size: number; sha256: string; filename: string };
    expect(upload).toMatchObject({ size: 4096, sha256: createHash('sha256').update(bytes).digest('hex'), filename: 'x.bin' });
  });

  it('terminates an upload on DELETE, leaving nothing of it', async () => {
    const before = [await stored(), await tusRows()];
    const { url } = await create(5000);
    expect((await patch(url, 0, new Uint8Array(2000))).status).toBe(204);
    expect((await stored()).length).toBe(before[0]!.length + 1);
    const res = await server.fetch(url, { method: 'DELETE', headers: tus() });
    expect(res.status).toBe(204);
    expect(res.headers.get('tus-resumable')).toBe('1.0.0');
    expect((await head(url)).status).toBe(404);
    expect((await patch(url, 2000, new Uint8Array(10))).status).toBe(404);
    expect([await stored(), await tusRows()]).toEqual(before);
  });

  it('sweeps an unfinished upload once its Upload-Expires passes, and not before', async () => {
    const { res, url } = await create(5000);
    const id = url.split('/').at(-1)!;
    // The sweep moves the clock for every upload of this server: look only at this one's.
    const own = async () => [(await stored()).filter((s) => s.includes(id)), (await tusRows()).filter((r) => r === id)];
    const expires = Date.parse(res.headers.get('upload-expires')!);
    expect(expires - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000);
    expect((await patch(url, 0, new Uint8Array(1000))).status).toBe(204);
    const sweepAt = (clock: number) => sweepRetention({ db: server.platform.db, blobs: server.platform.blobs, clock: () => clock, log: quietLog });
    await sweepAt(expires - 60_000);
    expect((await head(url)).headers.get('upload-offset')).toBe('1000');
    expect((await own())[0]).toHaveLength(1);
    await sweepAt(expires + 1000);
    expect((await head(url)).status).toBe(404);
    expect(await own()).toEqual([[], []]);
  });

  it('answers an unfinished upload past its Upload-Expires with 410 before the sweep takes it', async () => {
    const { url } = await create(5000);
    const id = url.split('/').at(-1)!;
    expect((await patch(url, 0, new Uint8Array(1000))).status).toBe(204);
    // Its expiry moved into the past, as time would: the server's clock is the real one.
    await server.platform.db.update(tusUploads).set({ expiresAt: Date.now() - 1000 }).where(eq(tusUploads.id, id));
    const gone = await patch(url, 1000, new Uint8Array(10));
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { code: string }).code).toBe('UPLOAD_EXPIRED');
    expect((await head(url)).status).toBe(410);
    await sweepRetention({ db: server.platform.db, blobs: server.platform.blobs, clock: () => Date.now(), log: quietLog });
    expect((await head(url)).status).toBe(404);
    expect((await stored()).filter((s) => s.includes(id))).toEqual([]);
  });

  it('lets a page on an allowed origin read the tus headers (CORS)', async () => {
    const preflight = await server.fetch('/api/v1/uploads/tus/01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,tus-resumable,upload-offset,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('upload-offset');
    const { url } = await create(10, { origin: ORIGIN });
    const res = await server.fetch(url, { method: 'HEAD', headers: tus({ origin: ORIGIN }) });
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(',');
    for (const name of ['location', 'upload-offset', 'upload-length', 'upload-expires', 'tus-resumable', 'tus-version', 'tus-extension', 'tus-max-size']) expect(exposed).toContain(name);
    expect((await server.fetch(url, { method: 'DELETE', headers: tus() })).status).toBe(204);
  });

  it('needs a key with jobs:write', async () => {
    const anonymous = await server.fetch('/api/v1/uploads/tus', { method: 'POST', headers: { 'tus-resumable': '1.0.0', 'upload-length': '10' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('tus-resumable')).toBe('1.0.0');
    const reader = client(server, await server.key(['jobs:read']));
    const readOnly = await server.fetch('/api/v1/uploads/tus', { method: 'POST', headers: reader.headers({ 'tus-resumable': '1.0.0', 'upload-length': '10' }) });
    expect(readOnly.status).toBe(403);
  });
});
