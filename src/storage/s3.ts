/**
 * BlobStore on an S3-compatible bucket (AWS S3, R2's S3 API, MinIO, ...), signed by aws4fetch with Web Crypto, so the
 * same code runs on Node, Deno and Workers.
 *
 * One store per storage profile per process, over the runtime's fetch, whose connection pool keeps connections alive
 * between requests (audit #18); every response body is read or cancelled so its connection goes back to the pool.
 * A body is cut into parts as it arrives: one that ends within the first part is one PUT, a longer one a multipart
 * upload with two parts in flight, aborted on any failure, so memory stays under three parts whatever the size and
 * nothing half written becomes visible (S3 shows an object only when its PUT or its Complete succeeds).
 *
 * Payloads are sent UNSIGNED-PAYLOAD (the signature covers the request, TLS the bytes): hashing every part for the
 * signature would read each byte twice more than the SHA-256 the store reports anyway.
 */
import { AwsClient } from 'aws4fetch';
import { BlobExistsError, BlobTooLargeError, type BlobInfo, type BlobStore, type ByteRange, type PutOptions, type PutResult } from './blob-store.js';
import type { Sha256Factory } from './digest.js';
import { partBuffer } from './parts.js';

/** S3's minimum for every part but the last. */
export const S3_MIN_PART_BYTES = 5 * 1024 * 1024;
const S3_MAX_PARTS = 10_000;
const PARTS_IN_FLIGHT = 2;
const WRITER_HEADER = 'x-amz-meta-ffedge-writer';

export interface S3StoreOptions {
  /** `https://s3.eu-west-1.amazonaws.com`, `https://<account>.r2.cloudflarestorage.com`, `http://127.0.0.1:9000`. */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Bucket in the path (default; what R2, MinIO and most compatible servers want) or in the host name. */
  urlStyle?: 'path' | 'virtual';
  /** Size of every part but the last (>= 5 MiB); also the largest body sent with one PUT. */
  partBytes?: number;
  /** How long a request may wait for its answer's headers (a body then streams as long as it takes). */
  requestTimeoutMs?: number;
  sha256: Sha256Factory;
  /** The keys the store accepts (the profile checks them first; this is the store's own guard). */
  checkKey(key: string): void;
  /** Where readiness probes write ('' or a folder ending with /): inside the profile's prefix, which its credentials may be limited to. */
  probePrefix?: string;
  fetch?: typeof fetch;
}

/** A request S3 refused or a server that did not answer as S3: operator-facing text, never client input. */
export class S3Error extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly s3Code: string | null,
  ) {
    super(`S3 ${operation} failed: ${status}${s3Code ? ` ${s3Code}` : ''}`);
    this.name = 'S3Error';
  }
}

const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

function xmlValue(xml: string, tag: string): string | null {
  const match = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return match ? match[1]! : null;
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
}

