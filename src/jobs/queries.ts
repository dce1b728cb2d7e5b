/** Reads of jobs and their events. Filters and sort orders come from fixed enums; values are bound (audit #6). */
import { and, asc, desc, eq, gt, lt, or, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobEvents, jobs, type Job, type JobKind, type JobStatus } from '../db/schema.js';

export const SORTS = ['-created_at', 'created_at'] as const;
export type Sort = (typeof SORTS)[number];

export interface ListQuery {
  apiKeyId: string;
  status?: JobStatus;
  kind?: JobKind;
  sort: Sort;
  limit: number;
  after?: Cursor;
}

export interface Cursor {
  createdAt: number;
  id: string;
}

export async function getJob(db: Db, id: string, apiKeyId: string): Promise<Job | null> {
  return (await db.select().from(jobs).where(and(eq(jobs.id, id), eq(jobs.apiKeyId, apiKeyId))).get()) ?? null;
}

/** A job by id alone: for a signed link, which names the job and is checked against its key by its signature. */
export async function getJobById(db: Db, id: string): Promise<Job | null> {
  return (await db.select().from(jobs).where(eq(jobs.id, id)).get()) ?? null;
}

/** One page plus whether more follow; keyset pagination on (created_at, id) so pages never shift or repeat. */
export async function listJobs(db: Db, q: ListQuery): Promise<{ items: Job[]; next: Cursor | null }> {
  const conditions: SQL[] = [eq(jobs.apiKeyId, q.apiKeyId)];
  if (q.status) conditions.push(eq(jobs.status, q.status));
  if (q.kind) conditions.push(eq(jobs.kind, q.kind));
  const descending = q.sort === '-created_at';
  if (q.after) {
    const beyond = descending ? lt : gt;
    conditions.push(
      or(beyond(jobs.createdAt, q.after.createdAt), and(eq(jobs.createdAt, q.after.createdAt), beyond(jobs.id, q.after.id)))!,
    );
  }
  const order = descending ? [desc(jobs.createdAt), desc(jobs.id)] : [asc(jobs.createdAt), asc(jobs.id)];
  const rows = await db
    .select()
    .from(jobs)
    .where(and(...conditions))
    .orderBy(...order)
    .limit(q.limit + 1);
  const items = rows.slice(0, q.limit);
  const last = items.at(-1);
  return { items, next: rows.length > q.limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

export interface JobEvent {
  id: number;
  type: 'status' | 'progress';
  data: Record<string, unknown>;
  createdAt: number;
}

export async function eventsAfter(db: Db, jobId: string, afterId: number, limit = 200): Promise<JobEvent[]> {
  const rows = await db
    .select()
    .from(jobEvents)
    .where(and(eq(jobEvents.jobId, jobId), gt(jobEvents.id, afterId)))
    .orderBy(asc(jobEvents.id))
    .limit(limit);
  return rows.map((r) => ({ id: r.id, type: r.type, data: JSON.parse(r.data) as Record<string, unknown>, createdAt: r.createdAt }));
}

export const TERMINAL: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];
export const isTerminal = (status: string): boolean => (TERMINAL as readonly string[]).includes(status);
