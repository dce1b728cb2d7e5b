/**
 * Resumable uploads (tus) through the Worker itself (src/runtime/worker.ts) on D1 and R2, with the real tus-js-client:
 * its browser build runs in workerd once it is given an HTTP stack over fetch (its own uses XMLHttpRequest, which
 * workerd has not), here one that calls the Worker's fetch handler. The workers project's upload limit is 1 MiB, so
 * the file is 1 MiB in chunks of 256 KiB; a second test drives the store with a file of 12 MiB in parts of 5 MiB,
 * whose final copy is an R2 multipart upload.
 */
import { env, exports } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { eq } from 'drizzle-orm';
// The browser build: the package's Node build needs node:http.
// @ts-expect-error -- a file of the package with no types of its own; typed below by the package's own declarations
import { Upload as BrowserUpload } from 'tus-js-client/lib.esm/browser/index.js';
import type { HttpRequest, HttpResponse, HttpStack, Upload as UploadType, UploadOptions } from 'tus-js-client';
import { memoryUrlStorage } from '../helpers/tus-storage.js';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import * as schema from '../../src/db/schema.js';
import { createKey } from '../../src/security/api-keys.js';
import { createR2BlobStore, R2_MIN_PART_BYTES } from '../../src/storage/r2.js';
import { appendTusPart, completeTusUpload, createTusUpload, findTusUpload } from '../../src/storage/tus-store.js';

const Upload = BrowserUpload as new (file: Blob, options: UploadOptions) => UploadType;
const worker = (exports as unknown as { default: Fetcher }).default;
const db = drizzle(env.DB, { schema }) as unknown as Db;
const bucket = (env as unknown as { BLOBS: R2Bucket }).BLOBS;
const ORIGIN = 'https://ffedge.test';
const CHUNK = 256 * 1024;

/** tus-js-client's HttpStack over the Worker's fetch: one request per send, abortable. */
class WorkerHttpStack implements HttpStack {
  createRequest(method: string, url: string): HttpRequest {
    const headers: Record<string, string> = {};
    const controller = new AbortController();
    let onProgress: ((bytes: number) => void) | undefined;
    const request: HttpRequest = {
      getMethod: () => method,
      getURL: () => url,
      setHeader: (name, value) => void (headers[name] = value),
      getHeader: (name) => headers[name],
      setProgressHandler: (handler) => void (onProgress = handler),
      async send(body?: Blob): Promise<HttpResponse> {
        const res = await worker.fetch(new Request(url, { method, headers, body: body ?? null, signal: controller.signal }));
        const text = await res.text();
        if (body) onProgress?.(body.size);
        return { getStatus: () => res.status, getHeader: (name) => res.headers.get(name) ?? undefined, getBody: () => text, getUnderlyingObject: () => res };
      },
      abort: async () => controller.abort(),
      getUnderlyingObject: () => controller,
    };
    return request;
  }
  getName() {
    return 'WorkerHttpStack';
  }
}

const bytesOf = (total: number, seed = 0) => new Uint8Array(total).map((_, i) => (i * 7 + seed) % 251);

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function objectsUnder(prefix: string): Promise<string[]> {
  return (await bucket.list({ prefix })).objects.map((o) => o.key);
}

