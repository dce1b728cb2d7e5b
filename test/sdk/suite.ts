/**
 * The SDK's tests that need no file system, run as they are on Node (node.test.ts), inside workerd
 * (test/workers/sdk.test.ts) and in Deno (deno.test.ts runs deno/sdk_test.ts): a real Node server with real
 * ffmpeg, reached over HTTP on 127.0.0.1. Assertions are node:assert, which every one of those runtimes has.
 */
import assert from 'node:assert/strict';
import { Ffedge, FfedgeProblem, verifyWebhook, type JobEvent, type Progress } from '../../packages/client/src/index.js';
import { signWebhook } from '../../src/delivery/signing.js';

export interface SdkTarget {
  baseUrl: string;
  key: string;
  /** A server that allows one request per second to its key (FFEDGE_RATE_LIMIT=3, FFEDGE_RATE_WINDOW_S=3). */
  limited: { baseUrl: string; key: string };
  /** A 2 s 320x240 H.264 + AAC clip. */
  clip: Uint8Array<ArrayBuffer>;
}

type Define = (name: string, fn: () => Promise<void>) => void;

const WEBM_MAGIC = [0x1a, 0x45, 0xdf, 0xa3];
const toWebm = (input: string) => ({
  input,
  output: { format: 'webm' as const, video: { codec: 'vp8' as const, resolution: '240p' as const }, audio: { codec: 'opus' as const } },
  operations: [{ type: 'trim' as const, start: 0.5, end: 1.5 }],
});

export function sdkSuite(test: Define, target: () => SdkTarget): void {
  const client = (options: Partial<ConstructorParameters<typeof Ffedge>[0]> = {}) => new Ffedge({ baseUrl: target().baseUrl, key: target().key, ...options });

  test('sdk: upload a Blob, convert, wait with onProgress over SSE, download the bytes', async () => {
    const ff = client();
    const up = await ff.upload(new Blob([target().clip], { type: 'video/mp4' }), { filename: 'clip ü.mp4' });
    assert.match(up.uri, /^upload:/);
    assert.equal(up.size, target().clip.byteLength);
    assert.equal(up.filename, 'clip ü.mp4');

    const job = await ff.convert(toWebm(up.uri));
    assert.equal(job.kind, 'convert');
    const seen: Progress[] = [];
    const done = await job.wait({ onProgress: (p) => seen.push(p) });
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.equal(done.progress.percentage, 100);
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i]!.percentage ?? 0) >= (seen[i - 1]!.percentage ?? 0), 'progress never decreases');

    const res = await ff.download(done);
    assert.equal(res.headers.get('content-type'), 'video/webm');
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.equal(bytes.byteLength, done.outputs[0]!.size);
    assert.deepEqual([...bytes.subarray(0, 4)], WEBM_MAGIC);
  });

  test('sdk: a dropped event stream resumes with Last-Event-ID; no event twice, none lost', async () => {
    const requests: { lastEventId: string | null; seenBefore: number }[] = [];
    const events: JobEvent[] = [];
    let drop: AbortController | undefined;
    const ff = client({
      // Records what each events request asked for, and cuts the first one off mid-stream (a real aborted fetch).
      fetch: (request, init) => {
        if (!new URL(request.url).pathname.endsWith('/events')) return fetch(request, init);
        requests.push({ lastEventId: request.headers.get('last-event-id'), seenBefore: events.length });
        if (requests.length > 1) return fetch(request, init);
        drop = new AbortController();
        return fetch(new Request(request, { signal: drop.signal }), init);
      },
    });
    const up = await ff.upload(target().clip, { filename: 'clip.mp4', contentType: 'video/mp4' });
    const job = await ff.convert(toWebm(up.uri));
    for await (const event of ff.jobs.events(job.id)) {
      events.push(event);
      if (events.length === 1) drop!.abort();
    }
    assert.ok(requests.length >= 2, 'it reconnected');
    assert.equal(requests[0]!.lastEventId, null);
    // Events already received when the connection dropped still count: the resume starts after the last of them.
    assert.equal(requests[1]!.lastEventId, events.slice(0, requests[1]!.seenBefore).findLast((e) => e.id !== undefined)?.id);
    const ids = events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), 'ids strictly increase across the reconnect');
    const last = events.at(-1)!;
    assert.equal(last.type, 'done');
    assert.equal(last.type === 'done' && last.data.status, 'completed');
    assert.ok(events.some((e) => e.type === 'status' && e.data.status === 'completed'));
  });

  test('sdk: problems are typed: 422 with errors, 401, 404', async () => {
    const ff = client();
    const up = await ff.upload(target().clip, { filename: 'clip.mp4' });
    const refused = await ff.convert({ input: up.uri, output: { format: 'mp4', video: { codec: 'vp8' } } }).catch((e: unknown) => e);
    assert.ok(refused instanceof FfedgeProblem);
    assert.equal(refused.status, 422);
    assert.equal(refused.code, 'INVALID_CODEC_FORMAT');
    assert.match(refused.instance ?? '', /\S/);
    assert.ok(refused.errors.some((e) => e.pointer === '/output/video/codec' && (e.allowed ?? []).length > 0), JSON.stringify(refused.errors));

    const unknownKey = await client({ key: 'ffe_aaaaaaaaaaaaaaaa_' + 'A'.repeat(43) }).jobs.list().catch((e: unknown) => e);
    assert.ok(unknownKey instanceof FfedgeProblem);
    assert.equal(unknownKey.status, 401);
    assert.equal(unknownKey.code, 'UNAUTHORIZED');

    const missing = await ff.jobs.get('0193a000-0000-7000-8000-000000000000').catch((e: unknown) => e);
    assert.ok(missing instanceof FfedgeProblem);
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'NOT_FOUND');
  });

  test('sdk: a 429 is retried after its Retry-After; with retries off it is the problem', async () => {
    const { baseUrl, key } = target().limited;
    const statuses: number[] = [];
    const recording = (request: Request, init?: RequestInit) =>
      fetch(request, init).then((r) => {
        statuses.push(r.status);
        return r;
      });
    const impatient = new Ffedge({ baseUrl, key, retries: 0, fetch: recording });
    // The bucket holds 3; one token comes back per second.
    let refused: unknown;
    for (let i = 0; i < 5 && refused === undefined; i++) refused = await impatient.jobs.list().then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof FfedgeProblem, 'the limit was reached');
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'RATE_LIMITED');
    assert.ok((refused.retryAfter ?? 0) >= 1);

    statuses.length = 0;
    const patient = new Ffedge({ baseUrl, key, fetch: recording });
    const started = Date.now();
    await patient.jobs.list();
    await patient.jobs.list();
    assert.ok(statuses.includes(429), `a refusal was retried: ${statuses.join(',')}`);
    assert.equal(statuses.at(-1), 200);
    // It waited at least the one second the server asked for (a lower bound only: the machine may be slow).
    assert.ok(Date.now() - started >= 900, `waited ${Date.now() - started} ms`);
  });

  test('sdk: verifyWebhook accepts what the server signs and refuses a changed body', async () => {
    const secret = 'whsec_' + btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const body = JSON.stringify({ type: 'job.completed', timestamp: new Date().toISOString(), data: { id: 'j1', status: 'completed' } });
    const headers = signWebhook([secret], 'msg_1', Date.now(), body);
    const event = verifyWebhook(body, new Headers({ ...headers }), secret);
    assert.equal(event.type, 'job.completed');
    assert.equal(event.data.id, 'j1');
    assert.throws(() => verifyWebhook(body.replace('j1', 'j2'), { ...headers }, secret));
  });
}
