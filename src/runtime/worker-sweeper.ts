/**
 * The safety net of the Workers deployment, run by a Cron Trigger (wrangler.toml [triggers]): each JobCoordinator
 * watches its own job with an alarm, but a job must not depend on one object's storage alone. Every few minutes:
 *
 * - leases that expired anywhere are handed back (re-queued while attempts remain, failed otherwise), and
 * - jobs queued for a long time without anything happening (their message was lost, or went to the dead-letter
 *   queue) are sent to the JOBS queue again.
 *
 * A job sent twice is harmless: its JobCoordinator claims it with a compare-and-set, so it runs once.
 */
import { and, asc, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobs } from '../db/schema.js';
import * as transitions from '../jobs/transitions.js';
import type { Coordinator } from '../platform.js';
import type { JobMessage } from './worker-env.js';

/** Longer than the longest retry backoff of a coordinator (5 min), so a retry it owes is not raced. */
export const STALE_QUEUED_MS = 10 * 60_000;
const REDISPATCH_BATCH = 100;

export async function sweepJobs(deps: { db: Db; queue: Queue<JobMessage>; coordinator: Coordinator; now: number }): Promise<{ requeued: string[]; failed: string[]; redispatched: string[] }> {
  const { db, now } = deps;
  const changed = await transitions.sweep(db, now);
  const requeued = changed.filter((job) => job.status === 'queued').map((job) => job.id);
  const failed = changed.filter((job) => job.status === 'failed').map((job) => job.id);
  const stale = await db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.status, 'queued'), lt(jobs.updatedAt, now - STALE_QUEUED_MS)))
    .orderBy(asc(jobs.updatedAt))
    .limit(REDISPATCH_BATCH)
    .all();
  const redispatched = stale.map((row) => row.id).filter((id) => !requeued.includes(id));
  const send = [...requeued, ...redispatched];
  if (send.length > 0) await deps.queue.sendBatch(send.map((id) => ({ body: { id }, contentType: 'json' as const })));
  // Followers of the jobs that changed look again.
  await Promise.all(changed.map((job) => deps.coordinator.notify(job.id).catch(() => undefined)));
  return { requeued, failed, redispatched };
}
