/**
 * The HTTP contract of ffedge, one suite run against every runtime: Node (node.test.ts, a real HTTP server on a
 * temp libSQL file) and workerd (workers.test.ts, D1 and Durable Objects). The harness gives a fetch and fresh keys;
 * jobs are not executed here, so every job stays where the API put it.
 */
import { describe, expect, it } from 'vitest';

export interface Harness {
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A new API key with these scopes (default jobs:read + jobs:write). */
  key(scopes?: string[]): Promise<string>;
  /** The configured per-key concurrent-job limit and upload limit. */
  concurrentJobs: number;
  uploadBytes: number;
  /**
   * Everything uploads have left in storage: `row:<id>` for each row of the uploads table and `blob:<name>` for each
   * file or object of the blob store, temp files included, so a refused upload can be shown to have left nothing.
   */
  stored(): Promise<string[]>;
}

interface Seen {
  method: string;
  path: string;
  status: number;
  contentType: string;
}

export function contractSuite(name: string, harness: () => Harness): void {
  // Every answer the suite gets is kept, so that the last test can hold the OpenAPI document to what was answered.
  const seen: Seen[] = [];
  const h = (): Harness => {
    const base = harness();
    return Object.assign(Object.create(base) as Harness, {
      async fetch(path: string, init?: RequestInit) {
        const res = await base.fetch(path, init);
        seen.push({ method: (init?.method ?? 'GET').toUpperCase(), path: new URL(path, 'http://x').pathname, status: res.status, contentType: res.headers.get('content-type') ?? '' });
        return res;
      },
    });
  };
  const auth = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
  const json = (key: string, body: unknown, extra: Record<string, string> = {}): RequestInit => ({
    method: 'POST',
    headers: auth(key, { 'content-type': 'application/json', ...extra }),
    body: JSON.stringify(body),
  });

  async function upload(key: string, bytes = new Uint8Array([1, 2, 3, 4])): Promise<string> {
    const res = await h().fetch('/api/v1/uploads?filename=clip.mp4', {
      method: 'POST',
      headers: auth(key, { 'content-type': 'video/mp4' }),
      body: bytes,
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { uri: string }).uri;
  }

  /** A body of `total` bytes made as it is read, so the request has no length (it is sent chunked). */
  function chunked(total: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        const size = Math.min(chunk, total - sent);
        controller.enqueue(new Uint8Array(size).fill(7));
        sent += size;
      },
    });
  }

  async function convert(key: string, input: string, extra: Record<string, string> = {}, output: unknown = 'mp4') {
    return h().fetch('/api/v1/convert', json(key, { input, output }, extra));
  }

  async function expectProblem(res: Response, status: number, code: string) {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status, code, title: expect.any(String), instance: expect.any(String) });
    expect(body.instance).toBe(res.headers.get('x-request-id'));
    return body as { errors?: { pointer?: string; parameter?: string; message: string; allowed?: unknown[]; suggestion?: unknown }[]; detail?: string };
  }

  describe(`contract (${name})`, () => {
    describe('signed events link', () => {
      /** The status of opening `url`, and the first bytes of the stream when it opens. */
      async function open(url: string, init: RequestInit = {}): Promise<{ status: number; first: string }> {
        const res = await h().fetch(url, init);
        let first = '';
        if (res.status === 200) {
          const reader = res.body!.getReader();
          first = new TextDecoder().decode((await reader.read()).value);
          await reader.cancel();
        } else await res.body?.cancel();
        return { status: res.status, first };
      }

      it('opens the job’s events without a header, and no other job’s', async () => {
        const key = await h().key();
        const job = (await (await convert(key, await upload(key))).json()) as { id: string; links: { events: string; events_url: string } };
        expect(job.links.events_url).toMatch(new RegExp(`^/api/v1/jobs/${job.id}/events\\?token=\\d+\\.[A-Za-z0-9]+\\.[A-Za-z0-9_-]{43}$`));
        const opened = await open(job.links.events_url);
        expect(opened.status).toBe(200);
        expect(opened.first).toMatch(/event: status/);
        // The same link comes with GET /jobs/:id, for a page that lost it.
        const again = (await (await h().fetch(`/api/v1/jobs/${job.id}`, { headers: auth(key) })).json()) as { links: { events_url: string } };
        expect(again.links.events_url).toMatch(/\?token=/);

        const other = (await (await convert(key, await upload(key))).json()) as { id: string };
        const token = job.links.events_url.split('token=')[1]!;
        const refused = [
          `/api/v1/jobs/${other.id}/events?token=${token}`,
          `/api/v1/jobs/${job.id}/events?token=${token.slice(0, -2)}AA`,
          `/api/v1/jobs/${job.id}/events?token=1.${token.split('.')[1]}.${token.split('.')[2]}`,
          `/api/v1/jobs/${job.id}/events?token=garbage`,
        ];
        for (const url of refused) {
          const res = await h().fetch(url);
          await expectProblem(res, 401, 'UNAUTHORIZED');
        }
        // It opens only the events: not the job, its logs or its outputs.
        await expectProblem(await h().fetch(`/api/v1/jobs/${job.id}?token=${token}`), 401, 'UNAUTHORIZED');
        await expectProblem(await h().fetch(`/api/v1/jobs/${job.id}/logs?token=${token}`), 401, 'UNAUTHORIZED');
      });
    });

    describe('auth', () => {
      it('refuses a missing key with 401 and a Bearer challenge', async () => {
        const res = await h().fetch('/api/v1/jobs');
        await expectProblem(res, 401, 'UNAUTHORIZED');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      });

      it('refuses malformed keys, unknown ids and wrong secrets alike', async () => {
        const good = await h().key();
        const wrongSecret = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
        const unknownId = 'ffe_' + 'a'.repeat(16) + good.slice(20);
        for (const value of ['nope', 'ffe_short_x', wrongSecret, unknownId]) {
          const body = await expectProblem(await h().fetch('/api/v1/jobs', { headers: auth(value) }), 401, 'UNAUTHORIZED');
          expect(body.detail).toBe('The API key is not valid.');
        }
      });

      it('accepts the key in Authorization or X-API-Key', async () => {
        const key = await h().key();
        expect((await h().fetch('/api/v1/jobs', { headers: auth(key) })).status).toBe(200);
        expect((await h().fetch('/api/v1/jobs', { headers: { 'x-api-key': key } })).status).toBe(200);
      });

      it('enforces scopes: a read-only key cannot create jobs', async () => {
        const writer = await h().key();
        const reader = await h().key(['jobs:read']);
        const input = await upload(writer);
        await expectProblem(await convert(reader, input), 403, 'FORBIDDEN');
      });
    });

    describe('errors and headers', () => {
      it('answers unknown routes with a 404 problem, X-Request-Id and security headers', async () => {
        const res = await h().fetch('/api/v1/nothing-here');
        await expectProblem(res, 404, 'NOT_FOUND');
        expect(res.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      });

      it('answers a wrong method on a known path with 405 and Allow', async () => {
        const key = await h().key();
        const res = await h().fetch('/api/v1/jobs', { method: 'PUT', headers: auth(key) });
        await expectProblem(res, 405, 'METHOD_NOT_ALLOWED');
        expect(res.headers.get('allow')).toContain('GET');
      });

      it('keeps a client-sent request id', async () => {
        const res = await h().fetch('/health', { headers: { 'x-request-id': 'client-id-12345' } });
        expect(res.headers.get('x-request-id')).toBe('client-id-12345');
      });
    });

    describe('validation', () => {
      it('points at the field at fault and lists the allowed values', async () => {
        const key = await h().key();
        const input = await upload(key);
        const res = await h().fetch('/api/v1/convert', json(key, { input, output: { format: 'mp4', video: { codec: 'divx' } } }));
        const body = await expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(body.errors).toEqual([
          { pointer: '/output/video/codec', message: expect.any(String), allowed: ['h264', 'h265', 'vp9', 'vp8', 'gif', 'webp', 'png', 'jpeg'] },
        ]);
      });

      it('every enum or union problem lists the allowed values and suggests the close one', async () => {
        const key = await h().key();
        const input = await upload(key);
        const cases = [
          [{ output: 'mp5' }, '/output', 'mp4', 'mp4'],
          [{ output: 'mp4', operations: [{ type: 'rotate', degrees: 45 }] }, '/operations/0/degrees', 270, 90],
          [{ output: 'mp4', operations: [{ type: 'resise', width: 640 }] }, '/operations/0/type', 'trim', 'resize'],
          [{ output: 'mp4', operations: [{ type: 'text', text: 'hi', color: 'reed' }] }, '/operations/0/color', 'white', 'red'],
        ] as const;
        for (const [body, pointer, allowed, suggestion] of cases) {
          const problem = await expectProblem(await h().fetch('/api/v1/convert', json(key, { input, ...body })), 400, 'VALIDATION_FAILED');
          expect(problem.errors).toEqual([{ pointer, message: expect.any(String), allowed: expect.arrayContaining([allowed]), suggestion }]);
        }
      });

      it('audit #32: a metadata tag named __proto__ is refused with the allowed tag keys', async () => {
        const key = await h().key();
        const input = await upload(key);
        const raw = `{"input":${JSON.stringify(input)},"output":"mp4","operations":[{"type":"metadata","tags":{"__proto__":"x","title":"t"}}]}`;
        const res = await h().fetch('/api/v1/convert', { method: 'POST', headers: auth(key, { 'content-type': 'application/json' }), body: raw });
        const problem = await expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(problem.errors).toEqual([
          { pointer: '/operations/0/tags/__proto__', message: expect.stringContaining('__proto__'), allowed: expect.arrayContaining(['title', 'comment']) },
        ]);
      });

      it('UNKNOWN_PRESET lists the built-in presets and this key’s own, and suggests the close one', async () => {
        const key = await h().key();
        const other = await h().key();
        const input = await upload(key);
        const preset = { output: { format: 'webm', video: { codec: 'vp8' }, audio: { codec: 'vorbis' } } };
        const put = (k: string, name: string) => h().fetch(`/api/v1/presets/${name}`, { ...json(k, preset), method: 'PUT' });
        expect((await put(key, 'small-webm')).status).toBe(201);
        expect((await put(other, 'theirs-only')).status).toBe(201);
        const res = await h().fetch('/api/v1/convert', json(key, { input, preset: 'small-web' }));
        const problem = await expectProblem(res, 422, 'UNKNOWN_PRESET');
        expect(problem.errors).toEqual([
          { pointer: '/preset', message: expect.any(String), allowed: expect.arrayContaining(['web-720p', 'thumbnails', 'small-webm']), suggestion: 'small-webm' },
        ]);
        expect(problem.errors?.[0]?.allowed).not.toContain('theirs-only');
      });

      it('refuses unknown fields, missing fields, bad JSON and wrong content types', async () => {
        const key = await h().key();
        const input = await upload(key);
        const unknown = await expectProblem(
          await h().fetch('/api/v1/convert', json(key, { input, output: 'mp4', shell: 'rm -rf /' })),
          400,
          'VALIDATION_FAILED',
        );
        expect(unknown.errors?.[0]?.message).toMatch(/shell/);
        const missing = await expectProblem(await h().fetch('/api/v1/convert', json(key, { output: 'mp4' })), 400, 'VALIDATION_FAILED');
        expect(missing.errors?.map((e) => e.pointer)).toContain('/input');
        await expectProblem(
          await h().fetch('/api/v1/convert', { method: 'POST', headers: auth(key, { 'content-type': 'application/json' }), body: '{"input":' }),
          400,
          'BAD_REQUEST',
        );
        await expectProblem(
          await h().fetch('/api/v1/convert', { method: 'POST', headers: auth(key, { 'content-type': 'text/plain' }), body: 'mp4 please' }),
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        );
      });

      it('refuses a codec the container cannot hold, with the allowed codecs and a suggestion', async () => {
        const key = await h().key();
        const input = await upload(key);
        const res = await convert(key, input, {}, { format: 'mp4', video: { codec: 'vp8' } });
        const body = await expectProblem(res, 422, 'INVALID_CODEC_FORMAT');
        expect(body.errors?.[0]).toMatchObject({ pointer: '/output/video/codec', allowed: expect.arrayContaining(['h264']) });
        expect(body.errors?.[0]?.suggestion).toBeDefined();
      });

      it('audit #30: a sprite of 1,000 tiles of 1,280 px in 50 columns is refused at submission, not accepted', async () => {
        const key = await h().key();
        const input = await upload(key);
        const body = { input, output: 'jpg', operations: [{ type: 'sprite', count: 1000, tile_width: 1280, columns: 50 }] };
        const problem = await expectProblem(await h().fetch('/api/v1/convert', json(key, body)), 422, 'LIMIT_EXCEEDED');
        expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/operations/0', message: expect.stringContaining('sheet') })]);
        const listed = (await (await h().fetch('/api/v1/jobs', { headers: auth(key) })).json()) as { items: unknown[] };
        expect(listed.items).toEqual([]);
      });

      it('refuses an input that is not this key’s upload', async () => {
        const a = await h().key();
        const b = await h().key();
        const input = await upload(a);
        await expectProblem(await convert(b, input), 422, 'INPUT_NOT_FOUND');
        await expectProblem(await convert(a, 'upload:01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c'), 422, 'INPUT_NOT_FOUND');
        const scheme = await expectProblem(await convert(a, 'file:///etc/passwd'), 400, 'VALIDATION_FAILED');
        expect(scheme.errors?.[0]?.pointer).toBe('/input');
      });

      it('audit #8: a JSON body over the limit is refused with 413', async () => {
        const key = await h().key();
        const res = await h().fetch('/api/v1/convert', json(key, { input: 'upload:x', output: 'mp4', pad: 'x'.repeat(200_000) }));
        await expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
      });

      it('audit #8: an upload over the limit is refused with 413 and nothing is stored', async () => {
        const key = await h().key();
        const before = await h().stored();
        const res = await h().fetch('/api/v1/uploads', {
          method: 'POST',
          headers: auth(key, { 'content-type': 'application/octet-stream' }),
          body: new Uint8Array(h().uploadBytes + 1),
        });
        await expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
        expect(await h().stored()).toEqual(before);
      });

      it('audit #8: a chunked upload with no length is cut off at the limit while streaming, and nothing is stored', async () => {
        // No Content-Length to refuse up front: only the limit counted while the body streams can stop this one.
        const key = await h().key();
        const before = await h().stored();
        const res = await h().fetch('/api/v1/uploads', {
          method: 'POST',
          headers: auth(key, { 'content-type': 'application/octet-stream' }),
          body: chunked(h().uploadBytes + 256 * 1024),
          duplex: 'half',
        } as RequestInit);
        await expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
        expect(await h().stored()).toEqual(before);
      });

      it('audit #22: a unicode upload name is kept NFC-normalised; a bidi trick is refused', async () => {
        const key = await h().key();
        const name = encodeURIComponent('Cafe\u0301 видео 動画.mp4');
        const ok = await h().fetch(`/api/v1/uploads?filename=${name}`, { method: 'POST', headers: auth(key), body: new Uint8Array([1]) });
        expect(ok.status).toBe(201);
        expect(((await ok.json()) as { filename: string }).filename).toBe('Caf\u00e9 видео 動画.mp4');
        const trick = encodeURIComponent('invoice\u202Egnp.exe');
        const bad = await h().fetch(`/api/v1/uploads?filename=${trick}`, { method: 'POST', headers: auth(key), body: new Uint8Array([1]) });
        const body = await expectProblem(bad, 400, 'VALIDATION_FAILED');
        expect(body.errors?.[0]?.parameter).toBe('filename');
      });
    });

    describe('jobs', () => {
      it('creates, gets, lists and cancels a job', async () => {
        const key = await h().key();
        const input = await upload(key);
        const created = await convert(key, input);
        expect(created.status).toBe(202);
        const job = (await created.json()) as { id: string; status: string; links: { self: string } };
        expect(job.status).toBe('queued');
        expect(job.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(created.headers.get('location')).toBe(job.links.self);

        const got = await h().fetch(job.links.self, { headers: auth(key) });
        expect(got.status).toBe(200);
        expect(await got.json()).toMatchObject({ id: job.id, kind: 'convert', status: 'queued', progress: { stage: 'queued', percentage: null } });

        const list = (await (await h().fetch('/api/v1/jobs', { headers: auth(key) })).json()) as { items: { id: string }[] };
        expect(list.items.map((j) => j.id)).toEqual([job.id]);

        const cancelled = await h().fetch(job.links.self, { method: 'DELETE', headers: auth(key) });
        expect(cancelled.status).toBe(200);
        expect(await cancelled.json()).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
        await expectProblem(await h().fetch(job.links.self, { method: 'DELETE', headers: auth(key) }), 409, 'JOB_FINISHED');
      });

      it('hides other keys’ jobs', async () => {
        const a = await h().key();
        const b = await h().key();
        const job = (await (await convert(a, await upload(a))).json()) as { id: string };
        await expectProblem(await h().fetch(`/api/v1/jobs/${job.id}`, { headers: auth(b) }), 404, 'NOT_FOUND');
        await expectProblem(await h().fetch(`/api/v1/jobs/${job.id}`, { method: 'DELETE', headers: auth(b) }), 404, 'NOT_FOUND');
        const list = (await (await h().fetch('/api/v1/jobs', { headers: auth(b) })).json()) as { items: unknown[] };
        expect(list.items).toEqual([]);
      });

      it('pages with a keyset cursor: no repeats, no gaps, stable order', async () => {
        const key = await h().key();
        const input = await upload(key);
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          const job = (await (await convert(key, input)).json()) as { id: string };
          ids.push(job.id);
          // Cancel as we go so the concurrency limit never stops the setup.
          expect((await h().fetch(`/api/v1/jobs/${job.id}`, { method: 'DELETE', headers: auth(key) })).status).toBe(200);
        }
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const query: string = cursor ? `&cursor=${cursor}` : '';
          const page = (await (await h().fetch(`/api/v1/jobs?limit=3${query}`, { headers: auth(key) })).json()) as {
            items: { id: string }[];
            next_cursor: string | null;
          };
          expect(page.items.length).toBeLessThanOrEqual(3);
          seen.push(...page.items.map((j) => j.id));
          cursor = page.next_cursor;
        } while (cursor);
        expect(seen).toEqual([...ids].reverse());
        const ascending = (await (await h().fetch('/api/v1/jobs?sort=created_at&limit=100&status=cancelled', { headers: auth(key) })).json()) as {
          items: { id: string }[];
        };
        expect(ascending.items.map((j) => j.id)).toEqual(ids);
      });

      it('audit #6: hostile filter, sort, limit and cursor values get 400 and reach no query', async () => {
        const key = await h().key();
        for (const query of [
          "status=queued' OR '1'='1",
          'sort=created_at;DROP TABLE jobs',
          'sort=api_key_id',
          'kind=convert%00',
          'limit=1000',
          'limit=-1',
          'cursor=eyJzcWwiOiIxPTEifQ',
          'cursor=not%20a%20cursor',
          'unknown=1',
        ]) {
          await expectProblem(await h().fetch(`/api/v1/jobs?${query}`, { headers: auth(key) }), 400, 'VALIDATION_FAILED');
        }
        expect((await h().fetch('/api/v1/jobs', { headers: auth(key) })).status).toBe(200);
      });
    });

    describe('idempotency', () => {
      it('audit #2: a retry with the same Idempotency-Key and body returns the first job', async () => {
        const key = await h().key();
        const input = await upload(key);
        const first = await convert(key, input, { 'idempotency-key': 'order-42' });
        const again = await convert(key, input, { 'idempotency-key': 'order-42' });
        expect(first.status).toBe(202);
        expect(again.status).toBe(202);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
        const list = (await (await h().fetch('/api/v1/jobs', { headers: auth(key) })).json()) as { items: unknown[] };
        expect(list.items).toHaveLength(1);
      });

      it('refuses the same Idempotency-Key with a different body (422)', async () => {
        const key = await h().key();
        const input = await upload(key);
        expect((await convert(key, input, { 'idempotency-key': 'k-1' })).status).toBe(202);
        await expectProblem(await convert(key, input, { 'idempotency-key': 'k-1' }, 'webm'), 422, 'IDEMPOTENCY_KEY_REUSED');
      });

      it('audit #2: concurrent submissions with one Idempotency-Key make exactly one job', async () => {
        const key = await h().key();
        const input = await upload(key);
        const responses = await Promise.all(Array.from({ length: 10 }, () => convert(key, input, { 'idempotency-key': 'same' })));
        const statuses = responses.map((r) => r.status);
        expect(statuses.every((s) => s === 202 || s === 409)).toBe(true);
        const ids = new Set<string>();
        for (const r of responses) if (r.status === 202) ids.add(((await r.json()) as { id: string }).id);
        expect(ids.size).toBe(1);
        const list = (await (await h().fetch('/api/v1/jobs', { headers: auth(key) })).json()) as { items: unknown[] };
        expect(list.items).toHaveLength(1);
      });
    });

    describe('quota', () => {
      it('audit #23: 50 parallel submissions admit exactly the concurrent-job limit; the rest get 429 with Retry-After', async () => {
        const key = await h().key();
        const input = await upload(key);
        const responses = await Promise.all(Array.from({ length: 50 }, () => convert(key, input)));
        const accepted = responses.filter((r) => r.status === 202);
        const refused = responses.filter((r) => r.status === 429);
        expect(accepted).toHaveLength(h().concurrentJobs);
        expect(refused).toHaveLength(50 - h().concurrentJobs);
        for (const r of refused) {
          expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
          expect(((await r.json()) as { code: string }).code).toBe('CONCURRENCY_LIMIT');
        }
        const list = (await (await h().fetch('/api/v1/jobs?status=queued', { headers: auth(key) })).json()) as { items: unknown[] };
        expect(list.items).toHaveLength(h().concurrentJobs);
      });
    });

    describe('analyze', () => {
      const analyze = (key: string, body: unknown) => h().fetch('/api/v1/analyze', json(key, body));

      it('refuses malformed analyze requests with pointers and allowed values', async () => {
        const key = await h().key();
        const input = await upload(key);
        const reference = await upload(key);
        const unknown = await expectProblem(await analyze(key, { input, reference, shell: 'rm -rf /' }), 400, 'VALIDATION_FAILED');
        expect(unknown.errors?.[0]?.message).toMatch(/shell/);
        const missing = await expectProblem(await analyze(key, { input, metrics: ['psnr'] }), 400, 'VALIDATION_FAILED');
        expect(missing.errors?.map((e) => e.pointer)).toContain('/reference');
        const metric = await expectProblem(await analyze(key, { input, reference, metrics: ['vmaf', 'bogus'] }), 400, 'VALIDATION_FAILED');
        expect(metric.errors?.[0]).toMatchObject({ pointer: '/metrics/1', allowed: ['vmaf', 'psnr', 'ssim'] });
        const twice = await expectProblem(await analyze(key, { input, reference, metrics: ['psnr', 'psnr'] }), 400, 'VALIDATION_FAILED');
        expect(twice.errors?.[0]?.pointer).toBe('/metrics/1');
        const model = await expectProblem(await analyze(key, { input, reference, vmaf_model: 'hdr' }), 400, 'VALIDATION_FAILED');
        expect(model.errors?.[0]).toMatchObject({ pointer: '/vmaf_model', allowed: ['default', '4k', 'phone'] });
        for (const subsample of [0, 101, 2.5]) {
          const body = await expectProblem(await analyze(key, { input, reference, subsample }), 400, 'VALIDATION_FAILED');
          expect(body.errors?.[0]?.pointer).toBe('/subsample');
        }
        const list = (await (await h().fetch('/api/v1/jobs', { headers: auth(key) })).json()) as { items: unknown[] };
        expect(list.items).toEqual([]);
      });

      it('audit #13: an analyze request that contradicts itself or names another key’s file stores nothing', async () => {
        const key = await h().key();
        const other = await h().key();
        const input = await upload(key);
        const reference = await upload(key);
        const contradiction = await expectProblem(await analyze(key, { input, reference, metrics: ['psnr'], vmaf_model: 'phone' }), 422, 'INVALID_OPTION');
        expect(contradiction.errors?.[0]).toMatchObject({ pointer: '/vmaf_model', suggestion: expect.any(String) });
        const foreign = await expectProblem(await analyze(key, { input, reference: await upload(other), metrics: ['psnr'] }), 422, 'INPUT_NOT_FOUND');
        expect(foreign.errors?.[0]?.pointer).toBe('/reference');
        const list = (await (await h().fetch('/api/v1/jobs', { headers: auth(key) })).json()) as { items: unknown[] };
        expect(list.items).toEqual([]);
      });

      it('creates an analyze job for rendiff’s { input, reference, metrics }', async () => {
        const key = await h().key();
        const res = await analyze(key, { input: await upload(key), reference: await upload(key), metrics: ['psnr', 'ssim'] });
        expect(res.status).toBe(202);
        const job = (await res.json()) as { id: string; kind: string; status: string };
        expect(job).toMatchObject({ kind: 'analyze', status: 'queued' });
        const listed = (await (await h().fetch('/api/v1/jobs?kind=analyze', { headers: auth(key) })).json()) as { items: { id: string }[] };
        expect(listed.items.map((j) => j.id)).toEqual([job.id]);
        expect((await h().fetch(`/api/v1/jobs/${job.id}`, { method: 'DELETE', headers: auth(key) })).status).toBe(200);
      });

      it('audit #10: POST /analyze passes the key’s limiter with its cost of 10 tokens', async () => {
        // A new key's bucket is full: the first request leaves the limit less the cost.
        const res = await analyze(await h().key(), {});
        await expectProblem(res, 400, 'VALIDATION_FAILED');
        const limit = Number(/q=(\d+)/.exec(res.headers.get('ratelimit-policy') ?? '')?.[1]);
        expect(limit).toBeGreaterThan(10);
        expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"default";r=${limit - 10};t=\\d+$`));
      });

      it('is in the OpenAPI document', async () => {
        const doc = (await (await h().fetch('/api/v1/openapi.json')).json()) as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
        expect(Object.keys(doc.paths)).toContain('/api/v1/analyze');
        expect(Object.keys(doc.components.schemas)).toContain('AnalyzeRequest');
      });
    });

    describe('health', () => {
      it('answers liveness and readiness', async () => {
        expect(await (await h().fetch('/health')).json()).toEqual({ status: 'ok' });
        const ready = await h().fetch('/health/ready');
        const body = (await ready.json()) as { components: Record<string, { status: string }> };
        expect(Object.keys(body.components)).toEqual(expect.arrayContaining(['database', 'blobs', 'engines']));
        expect(body.components.database?.status).toBe('ok');
        expect(body.components.blobs?.status).toBe('ok');
      });

      it('GET /capabilities names its limits in snake_case, like the rest of the API', async () => {
        const key = await h().key();
        const res = await h().fetch('/api/v1/capabilities', { headers: auth(key) });
        expect(res.status).toBe(200);
        const { limits } = (await res.json()) as { limits: Record<string, number> };
        expect(Object.keys(limits).sort()).toEqual([
          'body_bytes', 'concurrent_jobs', 'input_bytes', 'input_duration_s', 'max_bitrate', 'max_fps',
          'operations', 'output_link_ttl_s', 'output_pixels', 'outputs', 'requests', 'retention_s', 'upload_bytes', 'variants', 'window_s',
        ]);
        expect(limits).toMatchObject({ upload_bytes: h().uploadBytes, concurrent_jobs: h().concurrentJobs });
      });

      it('publishes an OpenAPI document', async () => {
        const doc = (await (await h().fetch('/api/v1/openapi.json')).json()) as { paths: Record<string, unknown> };
        expect(Object.keys(doc.paths)).toEqual(
          expect.arrayContaining(['/api/v1/convert', '/api/v1/stream', '/api/v1/jobs/{id}', '/api/v1/jobs/{id}/outputs', '/api/v1/jobs/{id}/outputs/{name}', '/api/v1/uploads']),
        );
      });
    });

    describe('stream', () => {
      const rung = (height: number, codec = 'h264', bitrate: unknown = '1M') => ({ height, video: { codec, bitrate } });
      const stream = (key: string, body: Record<string, unknown>) => h().fetch('/api/v1/stream', json(key, body));

      it('audit #13: a package that cannot be made is refused at submission with the field at fault, and nothing is stored', async () => {
        const key = await h().key();
        const input = await upload(key);
        const cases: [Record<string, unknown>, string, string][] = [
          [{ format: 'hls', segment_format: 'ts', ladder: [rung(720, 'vp9')] }, 'INVALID_CODEC_FORMAT', '/ladder/0/video/codec'],
          [{ format: 'hls', segment_format: 'ts', ladder: [rung(720, 'h265')] }, 'INVALID_CODEC_FORMAT', '/ladder/0/video/codec'],
          [{ format: 'dash', segment_format: 'ts', ladder: [rung(720)] }, 'INVALID_CODEC_FORMAT', '/segment_format'],
          [{ format: 'hls', segment_format: 'ts', audio: { codec: 'opus' }, ladder: [rung(720)] }, 'INVALID_CODEC_FORMAT', '/audio/codec'],
          [{ format: 'hls', ladder: [rung(720), rung(720)] }, 'INVALID_LADDER', '/ladder/1'],
          [{ format: 'hls', ladder: [rung(720), rung(480, 'vp9')] }, 'INVALID_LADDER', '/ladder'],
          [{ format: 'hls', ladder: Array.from({ length: 9 }, (_, i) => rung(240 + i * 16)) }, 'LIMIT_EXCEEDED', '/ladder'],
          [{ format: 'hls', ladder: [rung(720, 'h264', '500M')] }, 'LIMIT_EXCEEDED', '/ladder/0/video/bitrate'],
          [{ format: 'hls', ladder: [{ height: 720, video: { bitrate: '2M', max_bitrate: '1M' } }] }, 'INVALID_OPTION', '/ladder/0/video/max_bitrate'],
          [{ format: 'hls', operations: [{ type: 'concat', inputs: [input] }] }, 'INVALID_OPERATION', '/operations/0/type'],
        ];
        for (const [body, code, pointer] of cases) {
          const res = await stream(key, { input, ...body });
          const problem = await expectProblem(res, 422, code);
          expect(problem.errors?.map((e) => e.pointer), JSON.stringify(body)).toContain(pointer);
        }
        const list = (await (await h().fetch('/api/v1/jobs', { headers: auth(key) })).json()) as { items: unknown[] };
        expect(list.items).toEqual([]);
      });

      it('refuses what is not a stream request with 400 and the allowed values', async () => {
        const key = await h().key();
        const input = await upload(key);
        const problem = await expectProblem(await stream(key, { input, format: 'smooth' }), 400, 'VALIDATION_FAILED');
        expect(problem.errors?.some((e) => e.allowed?.includes('hls'))).toBe(true);
      });

      it('audit #10: /stream passes the key\'s limiter at its own cost', async () => {
        const key = await h().key();
        const input = await upload(key);
        // The key's bucket is full before its first charge: what is left is the capacity less the cost. The upload
        // (cost 1) came first; the bucket refills meanwhile, so only the stream's own charge is counted.
        const res = await stream(key, { input, format: 'hls', ladder: [rung(720)] });
        expect(res.status).toBe(202);
        const capacity = Number(/q=(\d+)/.exec(res.headers.get('ratelimit-policy') ?? '')?.[1]);
        const remaining = Number(/r=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
        expect(capacity - remaining).toBeGreaterThanOrEqual(30);
        expect(capacity - remaining).toBeLessThanOrEqual(31);
      });

      it('takes rendiff\'s request shape, and refuses its output path, which nothing here would write to', async () => {
        const key = await h().key();
        const input = await upload(key);
        const res = await stream(key, { input, type: 'hls', variants: [{ resolution: '720p', bitrate: '2.5M' }], segment_duration: 6 });
        expect(res.status).toBe(202);
        const job = (await res.json()) as { kind: string; request: Record<string, unknown> };
        expect(job).toMatchObject({ kind: 'stream', request: { format: 'hls', segment_duration_s: 6, ladder: [{ resolution: '720p', video: { codec: 'h264', bitrate: '2.5M' } }] } });
        await expectProblem(await stream(key, { input, type: 'dash', output: 's3://bucket/out/' }), 422, 'UNSUPPORTED_DESTINATION');
      });
    });

    describe('resumable uploads (tus)', () => {
      const tus = (key: string, extra: Record<string, string> = {}) => auth(key, { 'tus-resumable': '1.0.0', ...extra });
      const patch = (key: string, url: string, offset: number, body: Uint8Array<ArrayBuffer>) =>
        h().fetch(url, { method: 'PATCH', headers: tus(key, { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) }), body });

      it('takes a file in two PATCHes, refusing one at the wrong offset, and makes it an upload', async () => {
        const key = await h().key();
        const bytes = new Uint8Array(3000).map((_, i) => i % 251);
        const created = await h().fetch('/api/v1/uploads/tus', {
          method: 'POST',
          headers: tus(key, { 'upload-length': '3000', 'upload-metadata': `filename ${btoa('clip.mp4')},filetype ${btoa('video/mp4')}` }),
        });
        expect(created.status).toBe(201);
        expect(created.headers.get('tus-resumable')).toBe('1.0.0');
        const url = created.headers.get('location')!;
        const id = url.split('/').at(-1)!;
        expect((await patch(key, url, 0, bytes.slice(0, 1200))).headers.get('upload-offset')).toBe('1200');
        await expectProblem(await patch(key, url, 0, bytes.slice(1200)), 409, 'OFFSET_MISMATCH');
        const probe = await h().fetch(url, { method: 'HEAD', headers: tus(key) });
        expect([probe.status, probe.headers.get('upload-offset'), probe.headers.get('upload-length')]).toEqual([200, '1200', '3000']);
        const last = await patch(key, url, 1200, bytes.slice(1200));
        expect([last.status, last.headers.get('upload-offset')]).toEqual([204, '3000']);
        const upload = (await (await h().fetch(`/api/v1/uploads/${id}`, { headers: auth(key) })).json()) as Record<string, unknown>;
        const sha256 = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
        expect(upload).toMatchObject({ uri: `upload:${id}`, size: 3000, sha256, filename: 'clip.mp4', content_type: 'video/mp4' });
        expect((await h().stored()).filter((s) => s.includes(id))).toEqual([`blob:uploads/${id}`, `row:${id}`]);
      });

      it('audit #8: an Upload-Length over the limit is refused with 413 and nothing is stored', async () => {
        const key = await h().key();
        const before = await h().stored();
        const res = await h().fetch('/api/v1/uploads/tus', { method: 'POST', headers: tus(key, { 'upload-length': String(h().uploadBytes + 1) }) });
        await expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
        expect(await h().stored()).toEqual(before);
      });

      it('terminates an upload on DELETE and keeps nothing of it; refuses another protocol version with 412', async () => {
        const key = await h().key();
        const before = await h().stored();
        const url = (await h().fetch('/api/v1/uploads/tus', { method: 'POST', headers: tus(key, { 'upload-length': '100' }) })).headers.get('location')!;
        expect((await patch(key, url, 0, new Uint8Array(40))).status).toBe(204);
        expect((await h().fetch(url, { method: 'DELETE', headers: tus(key) })).status).toBe(204);
        expect((await h().fetch(url, { method: 'HEAD', headers: tus(key) })).status).toBe(404);
        expect(await h().stored()).toEqual(before);
        await expectProblem(await h().fetch('/api/v1/uploads/tus', { method: 'POST', headers: auth(key, { 'tus-resumable': '0.2.2', 'upload-length': '1' }) }), 412, 'TUS_VERSION_UNSUPPORTED');
        const options = await h().fetch('/api/v1/uploads/tus', { method: 'OPTIONS' });
        expect([options.status, options.headers.get('tus-max-size')]).toEqual([204, String(h().uploadBytes)]);
      });
    });

    describe('the OpenAPI document', () => {
      it('documents every status this suite was answered, and a problem body for every problem', async () => {
        type Operation = { responses: Record<string, { content?: Record<string, unknown> }> };
        const doc = (await (await harness().fetch('/api/v1/openapi.json')).json()) as { paths: Record<string, Record<string, Operation>> };
        const templates = Object.keys(doc.paths).map((template) => ({
          template,
          // An output's {name} may have several segments; every other parameter is one.
          pattern: new RegExp(`^${template.replace(/\{name\}$/, '(.+)').replace(/\{[^}]+\}/g, '[^/]+')}$`),
          params: (template.match(/\{/g) ?? []).length,
        }));
        const undocumented = new Set<string>();
        let checked = 0;
        for (const answer of seen) {
          // Unknown paths and methods are answered by the app itself (404, 405 with Allow), not by an operation.
          if (answer.status === 405 || answer.method === 'OPTIONS') continue;
          const match = templates.filter((t) => t.pattern.test(answer.path)).sort((a, b) => a.params - b.params)[0];
          // A HEAD is its GET's unless the document has an operation of its own (tus's HEAD).
          const operation = match && (doc.paths[match.template]![answer.method.toLowerCase()] ?? (answer.method === 'HEAD' ? doc.paths[match.template]!.get : undefined));
          if (!operation) {
            if (answer.status !== 404) undocumented.add(`${answer.method} ${answer.path}: no operation`);
            continue;
          }
          checked += 1;
          const response = operation.responses[String(answer.status)];
          const where = `${answer.method} ${match.template} ${answer.status}`;
          if (!response) undocumented.add(`${where}: status not documented`);
          else if (answer.contentType.startsWith('application/problem+json') && !response.content?.['application/problem+json']) undocumented.add(`${where}: no problem body documented`);
        }
        expect([...undocumented].sort()).toEqual([]);
        expect(checked).toBeGreaterThan(50);
      });
    });
  });
}
