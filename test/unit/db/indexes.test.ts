import type { Client, InArgs, InStatement } from '@libsql/client';
import { and, asc, desc, eq, inArray, isNull, lt, lte } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobEvents, jobs, uploads } from '../../../src/db/schema.js';
import { createJob } from '../../../src/jobs/create.js';
import * as queries from '../../../src/jobs/queries.js';
import * as transitions from '../../../src/jobs/transitions.js';
import { createKey } from '../../../src/security/api-keys.js';
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
    ['uploads past their retention', () => db().select({ id: uploads.id }).from(uploads).where(and(isNull(uploads.deletedAt), lte(uploads.expiresAt, 5))).orderBy(asc(uploads.expiresAt)).limit(100), /USING INDEX uploads_expiry/],
    ['outputs past their retention', () => db().select({ id: jobs.id }).from(jobs).where(and(isNull(jobs.outputsDeletedAt), lte(jobs.outputsExpireAt, 5))).orderBy(asc(jobs.outputsExpireAt)).limit(100), /USING INDEX jobs_outputs_expiry/],
    ['uploads by key, newest first', () => db().select().from(uploads).where(eq(uploads.apiKeyId, 'k')).orderBy(desc(uploads.createdAt), desc(uploads.id)).limit(21), /USING INDEX uploads_key_created/],
    ['events of a job after an id', () => db().select().from(jobEvents).where(and(eq(jobEvents.jobId, 'j'), lt(jobEvents.id, 5))).orderBy(asc(jobEvents.id)), /USING (COVERING )?INDEX job_events_job/],
  ])('%s', async (_name, build, expected) => {
    const detail = await plan(build());
    expect(detail).toMatch(expected);
    expect(detail).not.toMatch(/SCAN jobs\b(?! USING)/);
    expect(detail).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
  });
});

/**
 * The plans above are of copies of the queries; these are of the statements the code itself sends. `sentBy` records
 * every statement libSQL is given (sql and arguments, exactly as drizzle hands them over) while the real functions
 * run, and each is planned with its own arguments, so a query changed in src/ is planned as it now is.
 */
