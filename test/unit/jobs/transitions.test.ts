import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobEvents, jobs } from '../../../src/db/schema.js';
import { eventsAfter } from '../../../src/jobs/queries.js';
import * as t from '../../../src/jobs/transitions.js';
import { queuedJob, tempDb } from '../../helpers/db.js';

let store: Awaited<ReturnType<typeof tempDb>>;
beforeEach(async () => {
  store = await tempDb();
});
afterEach(async () => store.close());

const queue = (apiKeyId = 'key', now = 1_000, maxAttempts = 3) => queuedJob(store.db, { apiKeyId, now, maxAttempts });

describe('job transitions', () => {
  it('audit #1: concurrent claims of one queued job have exactly one winner', async () => {
    const job = await queue();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => t.claimById(store.db, job.id, { owner: `w${i}`, ms: 10_000 }, 2_000)),
    );
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    const row = await store.db.select().from(jobs).where(eq(jobs.id, job.id)).get();
    expect(row).toMatchObject({ status: 'processing', attempts: 1, version: 1, leaseOwner: winners[0]!.leaseOwner });
  });

  it('audit #1: a completion racing a cancel leaves exactly one outcome and one event for it', async () => {
    const job = await queue();
    const claimed = await t.claimById(store.db, job.id, { owner: 'w', ms: 10_000 }, 2_000);
    const [done, cancelled] = await Promise.all([
      t.complete(store.db, job.id, t.heldBy(claimed!, 10_000), 3_000, { outputs: [] }),
      t.cancel(store.db, job.id, 'key', 3_000),
    ]);
    expect([done, cancelled].filter((r) => r !== null)).toHaveLength(1);
    const statuses = (await eventsAfter(store.db, job.id, 0)).filter((e) => e.type === 'status').map((e) => e.data.status);
    expect(statuses.slice(0, 2)).toEqual(['queued', 'processing']);
    expect(statuses).toHaveLength(3);
    expect(['completed', 'cancelled']).toContain(statuses[2]);
  });

  it('claims the highest priority, then the oldest', async () => {
    const old = await queue('key', 1_000);
    const urgent = await queue('key', 2_000);
    await store.db.update(jobs).set({ priority: 5 }).where(eq(jobs.id, urgent.id));
    expect((await t.claim(store.db, { owner: 'w', ms: 1_000 }, 3_000))?.id).toBe(urgent.id);
    expect((await t.claim(store.db, { owner: 'w', ms: 1_000 }, 3_000))?.id).toBe(old.id);
    expect(await t.claim(store.db, { owner: 'w', ms: 1_000 }, 3_000)).toBeNull();
  });

  it('audit #27: an expired lease is re-queued, the old owner can neither renew nor complete, the new one completes once', async () => {
    const job = await queue();
    const dead = t.heldBy((await t.claimById(store.db, job.id, { owner: 'dead', ms: 1_000 }, 2_000))!, 1_000);
    expect(await t.sweep(store.db, 2_500)).toEqual([]);
    const swept = await t.sweep(store.db, 3_001);
    expect(swept.map((j) => [j.id, j.status])).toEqual([[job.id, 'queued']]);
    const again = await t.claim(store.db, { owner: 'alive', ms: 1_000 }, 3_100);
    expect(again).toMatchObject({ id: job.id, attempts: 2 });
    const alive = t.heldBy(again!, 1_000);
    expect(await t.renew(store.db, job.id, dead, 3_200)).toBe(false);
    expect(await t.complete(store.db, job.id, dead, 3_200, { outputs: [] })).toBeNull();
    expect(await t.complete(store.db, job.id, alive, 3_300, { outputs: [] })).toMatchObject({ status: 'completed' });
    expect(await t.complete(store.db, job.id, alive, 3_400, { outputs: [] })).toBeNull();
  });

  it('audit #27: an attempt whose job was swept and claimed again by the same owner can change nothing', async () => {
    // One process (one owner name) whose stalled attempt lost its lease, then re-claimed the job itself.
    const job = await queue();
    const stale = t.heldBy((await t.claimById(store.db, job.id, { owner: 'host:1', ms: 1_000 }, 2_000))!, 1_000);
    await t.sweep(store.db, 3_001);
    const fresh = t.heldBy((await t.claim(store.db, { owner: 'host:1', ms: 1_000 }, 3_100))!, 1_000);
    expect(fresh.owner).toBe(stale.owner);
    expect(await t.renew(store.db, job.id, stale, 3_200, { percentage: 50 })).toBe(false);
    expect(await t.assignEngine(store.db, job.id, stale, 3_200, 'wasm', 'stale')).toBe(false);
    expect(await t.fail(store.db, job.id, stale, 3_200, { code: 'INTERNAL', message: 'x', retryable: true })).toBeNull();
    expect(await t.release(store.db, job.id, stale, 3_200)).toBe(false);
    expect(await t.complete(store.db, job.id, stale, 3_200, { outputs: [] })).toBeNull();
    expect(await store.db.select().from(jobs).where(eq(jobs.id, job.id)).get()).toMatchObject({ status: 'processing', progressPercentage: null, engine: null });
    expect(await t.renew(store.db, job.id, fresh, 3_300, { percentage: 50 })).toBe(true);
    expect(await t.complete(store.db, job.id, fresh, 3_400, { outputs: [] })).toMatchObject({ status: 'completed' });
  });

  it('audit #31: a job out of attempts fails instead of running forever; a retryable failure re-queues while attempts remain', async () => {
    const job = await queue('key', 1_000, 2);
    const held = t.heldBy((await t.claimById(store.db, job.id, { owner: 'a', ms: 1_000 }, 1_000))!, 1_000);
    expect(await t.fail(store.db, job.id, held, 1_100, { code: 'INTERNAL', message: 'x', retryable: true })).toMatchObject({ status: 'queued' });
    await t.claimById(store.db, job.id, { owner: 'b', ms: 1_000 }, 1_200);
    const swept = await t.sweep(store.db, 5_000);
    expect(swept).toMatchObject([{ id: job.id, status: 'failed', errorCode: 'ATTEMPTS_EXHAUSTED' }]);
  });

  it('a non-retryable failure fails at once; release gives a job back without charging an attempt', async () => {
    const a = await queue();
    const heldA = t.heldBy((await t.claimById(store.db, a.id, { owner: 'w', ms: 1_000 }, 1_000))!, 1_000);
    expect(await t.fail(store.db, a.id, heldA, 1_100, { code: 'FFMPEG_FAILED', message: 'x', retryable: false })).toMatchObject({
      status: 'failed',
      finishedAt: 1_100,
    });
    const b = await queue();
    const heldB = t.heldBy((await t.claimById(store.db, b.id, { owner: 'w', ms: 1_000 }, 1_000))!, 1_000);
    expect(await t.release(store.db, b.id, heldB, 1_100)).toBe(true);
    expect(await store.db.select().from(jobs).where(eq(jobs.id, b.id)).get()).toMatchObject({ status: 'queued', attempts: 0 });
  });

  it('audit #11: stored progress never decreases and progress events stay bounded', async () => {
    const job = await queue();
    const held = t.heldBy((await t.claimById(store.db, job.id, { owner: 'w', ms: 10_000 }, 1_000))!, 10_000);
    for (let i = 1; i <= 150; i++) {
      await t.renew(store.db, job.id, held, 1_000 + i, { percentage: i % 50 === 0 ? 1 : i / 2, out_time_s: i });
    }
    const row = await store.db.select().from(jobs).where(eq(jobs.id, job.id)).get();
    expect(row?.progressPercentage).toBe(74.5);
    const progress = (await store.db.select().from(jobEvents).where(eq(jobEvents.jobId, job.id)).all()).filter((e) => e.type === 'progress');
    expect(progress.length).toBeLessThanOrEqual(101);
    const percentages = progress.map((e) => (JSON.parse(e.data) as { percentage: number }).percentage);
    expect(percentages).toEqual([...percentages].sort((x, y) => x - y));
  });
});
