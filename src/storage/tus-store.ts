/**
 * The state of resumable (tus) uploads: a `tus_uploads` row per upload and the blobs holding its bytes so far.
 *
 * Each PATCH body is streamed into a blob of its own (a "part", `tus/<id>.<offset>.<nonce>`) with the BlobStore's
 * ordinary put; when the last byte is in, the parts are read back in order and streamed into `uploads/<id>` with the
 * same put POST /uploads uses, which computes the SHA-256 and makes the object visible whole, and the upload row of
 * the same id is written. Why parts as objects rather than a multipart upload kept open across requests:
 * - one code path for every store (local directory, R2, S3) with no new BlobStore methods;
 * - R2 (and S3) multipart parts must be at least 5 MiB except the last, and a tus client picks its own chunk size
 *   (and may be cut off mid-chunk), so a multipart design still needs a leftover of up to one part kept somewhere
 *   between requests: that is a part object anyway;
 * - the upload row needs the SHA-256 of the whole file, and Web Crypto (Workers) has no digest whose state can be
 *   saved between requests, so the bytes are read once more at the end in any design; here that read is the copy;
 * - a part is acknowledged only once its put has finished, so the offset HEAD reports is always of stored bytes.
 * The cost is that the bytes are written twice, and the last PATCH lasts as long as that copy. On R2 the final put is
 * itself an R2 multipart upload (src/storage/r2.ts) once the file passes one part, so memory stays at about a part.
 *
 * `offset` is the version: a part is counted by `UPDATE ... WHERE id = ? AND offset = <offset it was written at>
 * AND expires_at > now`, so of two PATCHes racing at one offset exactly one wins; the other deletes its part and is
 * answered 409. The request that counts the last part holds a lease (`finishing_until`, renewed while it copies); if
 * it dies, HEAD goes on reporting the offset before that part, and once the lease lapses the client's PATCH of those
 * bytes again takes the part back and finishes the upload itself. Rows leave by the sweep once `expires_at` passes (termination sets it to now); parts are deleted
 * before the row, so a crash leaves a row the next sweep finishes, never a blob no row names.
 */
import { and, asc, eq, gt, isNull, lte } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { tusUploads, uploads, type TusPart } from '../db/schema.js';
import type { Logger } from '../platform.js';
import type { BlobStore, PutResult } from './blob-store.js';
import { assertBlobKey, uploadKey } from './keys.js';

export type TusUpload = typeof tusUploads.$inferSelect;

/**
 * At most this many parts per upload: the final copy reads each (one subrequest apiece on Workers), so a client
 * sending tiny chunks cannot make it unbounded. 1000 parts of a 2 GiB upload are 2 MiB each on average.
 */
export const MAX_TUS_PARTS = 1000;

/** An incomplete upload is kept this long after its creation (capped by the tier's retention): tus `Upload-Expires`. */
export const TUS_INCOMPLETE_TTL_MS = 24 * 3600 * 1000;

/**
 * How long the request that counted the last part holds the upload while it copies the parts; it renews this every
 * third of it while it copies, so only a request that died lets it lapse.
 */
export const TUS_FINISH_LEASE_MS = 60_000;

export class TusConflictError extends Error {
  constructor(readonly reason: 'offset' | 'gone' | 'finishing') {
    super(`tus upload conflict: ${reason}`);
    this.name = 'TusConflictError';
  }
}

export class TusTooManyPartsError extends Error {
  constructor() {
    super(`tus upload would need more than ${MAX_TUS_PARTS} parts`);
    this.name = 'TusTooManyPartsError';
  }
}

/** Flat under `tus/` (no folder per upload), so the local store leaves no empty directory behind each upload. */
function partKey(id: string, offset: number): string {
  const key = `tus/${id.toLowerCase()}.${offset}.${crypto.randomUUID()}`;
  assertBlobKey(key);
  return key;
}

/** The bytes a client may rely on: while the last part is being copied into the upload, it is not counted yet. */
export function reportedOffset(row: TusUpload): number {
  if (row.completedAt === null && row.offset === row.length && row.parts.length > 0) return row.offset - row.parts.at(-1)!.size;
  return row.offset;
}

/** Whether the row is past the CAS of its last part but its upload row is not written yet. */
export function isFinishing(row: TusUpload): boolean {
  return row.completedAt === null && row.offset === row.length;
}

