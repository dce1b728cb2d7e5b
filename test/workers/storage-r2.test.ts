import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { BlobTooLargeError } from '../../src/storage/blob-store.js';
import { InvalidBlobKeyError, outputKey, uploadKey } from '../../src/storage/keys.js';
import { R2_MIN_PART_BYTES, createR2BlobStore } from '../../src/storage/r2.js';

const bucket = (env as unknown as { BLOBS: R2Bucket }).BLOBS;
const store = createR2BlobStore(bucket, { partBytes: R2_MIN_PART_BYTES });

/** The store over a bucket that records which bucket methods were called, and the ids of the multipart uploads. */
function recorded(): { store: ReturnType<typeof createR2BlobStore>; calls: string[]; uploadIds: string[] } {
  const calls: string[] = [];
  const uploadIds: string[] = [];
  const spy = new Proxy(bucket, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (property === 'createMultipartUpload') void (result as Promise<R2MultipartUpload>).then((upload) => uploadIds.push(upload.uploadId));
        return result;
      };
    },
  });
  return { store: createR2BlobStore(spy, { partBytes: R2_MIN_PART_BYTES }), calls, uploadIds };
}

/**
 * Whether a multipart upload is still open. R2 lists only finished objects, so an upload that was never completed nor
 * aborted is invisible to `list`; resuming it by id and sending a part is what tells (a part sent to an aborted
 * upload is refused).
 */
async function multipartOpen(key: string, uploadId: string): Promise<boolean> {
  try {
    await bucket.resumeMultipartUpload(key, uploadId).uploadPart(1, new Uint8Array(16));
    return true;
  } catch {
    return false;
  }
}

/** A deterministic body of `total` bytes, produced in chunks of `chunk` bytes as it is read. */
function generated(total: number, chunk = 64 * 1024, seed = 0): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= total) {
          controller.close();
          return;
        }
        const bytes = new Uint8Array(Math.min(chunk, total - sent));
        for (let i = 0; i < bytes.length; i++) bytes[i] = (sent + i + seed) % 251;
        sent += bytes.length;
        controller.enqueue(bytes);
      },
    },
    { highWaterMark: 0 },
  );
}

