/**
 * The deliveries the database makes from the one event log (the trigger of migration 0007), and their state changes
 * (src/delivery/deliveries.ts), on a real libSQL file: one delivery per event the webhook asked for, named as
 * src/delivery/events.ts names it; progress thinned; claims in event order per job, compare-and-set; 410; replay.
 */
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobEvents, jobs, webhookDeliveries } from '../../../src/db/schema.js';
import { claimDelivery, deferDelivery, deliveryLog, overdueJobs, replayDeliveries, settleDelivery } from '../../../src/delivery/deliveries.js';
import { WEBHOOK_EVENTS, webhookEventOf } from '../../../src/delivery/events.js';
import { nextRetryDelayMs, retryBoundMs } from '../../../src/delivery/schedule.js';
import * as t from '../../../src/jobs/transitions.js';
import { queuedJob, tempDb } from '../../helpers/db.js';

let store: Awaited<ReturnType<typeof tempDb>>;
beforeEach(async () => {
  store = await tempDb();
});
afterEach(async () => store.close());

const queue = (events: readonly string[] | null = WEBHOOK_EVENTS, now = 1_000) =>
  queuedJob(store.db, { webhook: events ? { url: 'https://example.com/hook', events } : null, now });

const lease = (owner: string) => ({ owner, ms: 10_000 });
const attempt = (statusCode: number | null) => ({ startedAt: 0, durationMs: 5, statusCode, error: statusCode === null ? 'timeout' : null });

async function deliveredEvents(jobId: string) {
  return (await store.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.jobId, jobId)).all()).map((d) => d.event);
}

describe('the deliveries the event log makes', () => {
  it('one per event the webhook asked for, named as events.ts names the event', async () => {
    const job = await queue();
    const claimed = (await t.claimById(store.db, job.id, lease('w'), 2_000))!;
    const held = t.heldBy(claimed, 10_000);
    await t.fail(store.db, job.id, held, 3_000, { code: 'ENGINE_UNAVAILABLE', message: 'No engine could run the job.', retryable: true });
    const again = (await t.claimById(store.db, job.id, lease('w'), 4_000))!;
    await t.complete(store.db, job.id, t.heldBy(again, 10_000), 5_000, { outputs: [], result: {}, logTail: '' });
    expect(await deliveredEvents(job.id)).toEqual(['job.queued', 'job.started', 'job.retrying', 'job.started', 'job.completed']);
    // The SQL names and the TypeScript names are the same. (The claims' progress events carry no percentage yet:
    // nothing to deliver.)
    const events = (await store.db.select().from(jobEvents).where(eq(jobEvents.jobId, job.id)).all()).filter((e) => e.type === 'status');
    const named = events.map((e) => webhookEventOf({ type: e.type, data: JSON.parse(e.data) as Record<string, unknown> }));
    expect(named).toEqual(await deliveredEvents(job.id));
    // Each delivery's id is its event's id.
    const rows = await store.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.jobId, job.id)).all();
    expect(rows.map((r) => r.eventId)).toEqual(events.map((e) => e.id));
  });

  it('only the events asked for; none for a job without a webhook; a cancel is job.cancelled', async () => {
    const terminal = await queue(['job.completed', 'job.failed', 'job.cancelled']);
    await t.cancel(store.db, terminal.id, 'key', 2_000);
    expect(await deliveredEvents(terminal.id)).toEqual(['job.cancelled']);
    const none = await queue(null);
    await t.cancel(store.db, none.id, 'key', 2_000);
    expect(await deliveredEvents(none.id)).toEqual([]);
  });

  it('progress: at most one per 10 s and per 10 %', async () => {
    const job = await queue(['job.progress']);
    const held = t.heldBy((await t.claimById(store.db, job.id, lease('w'), 1_000))!, 100_000);
    const steps: [number, number][] = [
      [2_000, 0], // sent: the first
      [3_000, 20], // 1 s later: no
      [12_500, 25], // 10.5 s later, +25 %: sent
      [30_000, 30], // +5 %: no
      [31_000, 36], // +11 %, 18.5 s later: sent
      [32_000, 90], // 1 s later: no
    ];
    for (const [now, percentage] of steps) await t.renew(store.db, job.id, held, now, { stage: 'processing', percentage });
    const rows = await store.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.jobId, job.id)).all();
    expect(rows.map((r) => r.percentage)).toEqual([0, 25, 36]);
  });
});

