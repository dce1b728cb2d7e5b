import { and, asc, desc, eq, inArray, lt } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobEvents, jobs } from '../../../src/db/schema.js';
import { tempDb } from '../../helpers/db.js';

let store: Awaited<ReturnType<typeof tempDb>>;
beforeAll(async () => {
  store = await tempDb();
});
afterAll(async () => store.close());

/** The plan SQLite chooses for a drizzle query, as its detail lines. */
async function plan(query: { toSQL(): { sql: string; params: unknown[] } }): Promise<string> {
  const { sql, params } = query.toSQL();
  const result = await store.client.execute({ sql: `EXPLAIN QUERY PLAN ${sql}`, args: params as never[] });
  return result.rows.map((r) => String(r.detail)).join('\n');
}

describe('audit #16: every list, filter, claim and sweep query uses an index', () => {
  const db = () => store.db;

  it.each([
    ['list by key, newest first', () => db().select().from(jobs).where(eq(jobs.apiKeyId, 'k')).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(21), /USING INDEX jobs_key_created/],
    ['list by key and status', () => db().select().from(jobs).where(and(eq(jobs.apiKeyId, 'k'), eq(jobs.status, 'queued'))).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(21), /USING INDEX jobs_key_status_created/],
    ['concurrency count at insert', () => db().select({ id: jobs.id }).from(jobs).where(and(eq(jobs.apiKeyId, 'k'), inArray(jobs.status, ['queued', 'processing']))), /USING (COVERING )?INDEX jobs_key_status_created/],
    ['claim the next queued job', () => db().select({ id: jobs.id }).from(jobs).where(eq(jobs.status, 'queued')).orderBy(desc(jobs.priority), asc(jobs.createdAt)).limit(1), /USING (COVERING )?INDEX jobs_(claim|status_lease)/],
    ['sweep expired leases', () => db().select({ id: jobs.id }).from(jobs).where(and(eq(jobs.status, 'processing'), lt(jobs.leaseUntil, 5))), /USING (COVERING )?INDEX jobs_status_lease/],
    ['jobs of a batch', () => db().select().from(jobs).where(eq(jobs.batchId, 'b')), /USING INDEX jobs_batch/],
    ['events of a job after an id', () => db().select().from(jobEvents).where(and(eq(jobEvents.jobId, 'j'), lt(jobEvents.id, 5))).orderBy(asc(jobEvents.id)), /USING (COVERING )?INDEX job_events_job/],
  ])('%s', async (_name, build, expected) => {
    const detail = await plan(build());
    expect(detail).toMatch(expected);
    expect(detail).not.toMatch(/SCAN jobs\b(?! USING)/);
    expect(detail).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
  });
});
