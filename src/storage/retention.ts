/**
 * Retention: uploads and a completed job's outputs are kept for the key's tier's retention_s, then the sweep deletes
 * their blobs; a user may delete them sooner (DELETE /uploads/:id, DELETE /jobs/:id/outputs). The rows stay and say
 * what happened, so a job's record outlives its files.
 *
 * The blobs go first, then the row is marked (by compare-and-set on "not deleted yet"): a crash between the two
 * leaves a row the next sweep deletes again (deleting is idempotent), never a blob no row points at.
 */
import { and, asc, eq, isNull, lte } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobs, uploads, type Job } from '../db/schema.js';
import type { Logger } from '../platform.js';
import type { BlobStore } from './blob-store.js';
import { sweepTusUploads } from './tus-store.js';

export type Removal = 'expired' | 'deleted';

export async function deleteUploadFiles(db: Db, blobs: BlobStore, upload: { id: string; key: string }, now: number): Promise<boolean> {
  await blobs.delete(upload.key);
  const marked = await db.update(uploads).set({ deletedAt: now }).where(and(eq(uploads.id, upload.id), isNull(uploads.deletedAt))).returning({ id: uploads.id });
  return marked.length > 0;
}

export async function deleteJobOutputs(db: Db, blobs: BlobStore, job: Pick<Job, 'id' | 'outputs'>, now: number, reason: Removal): Promise<boolean> {
  for (const output of job.outputs ?? []) await blobs.delete(output.key);
  const marked = await db
    .update(jobs)
    .set({ outputsDeletedAt: now, outputsDeletedReason: reason, updatedAt: now })
    .where(and(eq(jobs.id, job.id), isNull(jobs.outputsDeletedAt)))
    .returning({ id: jobs.id });
  return marked.length > 0;
}

/** Deletes what is past its retention, `batch` of each at a time, until nothing is due. */
export async function sweepRetention(deps: { db: Db; blobs: BlobStore; clock: () => number; log: Logger }, batch = 100): Promise<{ uploads: number; outputs: number }> {
  const { db, blobs, clock } = deps;
  const swept = { uploads: 0, outputs: 0 };
  for (;;) {
    const now = clock();
    const due = await db
      .select({ id: uploads.id, key: uploads.key })
      .from(uploads)
      .where(and(isNull(uploads.deletedAt), lte(uploads.expiresAt, now)))
      .orderBy(asc(uploads.expiresAt))
      .limit(batch)
      .all();
    for (const upload of due) if (await deleteUploadFiles(db, blobs, upload, now)) swept.uploads += 1;
    if (due.length < batch) break;
  }
  for (;;) {
    const now = clock();
    const due = await db
      .select({ id: jobs.id, outputs: jobs.outputs })
      .from(jobs)
      .where(and(isNull(jobs.outputsDeletedAt), lte(jobs.outputsExpireAt, now)))
      .orderBy(asc(jobs.outputsExpireAt))
      .limit(batch)
      .all();
    for (const job of due) if (await deleteJobOutputs(db, blobs, job, now, 'expired')) swept.outputs += 1;
    if (due.length < batch) break;
  }
  // Unfinished resumable uploads past their Upload-Expires (tus expiration), with the same deps and clock.
  await sweepTusUploads(deps, batch);
  if (swept.uploads + swept.outputs > 0) deps.log.info('retention sweep', swept);
  return swept;
}
