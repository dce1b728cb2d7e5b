/**
 * Creating a job: the idempotency claim, then one INSERT that also enforces the key's concurrent-job limit, so the
 * limit holds however many requests race (audit #23) and a retried request never makes a second job (audit #2).
 * Refusals are domain errors (below); src/api/submit.ts says them to the client as problems.
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { idempotency, jobs, type Job, type JobKind } from '../db/schema.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

export interface NewJobInput {
  id: string;
  apiKeyId: string;
  kind: JobKind;
  request: Record<string, unknown>;
  priority: number;
  engine: string | null;
  /** Why routing chose the engine; null when it is chosen when the job runs. */
  engineReason?: string | null;
  maxAttempts: number;
  concurrentLimit: number;
  /** How long its outputs are kept once it completes (the key's tier's retention); absent: kept. */
  retentionS?: number;
  /** Where the job's webhooks go, and the events they are for (resolved: never empty when there is a URL). */
  webhook?: { url: string; events: readonly string[] } | null;
  idempotency?: { key: string; requestHash: string };
  now: number;
}

/** The key already has its limit of jobs queued or processing. */
export class ConcurrencyLimitError extends Error {
  constructor(readonly limit: number) {
    super(`this key already has ${limit} jobs queued or processing`);
    this.name = 'ConcurrencyLimitError';
  }
}

/**
 * An Idempotency-Key that cannot make a job now: `in-progress` while the first request with it is still being
 * created, `reused` when it came with a different body.
 */
export class IdempotencyError extends Error {
  constructor(readonly reason: 'in-progress' | 'reused') {
    super(reason === 'reused' ? 'the Idempotency-Key was used with a different request' : 'a request with this Idempotency-Key is in progress');
    this.name = 'IdempotencyError';
  }
}

export interface Created {
  job: Job;
  /** True when an earlier request with the same Idempotency-Key made this job. */
  replayed: boolean;
}

export async function createJob(db: Db, input: NewJobInput): Promise<Created> {
  if (!input.idempotency) return { job: await insertWithinLimit(db, input), replayed: false };

  const { key, requestHash } = input.idempotency;
  const slot = and(eq(idempotency.apiKeyId, input.apiKeyId), eq(idempotency.key, key));
  await db.delete(idempotency).where(and(slot, lt(idempotency.expiresAt, input.now)));
  const claimed = await db
    .insert(idempotency)
    .values({ apiKeyId: input.apiKeyId, key, requestHash, createdAt: input.now, expiresAt: input.now + IDEMPOTENCY_TTL_MS })
    .onConflictDoNothing()
    .returning({ key: idempotency.key });

  if (claimed.length === 0) {
    const first = await db.select().from(idempotency).where(slot).get();
    if (!first) throw new IdempotencyError('in-progress');
    if (first.requestHash !== requestHash) throw new IdempotencyError('reused');
    if (first.jobId === null) throw new IdempotencyError('in-progress');
    const job = await db.select().from(jobs).where(eq(jobs.id, first.jobId)).get();
    if (!job) throw new Error('an idempotency record names a job that does not exist');
    return { job, replayed: true };
  }

  try {
    const job = await insertWithinLimit(db, input);
    await db.update(idempotency).set({ jobId: job.id }).where(slot);
    return { job, replayed: false };
  } catch (error) {
    // Free the key so a retry after a refusal (quota, validation) can succeed.
    await db.delete(idempotency).where(slot);
    throw error;
  }
}

async function insertWithinLimit(db: Db, input: NewJobInput): Promise<Job> {
  const inserted = await db.all<{ id: string }>(sql`
    INSERT INTO jobs (id, api_key_id, kind, status, priority, engine, engine_reason, request, max_attempts, webhook_url,
                      webhook_events, idempotency_key, retention_s, progress_stage, created_at, updated_at)
    SELECT ${input.id}, ${input.apiKeyId}, ${input.kind}, 'queued', ${input.priority}, ${input.engine},
           ${input.engineReason ?? null}, ${JSON.stringify(input.request)}, ${input.maxAttempts}, ${input.webhook?.url ?? null},
           ${input.webhook ? JSON.stringify(input.webhook.events) : null},
           ${input.idempotency?.key ?? null}, ${input.retentionS ?? null}, 'queued', ${input.now}, ${input.now}
    WHERE (SELECT count(*) FROM jobs
           WHERE api_key_id = ${input.apiKeyId} AND status IN ('queued', 'processing')) < ${input.concurrentLimit}
    RETURNING id`);
  if (inserted.length === 0) throw new ConcurrencyLimitError(input.concurrentLimit);
  const job = await db.select().from(jobs).where(eq(jobs.id, input.id)).get();
  if (!job) throw new Error('a job just inserted cannot be read');
  return job;
}