export async function findTusUpload(db: Db, id: string, apiKeyId: string): Promise<TusUpload | null> {
  return (await db.select().from(tusUploads).where(and(eq(tusUploads.id, id), eq(tusUploads.apiKeyId, apiKeyId))).get()) ?? null;
}

export async function createTusUpload(db: Db, row: Omit<TusUpload, 'offset' | 'parts' | 'completedAt' | 'finishingUntil'>): Promise<TusUpload> {
  await db.insert(tusUploads).values({ ...row, offset: 0, parts: [] });
  return { ...row, offset: 0, parts: [], completedAt: null, finishingUntil: null };
}

/**
 * Streams `body` into a new part at the row's offset and counts it by compare-and-set. Refuses (BlobTooLargeError
 * from the put, nothing kept) a body that passes the declared length. Returns the row as it now is.
 */
export async function appendTusPart(deps: { db: Db; blobs: BlobStore; clock: () => number }, row: TusUpload, body: ReadableStream<Uint8Array>): Promise<TusUpload> {
  const { db, blobs } = deps;
  if (row.parts.length >= MAX_TUS_PARTS) {
    await body.cancel().catch(() => undefined);
    throw new TusTooManyPartsError();
  }
  const key = partKey(row.id, row.offset);
  const stored = await blobs.put(key, body, { maxBytes: row.length - row.offset });
  if (stored.size === 0) {
    // An empty PATCH moves nothing (tus allows it); no part is kept for it.
    await blobs.delete(key);
    return row;
  }
  const offset = row.offset + stored.size;
  const parts = [...row.parts, { key, size: stored.size }];
  if (parts.length >= MAX_TUS_PARTS && offset < row.length) {
    await blobs.delete(key);
    throw new TusTooManyPartsError();
  }
  const finishingUntil = offset === row.length ? deps.clock() + TUS_FINISH_LEASE_MS : null;
  const won = await db
    .update(tusUploads)
    .set({ offset, parts, finishingUntil })
    .where(and(eq(tusUploads.id, row.id), eq(tusUploads.offset, row.offset), isNull(tusUploads.completedAt), gt(tusUploads.expiresAt, deps.clock())))
    .returning({ id: tusUploads.id });
  if (won.length === 0) {
    // Another PATCH counted its bytes at this offset first, or the upload was terminated or expired meanwhile.
    await blobs.delete(key);
    throw new TusConflictError('offset');
  }
  return { ...row, offset, parts, finishingUntil };
}