describe('audit #16: the statements the job functions really send use an index', () => {
  interface Sent {
    sql: string;
    args: InArgs;
  }
  let apiKeyId: string;
  let now = 1_000;
  const lease = { owner: 'indexes-test', ms: 1_000 };

  beforeAll(async () => {
    apiKeyId = (await createKey(store.db, { name: 'plans', now })).id;
  });

  async function sentBy(run: () => Promise<unknown>): Promise<Sent[]> {
    const client = store.client;
    const execute = client.execute;
    const sent: Sent[] = [];
    client.execute = ((stmt: InStatement | string, args?: InArgs) => {
      sent.push(typeof stmt === 'string' ? { sql: stmt, args: args ?? [] } : { sql: stmt.sql, args: stmt.args ?? [] });
      return (execute as (this: Client, ...a: unknown[]) => ReturnType<Client['execute']>).call(client, stmt, args);
    }) as typeof execute;
    try {
      await run();
    } finally {
      client.execute = execute;
    }
    return sent;
  }

  async function planOf(statement: Sent): Promise<string> {
    const result = await store.client.execute({ sql: `EXPLAIN QUERY PLAN ${statement.sql}`, args: statement.args });
    return result.rows.map((r) => String(r.detail)).join('\n');
  }

  const newJob = async (engine: string | null = null) => {
    const id = uuidv7();
    await createJob(store.db, { id, apiKeyId, kind: 'convert', request: {}, priority: 0, engine, maxAttempts: 3, concurrentLimit: 1_000, now: ++now });
    return id;
  };

  /** Every statement sent must reach jobs and job_events through an index (no SCAN, of the table or of a whole index) and never sort. */
  async function expectIndexed(sent: Sent[], expected: RegExp[]): Promise<void> {
    expect(sent.map((s) => s.sql), 'the statements sent').toHaveLength(expected.length);
    for (const [i, statement] of sent.entries()) {
      const detail = await planOf(statement);
      const context = `${statement.sql}\n${JSON.stringify(statement.args)}\n${detail}`;
      expect(detail, context).toMatch(expected[i]!);
      expect(detail, context).not.toMatch(/\bSCAN (jobs|job_events)\b/);
      expect(detail, context).not.toMatch(/USE TEMP B-TREE/);
    }
  }

  const BY_ID = /SEARCH jobs USING (COVERING )?INDEX sqlite_autoindex_jobs_1 \(id=\?\)/;

  it('createJob: the concurrency count inside the INSERT, and the read back', async () => {
    const sent = await sentBy(() => newJob());
    await expectIndexed(sent, [/SCALAR SUBQUERY[\s\S]*SEARCH jobs USING (COVERING )?INDEX jobs_key_status_created \(api_key_id=\? AND status=\?\)/, BY_ID]);
  });

  it('transitions.claim: the next queued job, any engine and native only', async () => {
    await newJob();
    await newJob('native');
    // The job is found in jobs_claim in claim order (no sort of the queue), and the UPDATE reaches it by its id
    // rather than walking every queued job to compare ids.
    const claimed = /SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 \(id=\?\)[\s\S]*SEARCH jobs USING (COVERING )?INDEX jobs_claim \(status=\?\)/;
    const sent = await sentBy(async () => {
      expect(await transitions.claim(store.db, lease, ++now)).not.toBeNull();
      expect(await transitions.claim(store.db, lease, ++now, { nativeOnly: true })).not.toBeNull();
    });
    await expectIndexed(sent, [claimed, claimed]);
  });

  it('transitions.renew and complete: the writes of a running attempt', async () => {
    await newJob();
    const job = (await transitions.claim(store.db, lease, ++now))!;
    const held = transitions.heldBy(job, lease.ms);
    const sent = await sentBy(async () => {
      expect(await transitions.renew(store.db, job.id, held, ++now, { stage: 'processing', percentage: 10 })).toBe(true);
      expect(await transitions.complete(store.db, job.id, held, ++now, { outputs: [] })).not.toBeNull();
    });
    await expectIndexed(sent, [BY_ID, BY_ID]);
  });

  it("transitions.sweep: the UPDATEs that re-queue and fail expired leases, everyone's and one job's", async () => {
    await newJob();
    const job = (await transitions.claim(store.db, lease, ++now))!;
    now += 10 * lease.ms;
    const expired = /SEARCH jobs USING (COVERING )?INDEX jobs_status_lease \(status=\? AND lease_until<\?\)/;
    const sent = await sentBy(async () => {
      expect((await transitions.sweep(store.db, ++now)).map((j) => j.id)).toContain(job.id);
      await transitions.sweep(store.db, ++now, job.id);
    });
    await expectIndexed(sent, [expired, expired, BY_ID, BY_ID]);
  });

  it('queries.eventsAfter: the events of a job after an id', async () => {
    const id = await newJob();
    const sent = await sentBy(async () => expect(await queries.eventsAfter(store.db, id, 0)).not.toHaveLength(0));
    await expectIndexed(sent, [/SEARCH job_events USING (COVERING )?INDEX job_events_job \(job_id=\? AND id>\?\)/]);
  });

  it('queries.listJobs: newest or oldest first, by status or kind, from a cursor', async () => {
    const id = await newJob();
    const after = { createdAt: now, id };
    const sent = await sentBy(async () => {
      await queries.listJobs(store.db, { apiKeyId, sort: '-created_at', limit: 20 });
      await queries.listJobs(store.db, { apiKeyId, sort: 'created_at', limit: 20, after });
      await queries.listJobs(store.db, { apiKeyId, status: 'queued', sort: '-created_at', limit: 20, after });
      await queries.listJobs(store.db, { apiKeyId, kind: 'convert', sort: '-created_at', limit: 20 });
    });
    const byKey = /SEARCH jobs USING INDEX jobs_key_created \(api_key_id=\?/;
    await expectIndexed(sent, [byKey, byKey, /SEARCH jobs USING INDEX jobs_key_status_created \(api_key_id=\? AND status=\?/, byKey]);
  });
});