describe('delivery state changes', () => {
  it('audit #12: per job in event order: a later event waits until the earlier one is delivered or given up', async () => {
    const job = await queue(['job.queued', 'job.cancelled']);
    await t.cancel(store.db, job.id, 'key', 2_000);
    const first = (await claimDelivery(store.db, lease('a'), 3_000))!;
    expect(first.event).toBe('job.queued');
    // In flight: the cancel's delivery is not handed to anyone.
    expect(await claimDelivery(store.db, lease('b'), 3_000)).toBeNull();
    await settleDelivery(store.db, first, 'a', 3_100, '{}', attempt(500), { outcome: 'retry', at: 5_000 });
    // Waiting for its retry, it still holds the later one back.
    expect(await claimDelivery(store.db, lease('b'), 4_000)).toBeNull();
    const retried = (await claimDelivery(store.db, lease('b'), 5_000))!;
    expect(retried).toMatchObject({ event: 'job.queued', attempts: 1 });
    await settleDelivery(store.db, retried, 'b', 5_100, '{}', attempt(500), { outcome: 'failed' });
    expect((await claimDelivery(store.db, lease('c'), 5_200))!.event).toBe('job.cancelled');
  });

  it('audit #1: concurrent claims of one delivery have one winner; a stale owner changes nothing', async () => {
    const job = await queue(['job.queued']);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => claimDelivery(store.db, lease(`w${i}`), 2_000, job.id)));
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect(await settleDelivery(store.db, winners[0]!, 'someone-else', 2_100, '{}', attempt(200), { outcome: 'delivered' })).toBe(false);
    expect(await deferDelivery(store.db, winners[0]!, 'someone-else', 2_100, 9_000, 'breaker_open')).toBe(false);
    // The lease ran out: another sender takes it over, and the first one's late answer is ignored.
    const taken = (await claimDelivery(store.db, lease('late'), 2_000 + 10_001, job.id))!;
    expect(await settleDelivery(store.db, winners[0]!, winners[0]!.leaseOwner!, 12_100, '{}', attempt(200), { outcome: 'delivered' })).toBe(false);
    expect(await settleDelivery(store.db, taken, 'late', 12_200, '{"x":1}', attempt(200), { outcome: 'delivered' })).toBe(true);
    const [log] = await deliveryLog(store.db, job.id);
    expect(log).toMatchObject({ status: 'delivered', attempts: 1, payload: '{"x":1}' });
    expect(log!.log).toHaveLength(1);
  });

  it('410 stops the job: its pending deliveries stop, and no new ones are made', async () => {
    const job = await queue();
    const claimed = (await t.claimById(store.db, job.id, lease('w'), 2_000))!;
    const first = (await claimDelivery(store.db, lease('s'), 2_500))!;
    await settleDelivery(store.db, first, 's', 2_600, '{}', attempt(410), { outcome: 'stopped' });
    expect((await store.db.select().from(jobs).where(eq(jobs.id, job.id)).get())!.webhookStoppedAt).toBe(2_600);
    await t.complete(store.db, job.id, t.heldBy(claimed, 10_000), 3_000, { outputs: [], result: {}, logTail: '' });
    expect((await deliveryLog(store.db, job.id)).map((d) => [d.event, d.status])).toEqual([
      ['job.queued', 'stopped'],
      ['job.started', 'stopped'],
    ]);
    // A replay is the client's word that the receiver is back.
    expect(await replayDeliveries(store.db, job.id, 4_000)).toBe(2);
    expect((await store.db.select().from(jobs).where(eq(jobs.id, job.id)).get())!.webhookStoppedAt).toBeNull();
    expect((await deliveryLog(store.db, job.id)).map((d) => [d.status, d.attempts])).toEqual([
      ['pending', 0],
      ['pending', 0],
    ]);
  });

  it('the sweep finds deliveries due a while that nobody is sending', async () => {
    const job = await queue(['job.queued'], 1_000);
    expect(await overdueJobs(store.db, 100_000, 50_000)).toEqual([job.id]);
    await claimDelivery(store.db, lease('s'), 100_000);
    expect(await overdueJobs(store.db, 100_001, 50_000)).toEqual([]);
  });
});

describe('the retry schedule', () => {
  it('full jitter under bounds that double up to the cap, and no retry after the last attempt', () => {
    const schedule = { maxAttempts: 8, baseMs: 30 * 60_000, capMs: 12 * 3600_000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryBoundMs(schedule, n) / 60_000)).toEqual([30, 60, 120, 240, 480, 720, 720]);
    for (let n = 1; n < 8; n++) {
      const delays = Array.from({ length: 200 }, () => nextRetryDelayMs(schedule, n)!);
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...delays)).toBeLessThan(retryBoundMs(schedule, n));
      // Spread over the range, not clustered (full jitter).
      expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(retryBoundMs(schedule, n) / 2);
    }
    expect(nextRetryDelayMs(schedule, 8)).toBeNull();
  });
});
