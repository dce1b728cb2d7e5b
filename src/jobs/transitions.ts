/**
 * Every change of a job's status happens here, each as one compare-and-set statement: the WHERE clause names the
 * state the change starts from, so two racing writers cannot both win (audits #1, #27). The job_events rows that
 * record a change are written by triggers in the same statement (see db/migrations/0001_job_event_triggers.sql).
 *
 * An attempt's writes (renew, complete, fail, release, assignEngine) hold its job by the lease owner AND the version
 * its claim made (`Held`): every transition bumps the version, renewals do not, so an attempt whose job was
 * cancelled, swept or claimed again since — even by the same owner, say a process that re-claimed a job its own
 * stalled attempt lost — can change nothing (DESIGN.md, Jobs).
 *
 *   queued -> processing            claim()
 *   processing -> processing        renew() (lease + progress), assignEngine()
 *   processing -> completed         complete()   first completion wins
 *   processing -> failed | queued   fail()       queued again while attempts remain and the error is retryable
 *   queued | processing -> cancelled  cancel()
 *   processing (lease expired) -> queued | failed   sweep()
 *   processing -> queued (shutdown, no attempt charged)   release()
 */
import { and, asc, desc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobs, type Job, type JobOutput } from '../db/schema.js';
import type { Progress } from '../media/progress-types.js';

/** What a claimer asks for: its owner name and the lease's length. */
export interface Lease {
  owner: string;
  ms: number;
}

/** What an attempt holds once it has claimed its job: the owner it claimed as, at the version its claim made. */
export interface Held extends Lease {
  version: number;
}

/** The hold of the attempt that claimed `job` (the row a claim returned). */
export function heldBy(job: Job, ms: number): Held {
  if (job.status !== 'processing' || job.leaseOwner === null) throw new Error('a job that is not claimed has no holder');
  return { owner: job.leaseOwner, version: job.version, ms };
}

const claimed = (lease: Lease, now: number) => ({
  status: 'processing' as const,
  leaseOwner: lease.owner,
  leaseUntil: now + lease.ms,
  attempts: sql`${jobs.attempts} + 1`,
  version: sql`${jobs.version} + 1`,
  progressStage: 'fetching',
  startedAt: sql`coalesce(${jobs.startedAt}, ${now})`,
  updatedAt: now,
});

/**
 * Claims the next queued job (highest priority, then oldest) for a lease owner, or null when none is queued.
 * `nativeOnly`: only jobs routed to native ffmpeg or not routed yet (what a fleet of native workers can take).
 */
export async function claim(db: Db, lease: Lease, now: number, filter: { nativeOnly?: boolean } = {}): Promise<Job | null> {
  const queued = eq(jobs.status, 'queued');
  const next = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(filter.nativeOnly ? and(queued, or(isNull(jobs.engine), eq(jobs.engine, 'native'))) : queued)
    .orderBy(desc(jobs.priority), asc(jobs.createdAt))
    .limit(1);
  // `id = (the next one)`, not `id IN (...)`: with IN, SQLite walks every queued job to compare ids.
  const [job] = await db
    .update(jobs)
    .set(claimed(lease, now))
    .where(and(eq(jobs.id, next), queued))
    .returning();
  return job ?? null;
}

/** Claims one specific queued job (used when a dispatcher was handed its id). */
export async function claimById(db: Db, id: string, lease: Lease, now: number): Promise<Job | null> {
  const [job] = await db
    .update(jobs)
    .set(claimed(lease, now))
    .where(and(eq(jobs.id, id), eq(jobs.status, 'queued')))
    .returning();
  return job ?? null;
}

const owned = (id: string, held: Held) =>
  and(eq(jobs.id, id), eq(jobs.status, 'processing'), eq(jobs.leaseOwner, held.owner), eq(jobs.version, held.version));

/**
 * Extends the lease and records progress. False means the job is no longer ours (cancelled, or re-queued after our
 * lease expired): the caller must stop work at once.
 */
export async function renew(
  db: Db,
  id: string,
  held: Held,
  now: number,
  progress?: Partial<Progress>,
): Promise<boolean> {
  const set: Partial<typeof jobs.$inferInsert> = { leaseUntil: now + held.ms, updatedAt: now };
  if (progress) {
    if (progress.stage !== undefined) set.progressStage = progress.stage;
    if (progress.fps !== undefined) set.progressFps = progress.fps;
    if (progress.speed !== undefined) set.progressSpeed = progress.speed;
    if (progress.out_time_s !== undefined) set.progressOutTimeS = progress.out_time_s;
    if (progress.eta_s !== undefined) set.progressEtaS = progress.eta_s;
  }
  const rows = await db
    .update(jobs)
    .set({
      ...set,
      // Never decreasing, even if reports arrive out of order or a stage restarts its own count.
      ...(progress?.percentage == null
        ? {}
        : { progressPercentage: sql`max(coalesce(${jobs.progressPercentage}, 0), ${progress.percentage})` }),
    })
    .where(owned(id, held))
    .returning({ id: jobs.id });
  return rows.length === 1;
}

