/**
 * BlobStore on an R2 bucket binding (Cloudflare Workers).
 *
 * R2 only accepts a stream whose length is known up front, and PutOptions carries no length (an upload's is not
 * known until it ends). So bodies are cut into parts of a fixed size, buffered one at a time: a body that ends
 * within the first part is stored with one `put`; a longer one becomes a multipart upload whose parts are sent as
 * they fill. Memory stays under about two parts (chunks waiting plus the part being assembled) whatever the size.
 * R2 makes either visible atomically (put, or multipart complete), so readers never see a partial object and
 * racing writers leave one whole object.
 *
 * The SHA-256 is computed while the bytes pass, with workerd's DigestStream (WebCrypto has no incremental digest).
 */
import { BlobTooLargeError, type BlobInfo, type BlobStore, type ByteRange, type PutOptions, type PutResult } from './blob-store.js';
import { assertBlobKey, healthProbeKey } from './keys.js';

/** R2's minimum for every part but the last. R2 also wants all non-final parts the same size, which this keeps. */
export const R2_MIN_PART_BYTES = 5 * 1024 * 1024;
/** R2 accepts at most this many parts in one multipart upload. */
const R2_MAX_PARTS = 10_000;

export interface R2BlobStoreOptions {
  /** Size of every multipart part but the last (>= 5 MiB); also the largest body stored with a single put. */
  partBytes?: number;
}

/** workerd puts DigestStream on `crypto`; the DOM and Node typings of `crypto` in this project do not know it. */
const workerdCrypto = crypto as unknown as { DigestStream: typeof DigestStream };

function toHex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function infoOf(object: R2Object): BlobInfo {
  const contentType = object.httpMetadata?.contentType;
  return contentType === undefined ? { key: object.key, size: object.size } : { key: object.key, size: object.size, contentType };
}

function assertRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.offset) || range.offset < 0) throw new RangeError('range offset must be a whole number >= 0');
  if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)) {
    throw new RangeError('range length must be a whole number >= 0');
  }
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
}

/**
 * 8 MiB: a 2 GiB upload (the default limit) is 256 parts, well inside a Worker's subrequest budget, while a part
 * in memory stays small next to an isolate's 128 MB. The part count caps an object at about 78 GiB.
 */
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

export function createR2BlobStore(bucket: R2Bucket, options: R2BlobStoreOptions = {}): BlobStore {
  const partBytes = options.partBytes ?? DEFAULT_PART_BYTES;
  if (!Number.isSafeInteger(partBytes) || partBytes < R2_MIN_PART_BYTES) {
    throw new RangeError(`partBytes must be a whole number >= ${R2_MIN_PART_BYTES}`);
  }

  async function put(key: string, body: ReadableStream<Uint8Array>, putOptions: PutOptions = {}): Promise<PutResult> {
    assertBlobKey(key);
    const { maxBytes, contentType } = putOptions;
    const httpMetadata: R2HTTPMetadata | undefined = contentType === undefined ? undefined : { contentType };
    const reader = body.getReader();
    const digest = new workerdCrypto.DigestStream('SHA-256');
    const digestWriter = digest.getWriter();
    let sourceDone = false;
    let upload: R2MultipartUpload | undefined;
    const parts: R2UploadedPart[] = [];
    // Chunks received but not yet sent, so a small body holds only its own bytes, never a whole part buffer.
    const pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let size = 0;

    const takePending = (bytes: number): Uint8Array => {
      const out = new Uint8Array(bytes);
      let filled = 0;
      while (filled < bytes) {
        const head = pending[0]!;
        const take = Math.min(head.byteLength, bytes - filled);
        out.set(head.subarray(0, take), filled);
        filled += take;
        if (take === head.byteLength) pending.shift();
        else pending[0] = head.subarray(take);
      }
      pendingBytes -= bytes;
      return out;
    };

    const sendPart = async (bytes: Uint8Array): Promise<void> => {
      if (parts.length >= R2_MAX_PARTS) throw new RangeError(`body needs more than ${R2_MAX_PARTS} parts of ${partBytes} bytes`);
      upload ??= await bucket.createMultipartUpload(key, httpMetadata ? { httpMetadata } : undefined);
      parts.push(await upload.uploadPart(parts.length + 1, bytes));
    };

    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          sourceDone = true;
          break;
        }
        size += value.byteLength;
        if (maxBytes !== undefined && size > maxBytes) throw new BlobTooLargeError(maxBytes);
        await digestWriter.write(value);
        pending.push(value);
        pendingBytes += value.byteLength;
        // Strictly more than a part: the body that ends exactly at a part boundary is still stored with one put.
        while (pendingBytes > partBytes) await sendPart(takePending(partBytes));
      }
      await digestWriter.close();
      const sha256 = toHex(await digest.digest);

      if (upload === undefined) {
        // The whole body fits in one part (or is empty): one put, with R2 verifying the digest we computed.
        const object = await bucket.put(key, takePending(pendingBytes), { sha256, ...(httpMetadata ? { httpMetadata } : {}) });
        return { ...infoOf(object), size, sha256 };
      }
      await sendPart(takePending(pendingBytes));
      const object = await upload.complete(parts);
      return { ...infoOf(object), size, sha256 };
    } catch (error) {
      // Stop the producer at once and leave no parts billed and invisible in the bucket.
      if (!sourceDone) await reader.cancel(error).catch(() => undefined);
      if (upload) await upload.abort().catch(() => undefined);
      throw error;
    } finally {
      reader.releaseLock();
    }
  }

  async function get(key: string, range?: ByteRange): Promise<{ body: ReadableStream<Uint8Array>; info: BlobInfo } | null> {
    assertBlobKey(key);
    if (!range) {
      const object = await bucket.get(key);
      return object ? { body: object.body, info: infoOf(object) } : null;
    }
    assertRange(range);
    // R2 refuses ranges that start past the end or are empty; the local store answers those with an empty body,
    // and so does this one, so callers see one behaviour on every backend. That needs the size first, and the
    // read is pinned to the measured version so a concurrent replace is measured again rather than mixed.
    for (let tries = 0; tries < 3; tries++) {
      const meta = await bucket.head(key);
      if (!meta) return null;
      if (range.offset >= meta.size || range.length === 0) return { body: emptyStream(), info: infoOf(meta) };
      const length = range.length === undefined ? undefined : Math.min(range.length, meta.size - range.offset);
      const object = await bucket.get(key, {
        range: length === undefined ? { offset: range.offset } : { offset: range.offset, length },
        onlyIf: { etagMatches: meta.etag },
      });
      if (object === null) return null;
      if ('body' in object) return { body: object.body, info: infoOf(object) };
    }
    throw new Error('blob store: object kept changing while a range was read');
  }

  async function head(key: string): Promise<BlobInfo | null> {
    assertBlobKey(key);
    const object = await bucket.head(key);
    return object ? infoOf(object) : null;
  }

  async function remove(key: string): Promise<void> {
    assertBlobKey(key);
    await bucket.delete(key);
  }

  async function check(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const key = healthProbeKey();
    const probe = new TextEncoder().encode(`ffedge ${key}`);
    try {
      await bucket.put(key, probe);
      signal?.throwIfAborted();
      const object = await bucket.get(key);
      if (!object) throw new Error('blob store check: probe vanished after write');
      const back = new Uint8Array(await object.arrayBuffer());
      if (back.byteLength !== probe.byteLength || !back.every((byte, i) => byte === probe[i])) {
        throw new Error('blob store check: probe read back differs');
      }
    } finally {
      await bucket.delete(key);
    }
  }

  return { put, get, head, delete: remove, check };
}