/** Discards a body so its connection is reused. */
async function drain(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

export function createS3BlobStore(options: S3StoreOptions): BlobStore {
  const partBytes = options.partBytes ?? DEFAULT_PART_BYTES;
  if (!Number.isSafeInteger(partBytes) || partBytes < S3_MIN_PART_BYTES) throw new RangeError(`partBytes must be a whole number >= ${S3_MIN_PART_BYTES}`);
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const doFetch = options.fetch ?? fetch;
  // aws4fetch retries 5xx itself; bodies here are byte arrays, so a retried part is sent whole again.
  const client = new AwsClient({
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.secretAccessKey,
    region: options.region,
    service: 's3',
    retries: 2,
    initRetryMs: 100,
  });
  const endpoint = new URL(options.endpoint);
  const base = options.urlStyle === 'virtual' ? new URL(`${endpoint.protocol}//${options.bucket}.${endpoint.host}/`) : new URL(`${endpoint.origin}/${encodeURIComponent(options.bucket)}/`);

  const urlOf = (key: string, query = ''): string => {
    options.checkKey(key);
    const path = key.split('/').map(encodeURIComponent).join('/');
    return `${base.href}${path}${query}`;
  };

  /** One signed request; resolves when its headers arrive (within the timeout), the body is the caller's. */
  async function send(operation: string, url: string, init: RequestInit, ok: (status: number) => boolean): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`S3 ${operation} timed out`)), timeoutMs);
    try {
      const headers = new Headers(init.headers);
      headers.set('x-amz-content-sha256', 'UNSIGNED-PAYLOAD');
      const request = await client.sign(url, { ...init, headers });
      const response = await doFetch(request, { signal: controller.signal });
      if (ok(response.status)) return response;
      const text = await response.text().catch(() => '');
      if (response.status === 412 || (response.status === 409 && xmlValue(text, 'Code') === 'ConditionalRequestConflict')) throw new BlobExistsError();
      throw new S3Error(operation, response.status, xmlValue(text, 'Code'));
    } finally {
      clearTimeout(timer);
    }
  }

  const is2xx = (status: number) => status >= 200 && status < 300;

  function writeHeaders(putOptions: PutOptions): Headers {
    const headers = new Headers();
    if (putOptions.contentType) headers.set('content-type', putOptions.contentType);
    if (putOptions.writer) headers.set(WRITER_HEADER, putOptions.writer);
    return headers;
  }

  async function putOnce(key: string, bytes: Uint8Array, putOptions: PutOptions): Promise<void> {
    const headers = writeHeaders(putOptions);
    if (putOptions.ifAbsent) headers.set('if-none-match', '*');
    await drain(await send('PutObject', urlOf(key), { method: 'PUT', headers, body: bytes as Uint8Array<ArrayBuffer> }, is2xx));
  }

  async function put(key: string, body: ReadableStream<Uint8Array>, putOptions: PutOptions = {}): Promise<PutResult> {
    options.checkKey(key);
    const reader = body.getReader();
    const hash = options.sha256();
    const pending = partBuffer();
    let sourceDone = false;
    let uploadId: string | null = null;
    const etags: string[] = [];
    const inFlight: Promise<void>[] = [];
    let size = 0;

    const sendPart = async (bytes: Uint8Array): Promise<void> => {
      if (etags.length >= S3_MAX_PARTS) throw new RangeError(`body needs more than ${S3_MAX_PARTS} parts of ${partBytes} bytes`);
      if (uploadId === null) {
        const created = await send('CreateMultipartUpload', urlOf(key, '?uploads'), { method: 'POST', headers: writeHeaders(putOptions) }, is2xx);
        uploadId = xmlValue(await created.text(), 'UploadId');
        if (!uploadId) throw new S3Error('CreateMultipartUpload', created.status, 'NoUploadId');
      }
      const number = etags.length + 1;
      etags.push('');
      const url = urlOf(key, `?partNumber=${number}&uploadId=${encodeURIComponent(uploadId)}`);
      const upload = send('UploadPart', url, { method: 'PUT', body: bytes as Uint8Array<ArrayBuffer> }, is2xx).then(async (response) => {
        const etag = response.headers.get('etag');
        await drain(response);
        if (!etag) throw new S3Error('UploadPart', response.status, 'NoETag');
        etags[number - 1] = etag;
      });
      // Awaited below (in order); the catch only keeps a failure from being reported as unhandled meanwhile.
      upload.catch(() => undefined);
      inFlight.push(upload);
      while (inFlight.length >= PARTS_IN_FLIGHT) await inFlight.shift();
    };

    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          sourceDone = true;
          break;
        }
        size += value.byteLength;
        if (putOptions.maxBytes !== undefined && size > putOptions.maxBytes) throw new BlobTooLargeError(putOptions.maxBytes);
        await hash.update(value);
        pending.push(value);
        // Strictly more than a part: a body that ends at a part boundary is still one PUT.
        while (pending.bytes > partBytes) await sendPart(pending.take(partBytes));
      }
      const sha256 = await hash.hex();
      if (uploadId === null) {
        await putOnce(key, pending.take(), putOptions);
      } else {
        await sendPart(pending.take());
        while (inFlight.length > 0) await inFlight.shift();
        const xml = `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${xmlEscape(etag)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
        const headers = new Headers({ 'content-type': 'application/xml' });
        if (putOptions.ifAbsent) headers.set('if-none-match', '*');
        const completed = await send('CompleteMultipartUpload', urlOf(key, `?uploadId=${encodeURIComponent(uploadId)}`), { method: 'POST', headers, body: xml }, is2xx);
        // S3 may answer 200 and put the failure in the body.
        const answer = await completed.text();
        if (answer.includes('<Error>')) throw new S3Error('CompleteMultipartUpload', completed.status, xmlValue(answer, 'Code'));
        uploadId = null;
      }
      return { key, size, sha256, ...(putOptions.contentType ? { contentType: putOptions.contentType } : {}) };
    } catch (error) {
      // Stop the producer, let parts in flight settle, and abort the upload so no parts stay billed and invisible.
      if (!sourceDone) await reader.cancel(error).catch(() => undefined);
      await Promise.allSettled(inFlight);
      if (uploadId !== null) {
        await send('AbortMultipartUpload', urlOf(key, `?uploadId=${encodeURIComponent(uploadId)}`), { method: 'DELETE' }, (status) => is2xx(status) || status === 404)
          .then(drain)
          .catch(() => undefined);
      }
      throw error;
    } finally {
      reader.releaseLock();
    }
  }

  function infoOf(key: string, response: Response, size: number): BlobInfo {
    const contentType = response.headers.get('content-type');
    const writer = response.headers.get(WRITER_HEADER);
    return { key, size, ...(contentType ? { contentType } : {}), ...(writer ? { writer } : {}) };
  }

  async function head(key: string): Promise<BlobInfo | null> {
    const response = await send('HeadObject', urlOf(key), { method: 'HEAD' }, (status) => is2xx(status) || status === 404);
    await drain(response);
    if (response.status === 404) return null;
    return infoOf(key, response, Number(response.headers.get('content-length') ?? 0));
  }

  async function get(key: string, range?: ByteRange): Promise<{ body: ReadableStream<Uint8Array>; info: BlobInfo } | null> {
    if (range && (!Number.isSafeInteger(range.offset) || range.offset < 0 || (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)))) {
      throw new RangeError('range offset and length must be whole numbers >= 0');
    }
    // An empty range is no HTTP range; like the other stores, it reads as an empty body of an existing object.
    if (range?.length === 0) {
      const info = await head(key);
      return info ? { body: emptyStream(), info } : null;
    }
    const headers = new Headers();
    if (range) headers.set('range', `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}`);
    const response = await send('GetObject', urlOf(key), { method: 'GET', headers }, (status) => is2xx(status) || status === 404 || status === 416);
    if (response.status === 404) {
      await drain(response);
      return null;
    }
    if (response.status === 416) {
      await drain(response);
      const info = await head(key);
      return info ? { body: emptyStream(), info } : null;
    }
    const total = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1];
    const size = total !== undefined ? Number(total) : Number(response.headers.get('content-length') ?? 0);
    return { body: response.body ?? emptyStream(), info: infoOf(key, response, size) };
  }

  async function remove(key: string): Promise<void> {
    await drain(await send('DeleteObject', urlOf(key), { method: 'DELETE' }, (status) => is2xx(status) || status === 404));
  }

  async function check(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const key = `${options.probePrefix ?? ''}.health/${crypto.randomUUID()}`;
    const probe = new TextEncoder().encode(`ffedge ${key}`);
    try {
      await putOnce(key, probe, {});
      signal?.throwIfAborted();
      const read = await get(key);
      if (!read) throw new Error('blob store check: probe vanished after write');
      const back = new Uint8Array(await new Response(read.body).arrayBuffer());
      if (back.byteLength !== probe.byteLength || !back.every((byte, i) => byte === probe[i])) throw new Error('blob store check: probe read back differs');
    } finally {
      await remove(key).catch(() => undefined);
    }
  }

  return { put, get, head, delete: remove, check };
}