function bodyOf(bytes: Uint8Array<ArrayBuffer>): ReadableStream<Uint8Array> {
  return new Blob([bytes]).stream();
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function expectedBytes(total: number, seed = 0): Promise<Uint8Array<ArrayBuffer>> {
  return readAll(generated(total, 64 * 1024, seed));
}

describe('R2 blob store', () => {
  it('round-trips a small object with its content type and digest', async () => {
    const key = uploadKey(crypto.randomUUID());
    const bytes = new TextEncoder().encode('hello, r2');
    const result = await store.put(key, bodyOf(bytes), { contentType: 'text/plain' });
    expect(result).toEqual({ key, size: bytes.byteLength, contentType: 'text/plain', sha256: await sha256Hex(bytes) });

    const read = await store.get(key);
    expect(read?.info).toEqual({ key, size: bytes.byteLength, contentType: 'text/plain' });
    expect(new TextDecoder().decode(await readAll(read!.body))).toBe('hello, r2');
    expect(await store.head(key)).toEqual({ key, size: bytes.byteLength, contentType: 'text/plain' });
  });

  it('stores an empty body', async () => {
    const key = uploadKey(crypto.randomUUID());
    const result = await store.put(key, bodyOf(new Uint8Array(0)));
    expect(result.size).toBe(0);
    expect(result.sha256).toBe(await sha256Hex(new Uint8Array(0)));
    expect((await store.head(key))?.size).toBe(0);
  });

  it('streams a body of unknown length larger than a part through a multipart upload', async () => {
    const key = outputKey(crypto.randomUUID(), 1, 'out.mp4');
    const total = 2 * R2_MIN_PART_BYTES + 12_345;
    const { store, calls } = recorded();
    const result = await store.put(key, generated(total, 100_003), { contentType: 'video/mp4' });
    const expected = await expectedBytes(total);
    expect(result.size).toBe(total);
    expect(result.sha256).toBe(await sha256Hex(expected));
    expect(calls).toEqual(['createMultipartUpload']);

    const read = await store.get(key);
    expect(read?.info.size).toBe(total);
    expect(read?.info.contentType).toBe('video/mp4');
    expect(await sha256Hex(await readAll(read!.body))).toBe(result.sha256);
  });

  it('stores a body of exactly one part with one put', async () => {
    const key = uploadKey(crypto.randomUUID());
    const { store, calls } = recorded();
    const result = await store.put(key, generated(R2_MIN_PART_BYTES));
    expect(calls).toEqual(['put']);
    expect(result.size).toBe(R2_MIN_PART_BYTES);
    expect((await store.head(key))?.size).toBe(R2_MIN_PART_BYTES);
  });

  it('reads byte ranges, clamping past the end to an empty body', async () => {
    const key = uploadKey(crypto.randomUUID());
    await store.put(key, bodyOf(new TextEncoder().encode('0123456789')));
    const text = async (range: { offset: number; length?: number }) => {
      const read = await store.get(key, range);
      expect(read?.info.size).toBe(10);
      return new TextDecoder().decode(await readAll(read!.body));
    };
    expect(await text({ offset: 2, length: 3 })).toBe('234');
    expect(await text({ offset: 7 })).toBe('789');
    expect(await text({ offset: 8, length: 100 })).toBe('89');
    expect(await text({ offset: 10 })).toBe('');
    expect(await text({ offset: 3, length: 0 })).toBe('');
    await expect(store.get(key, { offset: -1 })).rejects.toThrow(RangeError);
  });

  it('refuses a body over maxBytes, aborts the upload and leaves no object', async () => {
    const key = uploadKey(crypto.randomUUID());
    let pulled = 0;
    const total = 3 * R2_MIN_PART_BYTES;
    const source = generated(total);
    const reader = source.getReader();
    let cancelled = false;
    const counting = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else {
            pulled += value.byteLength;
            controller.enqueue(value);
          }
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    // Past one part, so the first part is sent (a multipart upload started) before the limit is passed.
    const limit = R2_MIN_PART_BYTES + 2 * 64 * 1024;
    const { store, uploadIds } = recorded();
    await expect(store.put(key, counting, { maxBytes: limit })).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThan(limit + 64 * 1024 + 1);
    expect(await store.head(key)).toBeNull();
    const pending = await bucket.list({ prefix: key });
    expect(pending.objects).toHaveLength(0);
    // The upload that was started must be aborted, not left open (invisible to list, and billed).
    expect(uploadIds).toHaveLength(1);
    expect(await multipartOpen(key, uploadIds[0]!)).toBe(false);
  });

  it('multipartOpen sees an upload that was neither completed nor aborted', async () => {
    // The probe the abort test relies on: an upload left open answers it, the same one aborted does not.
    const key = uploadKey(crypto.randomUUID());
    const upload = await bucket.createMultipartUpload(key);
    expect(await multipartOpen(key, upload.uploadId)).toBe(true);
    await upload.abort();
    expect(await multipartOpen(key, upload.uploadId)).toBe(false);
  });

  it('replaces an object whole when written twice', async () => {
    const key = uploadKey(crypto.randomUUID());
    const total = R2_MIN_PART_BYTES + 10;
    await Promise.all([store.put(key, generated(total, 65_536, 1)), store.put(key, generated(total, 65_536, 2))]);
    const read = await store.get(key);
    const digest = await sha256Hex(await readAll(read!.body));
    expect([await sha256Hex(await expectedBytes(total, 1)), await sha256Hex(await expectedBytes(total, 2))]).toContain(digest);
  });

  it('returns null for missing objects and deletes idempotently', async () => {
    const key = uploadKey(crypto.randomUUID());
    expect(await store.get(key)).toBeNull();
    expect(await store.get(key, { offset: 0, length: 1 })).toBeNull();
    expect(await store.head(key)).toBeNull();
    await store.delete(key);
    await store.put(key, bodyOf(new Uint8Array([1])));
    await store.delete(key);
    expect(await store.head(key)).toBeNull();
  });

  it('refuses malformed keys before touching the bucket', async () => {
    await expect(store.get('../etc/passwd')).rejects.toBeInstanceOf(InvalidBlobKeyError);
    await expect(store.put('uploads//x', bodyOf(new Uint8Array(1)))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    await expect(store.head('uploads/a b')).rejects.toBeInstanceOf(InvalidBlobKeyError);
    await expect(store.delete('')).rejects.toBeInstanceOf(InvalidBlobKeyError);
  });

  it('check() writes, reads and removes a probe', async () => {
    await store.check();
    const left = await bucket.list({ prefix: '.health/' });
    expect(left.objects).toHaveLength(0);
  });

  it('check() honours an aborted signal', async () => {
    await expect(store.check(AbortSignal.abort())).rejects.toThrow();
  });
});
