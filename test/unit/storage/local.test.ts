import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobTooLargeError, StorageFullError, type BlobStore } from '../../../src/storage/blob-store.js';
import { InvalidBlobKeyError, outputKey, uploadKey } from '../../../src/storage/keys.js';
import { createLocalBlobStore } from '../../../src/storage/local.js';
import { canMountSmallFs, mountSmallFs } from '../../helpers/full-fs.js';

let root: string;
let store: BlobStore;
// A real full file system needs a tmpfs mount (root here); elsewhere that test is skipped, and says so.
const smallFs = await canMountSmallFs();

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ffedge-blobs-'));
  store = createLocalBlobStore(root);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function bodyOf(bytes: Uint8Array | string): ReadableStream<Uint8Array> {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(data);
      controller.close();
    },
  });
}

interface Generated {
  stream: ReadableStream<Uint8Array>;
  /** Bytes handed out so far. */
  pulled(): number;
  cancelled(): boolean;
  /** SHA-256 of everything handed out so far. */
  sha256(): string;
}

/**
 * A deterministic body of `total` bytes made on the fly, one chunk per pull, each chunk distinct (its index is
 * stamped in) so a reordering or a mix of two bodies changes the digest.
 */
function generated(total: number, seed = 0, chunkBytes = 64 * 1024): Generated {
  const template = new Uint8Array(chunkBytes);
  for (let i = 0; i < chunkBytes; i++) template[i] = (i * 31 + seed * 17) & 0xff;
  const hash = createHash('sha256');
  let sent = 0;
  let index = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= total) {
          controller.close();
          return;
        }
        const size = Math.min(chunkBytes, total - sent);
        const chunk = template.slice(0, size);
        if (size >= 8) {
          const view = new DataView(chunk.buffer);
          view.setUint32(0, index, true);
          view.setUint32(4, seed, true);
        }
        index += 1;
        sent += size;
        hash.update(chunk);
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => sent, cancelled: () => cancelled, sha256: () => hash.copy().digest('hex') };
}

async function readText(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

async function sha256OfStream(stream: ReadableStream<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    hash.update(value);
  }
  return { sha256: hash.digest('hex'), size };
}

