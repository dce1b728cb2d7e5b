/**
 * Where a webhook delivery changes state: one statement per change, each a compare-and-set on the lease, as a job's
 * transitions are (src/jobs/transitions.ts), so any number of senders (Node processes, Queue consumers) can share
 * the table. The deliveries themselves are made by the trigger that writes the job's events.
 *
 *   pending (due) --claim--> pending (leased) --settle--> delivered | pending (retry later) | failed | stopped
 *
 * Per job, in event order: a delivery is not claimed while an earlier one of its job is still pending (in flight,
 * or waiting for its retry), so a receiver never sees `job.completed` before the `job.started` it follows.
 */
import { and, asc, desc, eq, isNull, lt, lte, min, ne, notExists, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db/client.js';
import { jobs, webhookAttempts, webhookDeliveries } from '../db/schema.js';

export type Delivery = typeof webhookDeliveries.$inferSelect;
export type DeliveryAttempt = typeof webhookAttempts.$inferSelect;

export interface DeliveryLease {
  owner: string;
  ms: number;
}

const free = (now: number) => or(isNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, now));

/** Takes the next due delivery (of one job, when `jobId` is given) whose job has no earlier one pending. */
export async function claimDelivery(db: Db, lease: DeliveryLease, now: number, jobId?: string): Promise<Delivery | null> {
  const earlier = alias(webhookDeliveries, 'earlier');
  const next = db
    .select({ id: webhookDeliveries.eventId })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.status, 'pending'),
        lte(webhookDeliveries.nextAttemptAt, now),
        free(now),
        jobId === undefined ? undefined : eq(webhookDeliveries.jobId, jobId),
        notExists(
          db
            .select({ one: sql`1` })
            .from(earlier)
            .where(and(eq(earlier.jobId, webhookDeliveries.jobId), eq(earlier.status, 'pending'), lt(earlier.eventId, webhookDeliveries.eventId))),
        ),
      ),
    )
    .orderBy(asc(webhookDeliveries.nextAttemptAt), asc(webhookDeliveries.eventId))
    .limit(1);
  const [claimed] = await db
    .update(webhookDeliveries)
    .set({ leaseOwner: lease.owner, leaseUntil: now + lease.ms, updatedAt: now })
    .where(and(eq(webhookDeliveries.eventId, next), eq(webhookDeliveries.status, 'pending'), free(now)))
    .returning();
  return claimed ?? null;
}

/** How one attempt ended, as the sender saw it. */
export interface AttemptRecord {
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  /** An error class (`timeout`, `connect`...), never upstream text. */
  error: string | null;
}

export type Settlement =
  | { outcome: 'delivered' }
  /** Another attempt at `at`. */
  | { outcome: 'retry'; at: number }
  /** The last attempt failed: no more. */
  | { outcome: 'failed' }
  /** The receiver answered 410 Gone: nothing more for this job. */
  | { outcome: 'stopped' };

/**
 * Records an attempt and what follows from it, if the lease is still the sender's (false: another sender took the
 * delivery over after the lease ran out, and this attempt changes nothing). `payload` is the body that was sent,
 * kept so that retries and replays send the same bytes.
 */
export async function settleDelivery(
  db: Db,
  delivery: Pick<Delivery, 'eventId' | 'jobId' | 'attempts'>,
  owner: string,
  now: number,
  payload: string,
  attempt: AttemptRecord,
  settlement: Settlement,
): Promise<boolean> {
  const attempts = delivery.attempts + 1;
  const [row] = await db
    .update(webhookDeliveries)
    .set({
      status: settlement.outcome === 'retry' ? 'pending' : settlement.outcome,
      attempts,
      nextAttemptAt: settlement.outcome === 'retry' ? settlement.at : now,
      leaseOwner: null,
      leaseUntil: null,
      payload,
      lastStatusCode: attempt.statusCode,
      lastError: attempt.error,
      updatedAt: now,
      deliveredAt: settlement.outcome === 'delivered' ? now : null,
    })
    .where(and(eq(webhookDeliveries.eventId, delivery.eventId), eq(webhookDeliveries.status, 'pending'), eq(webhookDeliveries.leaseOwner, owner)))
    .returning({ eventId: webhookDeliveries.eventId });
  if (!row) return false;
  await db.insert(webhookAttempts).values({
    eventId: delivery.eventId,
    jobId: delivery.jobId,
    attempt: attempts,
    startedAt: attempt.startedAt,
    durationMs: attempt.durationMs,
    statusCode: attempt.statusCode,
    error: attempt.error,
    nextAttemptAt: settlement.outcome === 'retry' ? settlement.at : null,
  });
  if (settlement.outcome === 'stopped') {
    // The receiver is gone for this job: its later deliveries stop, and the trigger makes no more.
    await db.update(jobs).set({ webhookStoppedAt: now }).where(and(eq(jobs.id, delivery.jobId), isNull(jobs.webhookStoppedAt)));
    await db
      .update(webhookDeliveries)
      .set({ status: 'stopped', updatedAt: now, lastError: 'gone' })
      .where(and(eq(webhookDeliveries.jobId, delivery.jobId), eq(webhookDeliveries.status, 'pending')));
  }
  return true;
}