/**
 * Records the engine an attempt chose for a job that was not routed at submission (its plan needed the probe), and
 * why; false when the job is no longer the attempt's.
 */
export async function assignEngine(db: Db, id: string, held: Held, now: number, engine: string, reason: string): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ engine, engineReason: reason, updatedAt: now })
    .where(owned(id, held))
    .returning({ id: jobs.id });
  return rows.length === 1;
}

/** The first completion wins; a late duplicate (a re-run whose lease was lost) gets false and must discard its work. */
export async function complete(
  db: Db,
  id: string,
  held: Held,
  now: number,
  done: { outputs: JobOutput[]; result?: Record<string, unknown>; logTail?: string },
): Promise<Job | null> {
  const [job] = await db
    .update(jobs)
    .set({
      status: 'completed',
      outputs: done.outputs,
      result: done.result ?? null,
      logTail: done.logTail ?? null,
      progressStage: 'done',
      progressPercentage: 100,
      progressEtaS: 0,
      leaseOwner: null,
      leaseUntil: null,
      finishedAt: now,
      updatedAt: now,
      // Null for a job made before retention existed: its outputs are kept.
      outputsExpireAt: sql`${now} + ${jobs.retentionS} * 1000`,
      version: sql`${jobs.version} + 1`,
    })
    .where(owned(id, held))
    .returning();
  return job ?? null;
}

/**
 * Records a failed attempt. A retryable failure re-queues the job while attempts remain; otherwise it fails for good.
 * `message` must be safe for clients (audit #9).
 */
export async function fail(
  db: Db,
  id: string,
  held: Held,
  now: number,
  error: { code: string; message: string; retryable: boolean; logTail?: string },
): Promise<Job | null> {
  const retry = error.retryable ? sql`${jobs.attempts} < ${jobs.maxAttempts}` : sql`0`;
  const [job] = await db
    .update(jobs)
    .set({
      status: sql`case when ${retry} then 'queued' else 'failed' end`,
      errorCode: error.code,
      errorMessage: error.message,
      logTail: error.logTail ?? null,
      progressStage: sql`case when ${retry} then 'queued' else ${jobs.progressStage} end`,
      leaseOwner: null,
      leaseUntil: null,
      finishedAt: sql`case when ${retry} then null else ${now} end`,
      updatedAt: now,
      version: sql`${jobs.version} + 1`,
    })
    .where(owned(id, held))
    .returning();
  return job ?? null;
}

/** Cancels a job of this key that has not finished; null when it does not exist, is not the key's, or is done. */
export async function cancel(db: Db, id: string, apiKeyId: string, now: number): Promise<Job | null> {
  const [job] = await db
    .update(jobs)
    .set({
      status: 'cancelled',
      errorCode: 'CANCELLED',
      errorMessage: 'The job was cancelled.',
      leaseOwner: null,
      leaseUntil: null,
      finishedAt: now,
      updatedAt: now,
      version: sql`${jobs.version} + 1`,
    })
    .where(and(eq(jobs.id, id), eq(jobs.apiKeyId, apiKeyId), inArray(jobs.status, ['queued', 'processing'])))
    .returning();
  return job ?? null;
}

/**
 * Hands back jobs whose lease expired (their worker died or hung): re-queued while attempts remain, failed
 * otherwise. Returns the jobs it changed so a dispatcher can pick the re-queued ones up. With `id`, only that job
 * (a JobCoordinator's alarm looks after its own job).
 */
export async function sweep(db: Db, now: number, id?: string): Promise<Job[]> {
  const expired = and(eq(jobs.status, 'processing'), lt(jobs.leaseUntil, now), id === undefined ? undefined : eq(jobs.id, id));
  const requeued = await db
    .update(jobs)
    .set({
      status: 'queued',
      progressStage: 'queued',
      leaseOwner: null,
      leaseUntil: null,
      errorCode: 'LEASE_EXPIRED',
      errorMessage: 'The worker running the job stopped responding; the job was queued again.',
      updatedAt: now,
      version: sql`${jobs.version} + 1`,
    })
    .where(and(expired, lt(jobs.attempts, jobs.maxAttempts)))
    .returning();
  const failed = await db
    .update(jobs)
    .set({
      status: 'failed',
      leaseOwner: null,
      leaseUntil: null,
      errorCode: 'ATTEMPTS_EXHAUSTED',
      errorMessage: 'The job did not finish within its allowed attempts.',
      finishedAt: now,
      updatedAt: now,
      version: sql`${jobs.version} + 1`,
    })
    .where(expired)
    .returning();
  return [...requeued, ...failed];
}

/**
 * Gives a job back to the queue without charging an attempt: the worker is shutting down, not failing. Returns
 * false when the job was no longer ours.
 */
export async function release(db: Db, id: string, held: Held, now: number): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({
      status: 'queued',
      progressStage: 'queued',
      attempts: sql`max(${jobs.attempts} - 1, 0)`,
      leaseOwner: null,
      leaseUntil: null,
      updatedAt: now,
      version: sql`${jobs.version} + 1`,
    })
    .where(owned(id, held))
    .returning({ id: jobs.id });
  return rows.length === 1;
}
