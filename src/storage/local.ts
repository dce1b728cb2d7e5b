/**
 * BlobStore on a local directory (Node, and Deno through its node: compatibility).
 *
 * Writes go to a uniquely named temp file beside the target, created exclusively, then fsync + rename: a reader
 * opens either the previous whole file or the new whole file, never a partial one, and of racing writers the last
 * rename wins whole. A create-only put (ifAbsent) links the temp file to the target instead, which fails if the name
 * is taken: of racing creators one wins, the others get BlobExistsError. Temp names start with `~`, which no blob key may contain, so a key can never address one.
 *
 * Content type is not stored here. A sidecar file could not be replaced in the same atomic step as the data, so
 * racing writers could pair one body with another's type; the database rows that name a blob (uploads, job
 * outputs) are the source of truth for its type and name. `head`/`get` return no contentType.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BlobExistsError, BlobTooLargeError, StorageFullError, type BlobInfo, type BlobStore, type ByteRange, type PutOptions, type PutResult } from './blob-store.js';
import { assertBlobKey, healthProbeKey } from './keys.js';

/** Size of each read when streaming a file out; also the most one pending chunk holds. */
const READ_CHUNK_BYTES = 64 * 1024;

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}

async function writeFully(file: FileHandle, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.byteLength) {
    const { bytesWritten } = await file.write(chunk, written, chunk.byteLength - written);
    written += bytesWritten;
  }
}

/**
 * Makes the rename itself durable across a power cut. Best effort: by now the object is already in place and
 * visible, so a platform that cannot fsync a directory (Windows, some Deno builds) must not turn a finished write
 * into a reported failure.
 */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // See above: the write has succeeded either way.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function assertRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.offset) || range.offset < 0) throw new RangeError('range offset must be a whole number >= 0');
  if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)) {
    throw new RangeError('range length must be a whole number >= 0');
  }
}

/**
 * A pull-driven stream over [start, end) of an open file: one positioned read per pull, so at most one chunk is
 * in memory whatever the file size and however slow the consumer. The handle is closed at the end, on error and
 * on cancel.
 */
function fileRangeStream(file: FileHandle, start: number, end: number): ReadableStream<Uint8Array> {
  let position = start;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await file.close();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const want = Math.min(READ_CHUNK_BYTES, end - position);
          if (want <= 0) {
            await close();
            controller.close();
            return;
          }
          const buffer = new Uint8Array(want);
          const { bytesRead } = await file.read(buffer, 0, want, position);
          if (bytesRead === 0) {
            // The file was truncated under us (not by ffedge, which only renames over it): end short rather than hang.
            await close();
            controller.close();
            return;
          }
          position += bytesRead;
          controller.enqueue(bytesRead === want ? buffer : buffer.subarray(0, bytesRead));
        } catch (error) {
          await close().catch(() => undefined);
          controller.error(error);
        }
      },
      async cancel() {
        await close();
      },
    },
    { highWaterMark: 0 },
  );
}

export function createLocalBlobStore(root: string): BlobStore {
  const pathOf = (key: string): string => {
    assertBlobKey(key);
    return join(root, ...key.split('/'));
  };

  async function put(key: string, body: ReadableStream<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    const target = pathOf(key);
    const dir = dirname(target);
    const reader = body.getReader();
    let sourceDone = false;
    let file: FileHandle | undefined;
    let temp: string | undefined;
    try {
      await mkdir(dir, { recursive: true });
      temp = join(dir, `~put-${randomUUID()}`);
      file = await open(temp, 'wx');
      const hash = createHash('sha256');
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          sourceDone = true;
          break;
        }
        size += value.byteLength;
        if (options.maxBytes !== undefined && size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
        hash.update(value);
        await writeFully(file, value);
      }
      await file.sync();
      await file.close();
      file = undefined;
      if (options.ifAbsent) {
        // link() creates the name only if it is free, in one step: of racing writers exactly one succeeds.
        try {
          await link(temp, target);
        } catch (error) {
          if (isErrno(error, 'EEXIST')) throw new BlobExistsError();
          throw error;
        }
        await removeIfPresent(temp);
      } else {
        await rename(temp, target);
      }
      temp = undefined;
      await syncDirectory(dir);
      return { key, size, sha256: hash.digest('hex') };
    } catch (error) {
      // Stop the producer at once (an upload over the limit is not read to its end) and leave nothing behind.
      if (!sourceDone) await reader.cancel(error).catch(() => undefined);
      await file?.close().catch(() => undefined);
      if (temp !== undefined) await removeIfPresent(temp).catch(() => undefined);
      if (isErrno(error, 'ENOSPC', 'EDQUOT')) throw new StorageFullError((error as NodeJS.ErrnoException).code!, { cause: error });
      throw error;
    } finally {
      reader.releaseLock();
    }
  }

  async function get(key: string, range?: ByteRange): Promise<{ body: ReadableStream<Uint8Array>; info: BlobInfo } | null> {
    const path = pathOf(key);
    if (range) assertRange(range);
    let file: FileHandle;
    try {
      // Open first and learn about absence from the open itself: no exists()-then-open window.
      file = await open(path, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return null;
      throw error;
    }
    try {
      // Size from the open handle: a concurrent rename replaces the directory entry, not the file we hold.
      const stats = await file.stat();
      if (!stats.isFile()) {
        await file.close();
        return null;
      }
      // info.size is the whole object's size; a range outside it yields an empty body (callers answer 416 from head).
      const start = Math.min(range?.offset ?? 0, stats.size);
      const end = range?.length === undefined ? stats.size : Math.min(stats.size, start + range.length);
      return { body: fileRangeStream(file, start, end), info: { key, size: stats.size } };
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
  }

  async function head(key: string): Promise<BlobInfo | null> {
    const path = pathOf(key);
    try {
      const stats = await stat(path);
      return stats.isFile() ? { key, size: stats.size } : null;
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return null;
      throw error;
    }
  }

  async function remove(key: string): Promise<void> {
    await removeIfPresent(pathOf(key));
  }

  async function check(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const key = healthProbeKey();
    const probe = new TextEncoder().encode(`ffedge ${key}`);
    try {
      await put(key, new Blob([probe]).stream());
      signal?.throwIfAborted();
      const read = await get(key);
      if (!read) throw new Error('blob store check: probe vanished after write');
      const back = new Uint8Array(await new Response(read.body).arrayBuffer());
      if (back.byteLength !== probe.byteLength || !back.every((byte, i) => byte === probe[i])) {
        throw new Error('blob store check: probe read back differs');
      }
    } finally {
      await remove(key);
    }
  }

  return { put, get, head, delete: remove, check };
}