/**
 * Gives a claimed delivery back without counting an attempt: its host's breaker is open, so it waits until the
 * breaker lets a trial through. Deferred, never dropped.
 */
export async function deferDelivery(db: Db, delivery: Pick<Delivery, 'eventId'>, owner: string, now: number, at: number, reason: string): Promise<boolean> {
  const [row] = await db
    .update(webhookDeliveries)
    .set({ nextAttemptAt: at, leaseOwner: null, leaseUntil: null, lastError: reason, updatedAt: now })
    .where(and(eq(webhookDeliveries.eventId, delivery.eventId), eq(webhookDeliveries.status, 'pending'), eq(webhookDeliveries.leaseOwner, owner)))
    .returning({ eventId: webhookDeliveries.eventId });
  return row !== undefined;
}

/**
 * Sends a job's deliveries again (all, or one event's), with the same ids and bodies: due now, their attempts
 * counted afresh. A replay is the client's word that the receiver is back, so a job stopped by a 410 resumes too.
 * Returns how many deliveries were replayed.
 */
export async function replayDeliveries(db: Db, jobId: string, now: number, eventId?: number): Promise<number> {
  const rows = await db
    .update(webhookDeliveries)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseUntil: null, deliveredAt: null, updatedAt: now })
    .where(and(eq(webhookDeliveries.jobId, jobId), eventId === undefined ? undefined : eq(webhookDeliveries.eventId, eventId), or(ne(webhookDeliveries.status, 'pending'), free(now))))
    .returning({ eventId: webhookDeliveries.eventId });
  if (rows.length > 0) await db.update(jobs).set({ webhookStoppedAt: null }).where(eq(jobs.id, jobId));
  return rows.length;
}

/** A job's deliveries in event order, each with its attempts in order: the delivery log. */
export async function deliveryLog(db: Db, jobId: string): Promise<(Delivery & { log: DeliveryAttempt[] })[]> {
  const deliveries = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.jobId, jobId)).orderBy(asc(webhookDeliveries.eventId)).all();
  const attempts = await db.select().from(webhookAttempts).where(eq(webhookAttempts.jobId, jobId)).orderBy(asc(webhookAttempts.id)).all();
  return deliveries.map((delivery) => ({ ...delivery, log: attempts.filter((a) => a.eventId === delivery.eventId) }));
}

/** The earliest time a job has a delivery due (pending and not leased), or null: when to look at the job again. */
export async function nextDueAt(db: Db, jobId: string): Promise<number | null> {
  const [row] = await db
    .select({ at: min(webhookDeliveries.nextAttemptAt) })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.jobId, jobId), eq(webhookDeliveries.status, 'pending')));
  return row?.at ?? null;
}

/** Jobs with a delivery due since before `dueBefore` and nobody sending it: what a lost queue message left. */
export async function overdueJobs(db: Db, now: number, dueBefore: number, limit = 100): Promise<string[]> {
  const rows = await db
    .selectDistinct({ jobId: webhookDeliveries.jobId })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, dueBefore), free(now)))
    .orderBy(desc(webhookDeliveries.jobId))
    .limit(limit);
  return rows.map((row) => row.jobId);
}
