/**
 * Creating a job: the idempotency claim, then one INSERT that also enforces the key's concurrent-job limit, so the
 * limit holds however many requests race (audit #23) and a retried request never makes a second job (audit #2).
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { idempotency, jobs, type Job, type JobKind } from '../db/schema.js';
import { problems, Problem } from '../problems.js';

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
  webhookUrl?: string | null;
  idempotency?: { key: string; requestHash: string };
  now: number;
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
    if (!first) throw problems.conflict('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is in progress.');
    if (first.requestHash !== requestHash) {
      throw problems.unprocessable(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with a different request body.',
      );
    }
    if (first.jobId === null) {
      throw problems.conflict('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still being processed.');
    }
    const job = await db.select().from(jobs).where(eq(jobs.id, first.jobId)).get();
    if (!job) throw problems.internal();
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
                      idempotency_key, progress_stage, created_at, updated_at)
    SELECT ${input.id}, ${input.apiKeyId}, ${input.kind}, 'queued', ${input.priority}, ${input.engine},
           ${input.engineReason ?? null}, ${JSON.stringify(input.request)}, ${input.maxAttempts}, ${input.webhookUrl ?? null},
           ${input.idempotency?.key ?? null}, 'queued', ${input.now}, ${input.now}
    WHERE (SELECT count(*) FROM jobs
           WHERE api_key_id = ${input.apiKeyId} AND status IN ('queued', 'processing')) < ${input.concurrentLimit}
    RETURNING id`);
  if (inserted.length === 0) throw concurrencyLimited(input.concurrentLimit);
  const job = await db.select().from(jobs).where(eq(jobs.id, input.id)).get();
  if (!job) throw problems.internal();
  return job;
}

function concurrencyLimited(limit: number): Problem {
  return problems.tooManyRequests(
    'CONCURRENCY_LIMIT',
    `This key already has ${limit} jobs queued or processing; wait for one to finish.`,
    5,
  );
}