/** The parts, in order, as one stream: one part open at a time, each read as it is consumed. */
function concatenated(blobs: BlobStore, parts: readonly TusPart[], onChunk: () => Promise<void>): ReadableStream<Uint8Array> {
  let next = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (!reader) {
            if (next >= parts.length) {
              controller.close();
              return;
            }
            const part = await blobs.get(parts[next++]!.key);
            if (!part) throw new Error('tus part missing');
            reader = part.body.getReader();
          }
          const { done, value } = await reader.read();
          if (done) {
            reader.releaseLock();
            reader = undefined;
            continue;
          }
          await onChunk();
          controller.enqueue(value);
          return;
        }
      },
      async cancel(reason) {
        await reader?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Turns a row whose bytes are all in into the upload row `upload:<id>`, as POST /uploads makes it. On failure the
 * last part is given back (offset and parts as before it, its blob deleted), so the client can send it again.
 */
export async function completeTusUpload(
  deps: { db: Db; blobs: BlobStore; clock: () => number },
  row: TusUpload,
  options: { maxBytes: number; retentionS: number; before?: TusUpload },
): Promise<void> {
  const { db, blobs, clock } = deps;
  const key = uploadKey(row.id);
  let stored: PutResult | undefined;
  let renewedAt = clock();
  const renew = async () => {
    if (clock() - renewedAt < TUS_FINISH_LEASE_MS / 3) return;
    renewedAt = clock();
    const held = await db
      .update(tusUploads)
      .set({ finishingUntil: renewedAt + TUS_FINISH_LEASE_MS })
      .where(and(eq(tusUploads.id, row.id), eq(tusUploads.offset, row.length), isNull(tusUploads.completedAt)))
      .returning({ id: tusUploads.id });
    // Taken over (this request was thought dead) or terminated: stop copying.
    if (held.length === 0) throw new TusConflictError('finishing');
  };
  try {
    stored = await blobs.put(key, concatenated(blobs, row.parts, renew), { maxBytes: options.maxBytes, ...(row.contentType ? { contentType: row.contentType } : {}) });
    if (stored.size !== row.length) throw new Error('tus parts do not add up to the upload length');
    const now = clock();
    await db
      .insert(uploads)
      .values({
        id: row.id,
        apiKeyId: row.apiKeyId,
        key,
        size: stored.size,
        sha256: stored.sha256,
        filename: row.filename,
        contentType: row.contentType,
        createdAt: now,
        expiresAt: now + options.retentionS * 1000,
      })
      .onConflictDoNothing();
    await db.update(tusUploads).set({ completedAt: now, parts: [], finishingUntil: null }).where(eq(tusUploads.id, row.id));
  } catch (error) {
    if (stored) await blobs.delete(key).catch(() => undefined);
    const before = options.before;
    if (before) {
      const last = row.parts.at(-1);
      const undone = await db
        .update(tusUploads)
        .set({ offset: before.offset, parts: before.parts, finishingUntil: null })
        .where(and(eq(tusUploads.id, row.id), eq(tusUploads.offset, row.offset), isNull(tusUploads.completedAt)))
        .returning({ id: tusUploads.id });
      if (undone.length > 0 && last) await blobs.delete(last.key).catch(() => undefined);
    }
    throw error;
  }
  for (const part of row.parts) await blobs.delete(part.key);
}

/**
 * A row left finishing by a request that died (its lease lapsed, no upload row made): gives back its last part, so the
 * client's PATCH of those bytes again (at the offset HEAD reports) counts them and finishes the upload. Null when the
 * row is not in that state any more (the copy finished, or another request took over first).
 */
export async function takeOverFinishing(deps: { db: Db; blobs: BlobStore; clock: () => number }, row: TusUpload): Promise<TusUpload | null> {
  const last = row.parts.at(-1);
  if (!isFinishing(row) || !last || row.finishingUntil === null || row.finishingUntil > deps.clock()) return null;
  const parts = row.parts.slice(0, -1);
  const offset = row.offset - last.size;
  const won = await deps.db
    .update(tusUploads)
    .set({ offset, parts, finishingUntil: null })
    .where(and(eq(tusUploads.id, row.id), eq(tusUploads.offset, row.offset), isNull(tusUploads.completedAt), eq(tusUploads.finishingUntil, row.finishingUntil)))
    .returning({ id: tusUploads.id });
  if (won.length === 0) return null;
  await deps.blobs.delete(last.key);
  return { ...row, offset, parts, finishingUntil: null };
}

/** Ends an upload now (tus termination): its parts go, and its row at the next sweep or right here. */
export async function terminateTusUpload(deps: { db: Db; blobs: BlobStore; clock: () => number }, row: TusUpload): Promise<void> {
  const now = deps.clock();
  // Expiring it first stops every PATCH still in flight from counting its part (their CAS needs expires_at > now).
  await deps.db.update(tusUploads).set({ expiresAt: now }).where(eq(tusUploads.id, row.id));
  const current = await deps.db.select().from(tusUploads).where(eq(tusUploads.id, row.id)).get();
  if (current) await discardTusUpload(deps.db, deps.blobs, current);
}

/** Deletes a row's parts, then the row if no part was counted meanwhile (else the next sweep takes it). */
async function discardTusUpload(db: Db, blobs: BlobStore, row: TusUpload): Promise<boolean> {
  for (const part of row.parts) await blobs.delete(part.key);
  const gone = await db
    .delete(tusUploads)
    .where(and(eq(tusUploads.id, row.id), eq(tusUploads.offset, row.offset)))
    .returning({ id: tusUploads.id });
  return gone.length > 0;
}

/**
 * Deletes tus uploads past `expires_at`: an incomplete one's parts and row (tus expiration), and the row of a
 * completed one (its file is the upload row's, under that row's retention).
 */
export async function sweepTusUploads(deps: { db: Db; blobs: BlobStore; clock: () => number; log: Logger }, batch = 100): Promise<number> {
  let swept = 0;
  for (;;) {
    const due = await deps.db.select().from(tusUploads).where(lte(tusUploads.expiresAt, deps.clock())).orderBy(asc(tusUploads.expiresAt)).limit(batch).all();
    let progressed = false;
    for (const row of due) {
      if (await discardTusUpload(deps.db, deps.blobs, row)) {
        swept += 1;
        progressed = true;
      }
    }
    // A row whose CAS lost (a part counted at the very moment) waits for the next sweep rather than spin here.
    if (due.length < batch || !progressed) break;
  }
  if (swept > 0) deps.log.info('tus uploads swept', { swept });
  return swept;
}