describe('tus on Workers (D1, R2)', () => {
  it('takes a chunked upload with tus-js-client, interrupted after a chunk and resumed, as an upload row', async () => {
    const key = (await createKey(db, { name: 'tus', now: Date.now() })).key;
    const bytes = bytesOf(1024 * 1024);
    const file = new Blob([bytes], { type: 'video/mp4' });
    const patches: string[] = [];
    const options: UploadOptions = {
      endpoint: `${ORIGIN}/api/v1/uploads/tus`,
      chunkSize: CHUNK,
      headers: { authorization: `Bearer ${key}` },
      metadata: { filename: 'clip.mp4', filetype: 'video/mp4' },
      httpStack: new WorkerHttpStack(),
      urlStorage: memoryUrlStorage(),
      fingerprint: async () => 'clip-1mib',
      retryDelays: [0, 200, 1000],
      onBeforeRequest: (req) => {
        if (req.getMethod() === 'PATCH') patches.push(req.getHeader('Upload-Offset') ?? '?');
      },
    };

    const first = new Upload(file, options);
    await new Promise<void>((resolve, reject) => {
      Object.assign(first.options, {
        onError: reject,
        onSuccess: () => reject(new Error('finished before it was interrupted')),
        onChunkComplete: (_chunk: number, accepted: number) => {
          if (accepted >= 2 * CHUNK) first.abort().then(resolve, reject);
        },
      });
      first.start();
    });
    const url = first.url!;
    const id = url.split('/').at(-1)!;
    const probe = await worker.fetch(new Request(url, { method: 'HEAD', headers: { authorization: `Bearer ${key}`, 'tus-resumable': '1.0.0' } }));
    expect([probe.status, probe.headers.get('upload-offset'), probe.headers.get('upload-length')]).toEqual([200, String(2 * CHUNK), String(bytes.byteLength)]);
    expect(await objectsUnder(`tus/${id}.`)).toHaveLength(2);

    const second = new Upload(file, options);
    const previous = await second.findPreviousUploads();
    expect(previous).toHaveLength(1);
    second.resumeFromPreviousUpload(previous[0]!);
    const resumedAt = patches.length;
    await new Promise<void>((resolve, reject) => {
      Object.assign(second.options, { onError: reject, onSuccess: () => resolve() });
      second.start();
    });
    expect(patches.slice(resumedAt)).toEqual([String(2 * CHUNK), String(3 * CHUNK)]);

    const res = await worker.fetch(new Request(`${ORIGIN}/api/v1/uploads/${id}`, { headers: { authorization: `Bearer ${key}` } }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ uri: `upload:${id}`, size: bytes.byteLength, sha256: await sha256Hex(bytes), filename: 'clip.mp4', content_type: 'video/mp4' });
    const object = await bucket.get(`uploads/${id}`);
    expect(await sha256Hex(new Uint8Array(await object!.arrayBuffer()))).toBe(await sha256Hex(bytes));
    expect(await objectsUnder(`tus/${id}.`)).toEqual([]);
  });

  it('composes 12 MiB of 5 MiB parts in R2 into one object with its SHA-256 (an R2 multipart upload)', async () => {
    const blobs = createR2BlobStore(bucket, { partBytes: R2_MIN_PART_BYTES });
    const deps = { db, blobs, clock: () => Date.now() };
    const key = await createKey(db, { name: 'tus-store', now: Date.now() });
    const id = crypto.randomUUID();
    const total = 12 * 1024 * 1024;
    const bytes = bytesOf(total, 3);
    let row = await createTusUpload(db, { id, apiKeyId: key.id, length: total, metadata: null, filename: 'big.bin', contentType: null, createdAt: Date.now(), expiresAt: Date.now() + 3600_000 });
    for (let offset = 0; offset < total; offset += R2_MIN_PART_BYTES) {
      row = await appendTusPart(deps, row, new Blob([bytes.subarray(offset, Math.min(total, offset + R2_MIN_PART_BYTES))]).stream());
    }
    expect(row.parts).toHaveLength(3);
    await completeTusUpload(deps, row, { maxBytes: total, retentionS: 3600 });
    const upload = await db.select().from(schema.uploads).where(eq(schema.uploads.id, id)).get();
    expect(upload).toMatchObject({ size: total, sha256: await sha256Hex(bytes), filename: 'big.bin' });
    const object = await bucket.get(`uploads/${id}`);
    expect(object!.size).toBe(total);
    // Compared by digest: a deep equality of 12 MiB of bytes costs the isolate more than its heap.
    expect(await sha256Hex(new Uint8Array(await object!.arrayBuffer()))).toBe(upload!.sha256);
    expect(await objectsUnder(`tus/${id}.`)).toEqual([]);
    expect((await findTusUpload(db, id, key.id))!.completedAt).not.toBeNull();
  });
});