/** Every file under root, relative, so a test can assert nothing else was left behind. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

describe('local blob store', () => {
  it('round-trips an object: put, head, get, delete', async () => {
    const key = uploadKey(crypto.randomUUID());
    const result = await store.put(key, bodyOf('hello, disk'), { contentType: 'text/plain' });
    expect(result).toEqual({
      key,
      size: 11,
      sha256: createHash('sha256').update('hello, disk').digest('hex'),
    });
    expect(await store.head(key)).toEqual({ key, size: 11 });

    const read = await store.get(key);
    expect(read?.info).toEqual({ key, size: 11 });
    expect(await readText(read!.body)).toBe('hello, disk');
    expect(await readFile(join(root, key), 'utf8')).toBe('hello, disk');

    await store.delete(key);
    expect(await store.get(key)).toBeNull();
    expect(await store.head(key)).toBeNull();
    await store.delete(key);
  });

  it('stores nested output keys and empty bodies', async () => {
    const key = outputKey(crypto.randomUUID(), 2, '720p/segment_001.m4s');
    const result = await store.put(key, bodyOf(new Uint8Array(0)));
    expect(result.size).toBe(0);
    expect(result.sha256).toBe(createHash('sha256').digest('hex'));
    expect(await readText((await store.get(key))!.body)).toBe('');
  });

  it('returns null for a missing key, a missing root and a key that names a directory', async () => {
    expect(await store.get(uploadKey(crypto.randomUUID()))).toBeNull();
    expect(await createLocalBlobStore(join(root, 'absent')).get('uploads/x')).toBeNull();
    await store.put('outputs/a/b', bodyOf('x'));
    expect(await store.get('outputs/a')).toBeNull();
    expect(await store.head('outputs/a')).toBeNull();
    expect(await store.get('outputs/a/b/c')).toBeNull();
  });

  it('reads byte ranges; info.size is the whole object; past the end is empty', async () => {
    const key = uploadKey(crypto.randomUUID());
    await store.put(key, bodyOf('0123456789'));
    const text = async (offset: number, length?: number) => {
      const read = await store.get(key, length === undefined ? { offset } : { offset, length });
      expect(read?.info.size).toBe(10);
      return readText(read!.body);
    };
    expect(await text(2, 3)).toBe('234');
    expect(await text(7)).toBe('789');
    expect(await text(0)).toBe('0123456789');
    expect(await text(8, 100)).toBe('89');
    expect(await text(10)).toBe('');
    expect(await text(25, 3)).toBe('');
    expect(await text(4, 0)).toBe('');
    await expect(store.get(key, { offset: -1 })).rejects.toThrow(RangeError);
    await expect(store.get(key, { offset: 0, length: 1.5 })).rejects.toThrow(RangeError);
  });

  it('reads a range spanning many chunks exactly', async () => {
    const key = uploadKey(crypto.randomUUID());
    const bytes = new Uint8Array(300_000).map((_, i) => i % 253);
    await store.put(key, bodyOf(bytes));
    const read = await store.get(key, { offset: 12_345, length: 200_001 });
    const back = new Uint8Array(await new Response(read!.body).arrayBuffer());
    expect(Buffer.compare(back, bytes.subarray(12_345, 12_345 + 200_001))).toBe(0);
  });

  it('stops reading at the size limit, cancels the source, and leaves no file and no temp file', async () => {
    const key = uploadKey(crypto.randomUUID());
    const body = generated(10 * 1024 * 1024);
    const limit = 1024 * 1024 + 1;
    const error = await store.put(key, body.stream, { maxBytes: limit }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobTooLargeError);
    expect((error as BlobTooLargeError).limit).toBe(limit);
    expect(body.cancelled()).toBe(true);
    // Not one chunk more than needed to see the limit was crossed.
    expect(body.pulled()).toBeLessThanOrEqual(limit + 64 * 1024);
    expect(await store.head(key)).toBeNull();
    expect(await filesUnder(root)).toEqual([]);
  });

  it('a failed write leaves the previous object whole', async () => {
    const key = uploadKey(crypto.randomUUID());
    await store.put(key, bodyOf('the original'));
    await expect(store.put(key, generated(5 * 1024 * 1024).stream, { maxBytes: 1000 })).rejects.toBeInstanceOf(BlobTooLargeError);

    let pulls = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        if (pulls > 3) controller.error(new Error('client went away'));
        else controller.enqueue(new Uint8Array(1000));
      },
    });
    await expect(store.put(key, failing)).rejects.toThrow('client went away');

    expect(await readText((await store.get(key))!.body)).toBe('the original');
    expect(await filesUnder(root)).toEqual([key]);
  });

  it('refuses keys that are not ffedge keys before touching the disk', async () => {
    for (const key of ['../outside', 'uploads/../../x', '/etc/passwd', 'uploads//x', 'uploads/./x', 'uploads/a b', 'uploads\\x', '~put-x', '']) {
      await expect(store.put(key, bodyOf('x'))).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.head(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
    }
    expect(await filesUnder(root)).toEqual([]);
  });

  it('check() writes, reads and removes a probe under .health/', async () => {
    await store.check();
    expect(await filesUnder(root)).toEqual([]);
    await expect(store.check(AbortSignal.abort())).rejects.toThrow();
  });

  it('check() fails when the root cannot be written', async () => {
    const file = join(root, 'not-a-directory');
    await writeFile(file, 'x');
    await expect(createLocalBlobStore(file).check()).rejects.toThrow();
  });

  it('audit #3: two writers racing on one key leave one complete object and no temp files', async () => {
    const key = uploadKey(crypto.randomUUID());
    const writers = 16;
    const size = 512 * 1024 + 7;
    const bodies = Array.from({ length: writers }, (_, seed) => generated(size, seed + 1, 16 * 1024));
    // Readers race the writers too: each sees nothing yet or one body whole, never a mix or a prefix.
    let reading = true;
    const seen: string[] = [];
    const reader = (async () => {
      while (reading) {
        const read = await store.get(key);
        if (read) seen.push((await sha256OfStream(read.body)).sha256);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const results = await Promise.all(bodies.map((body) => store.put(key, body.stream)));
    reading = false;
    await reader;

    const written = bodies.map((body) => body.sha256());
    expect(results.map((result) => result.sha256)).toEqual(written);
    expect(new Set(written).size).toBe(writers);

    const final = await sha256OfStream((await store.get(key))!.body);
    expect(final.size).toBe(size);
    expect(written).toContain(final.sha256);
    for (const digest of seen) expect(written).toContain(digest);
    expect(await filesUnder(root)).toEqual([key]);
  });

  it('a reader that opened before a replace reads the old object whole', async () => {
    const key = uploadKey(crypto.randomUUID());
    const first = generated(1024 * 1024, 1);
    await store.put(key, first.stream);
    const read = await store.get(key);
    const second = generated(512 * 1024, 2);
    await store.put(key, second.stream);
    expect(await sha256OfStream(read!.body)).toEqual({ sha256: first.sha256(), size: 1024 * 1024 });
    expect(await sha256OfStream((await store.get(key))!.body)).toEqual({ sha256: second.sha256(), size: 512 * 1024 });
  });

  it('audit #3: exclusive temp files mean a stray file of the same shape is never overwritten', async () => {
    const key = uploadKey(crypto.randomUUID());
    await mkdir(join(root, 'uploads'), { recursive: true });
    await writeFile(join(root, 'uploads', 'unrelated'), 'keep me');
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.put(key, bodyOf(`body ${i}`))));
    expect(await readFile(join(root, 'uploads', 'unrelated'), 'utf8')).toBe('keep me');
    expect(await filesUnder(root)).toEqual([key, 'uploads/unrelated'].sort());
  });

  it('audit #17: a large upload and download stream with bounded memory', async () => {
    const total = 300 * 1024 * 1024;
    const key = uploadKey(crypto.randomUUID());
    const bound = 64 * 1024 * 1024;
    const baseline = process.memoryUsage();
    let peakRss = 0;
    let peakArrayBuffers = 0;
    const sample = () => {
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss - baseline.rss);
      peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers - baseline.arrayBuffers);
    };
    const sampler = setInterval(sample, 5);

    try {
      const body = generated(total, 7);
      const put = await store.put(key, body.stream, { maxBytes: total });
      sample();
      expect(put.size).toBe(total);
      expect(put.sha256).toBe(body.sha256());

      const read = await store.get(key);
      expect(read?.info.size).toBe(total);
      const back = await sha256OfStream(read!.body);
      sample();
      expect(back).toEqual({ sha256: put.sha256, size: total });
    } finally {
      clearInterval(sampler);
    }
    expect(peakArrayBuffers).toBeLessThan(bound);
    expect(peakRss).toBeLessThan(bound);
  });

  it.skipIf(!smallFs)('a full file system fails the put as StorageFullError, leaves nothing, and the old object whole', async () => {
    const small = (await mountSmallFs(512 * 1024))!;
    try {
      const full = createLocalBlobStore(small.dir);
      const key = uploadKey(crypto.randomUUID());
      await full.put(key, bodyOf('the original'));
      const body = generated(2 * 1024 * 1024);
      const error = await full.put(key, body.stream).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageFullError);
      // The kernel's own error, kept for the server log; the errno name stays visible as `code`.
      expect((error as StorageFullError).code).toBe('ENOSPC');
      expect(((error as Error).cause as NodeJS.ErrnoException).syscall).toBe('write');
      expect(body.cancelled()).toBe(true);
      expect(await filesUnder(small.dir)).toEqual([key]);
      expect(await readText((await full.get(key))!.body)).toBe('the original');
      // The room the failed write took is given back: a small object fits again.
      await full.put(uploadKey(crypto.randomUUID()), generated(256 * 1024).stream);
    } finally {
      await small.unmount();
    }
  });
});
