/**
 * Sending one claimed delivery: the body (made once, then the same bytes on every retry and replay), the Standard
 * Webhooks headers, the POST through the SSRF-guarded client inside the host's breaker, and what follows:
 *
 *   2xx                      delivered
 *   410 Gone                 stopped: nothing more is sent for the job
 *   other answers, no answer another attempt after the backoff (src/delivery/schedule.ts), until the last
 *   host's breaker open      deferred until the breaker lets a trial through; not an attempt
 *
 * Redirects are not followed (a 3xx is an answer that is not 2xx). The receiver's body is read up to a cap and
 * dropped; what the log keeps of a failure is a class (`timeout`, `connect`, ...), never the receiver's text.
 */
import { eq } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { apiKeys, jobEvents, jobs, type ApiKey, type Job } from '../db/schema.js';
import type { Logger } from '../platform.js';
import { BreakerOpenError, type Breakers } from './breakers.js';
import { claimDelivery, deferDelivery, settleDelivery, type Delivery, type Settlement } from './deliveries.js';
import { PING_EVENT, type WebhookEvent } from './events.js';
import { OutboundError, type OutboundFetch } from './outbound.js';
import { webhookPayload } from './payload.js';
import { nextRetryDelayMs } from './schedule.js';
import { signingSecrets, signWebhook } from './signing.js';

export interface DeliveryDeps {
  db: Db;
  outbound: OutboundFetch;
  breakers: Breakers;
  config: Pick<Config, 'webhooks' | 'publicUrl'>;
  clock: () => number;
  log: Logger;
}

export const USER_AGENT = 'ffedge-webhooks/1';

/** Sends one job's due deliveries, in order, one after the other (a Queue consumer's message). */
export async function deliverJob(deps: DeliveryDeps, owner: string, jobId: string): Promise<number> {
  let sent = 0;
  for (let delivery = await claim(deps, owner, jobId); delivery; delivery = await claim(deps, owner, jobId)) {
    await send(deps, delivery, owner);
    sent++;
  }
  return sent;
}

const claim = (deps: DeliveryDeps, owner: string, jobId: string) => claimDelivery(deps.db, { owner, ms: deps.config.webhooks.leaseMs }, deps.clock(), jobId);

/** Sends a claimed delivery and records how it went. */
export async function send(deps: DeliveryDeps, delivery: Delivery, owner: string): Promise<void> {
  const { db, clock } = deps;
  const job = await db.select().from(jobs).where(eq(jobs.id, delivery.jobId)).get();
  const key = job ? await db.select().from(apiKeys).where(eq(apiKeys.id, job.apiKeyId)).get() : undefined;
  const startedAt = clock();
  const secrets = key ? signingSecrets(key, startedAt) : [];
  if (!job || secrets.length === 0) {
    // Nothing to sign with (the key is gone): an unsigned webhook is no webhook. Recorded, not retried.
    await settleDelivery(db, delivery, owner, startedAt, delivery.payload ?? '', { startedAt, durationMs: 0, statusCode: null, error: 'no_secret' }, { outcome: 'failed' });
    return;
  }
  const payload = delivery.payload ?? (await makePayload(deps, job, delivery));
  const host = new URL(delivery.url).host;
  const breaker = deps.breakers.get(`webhook:${host}`);
  const id = String(delivery.eventId);

  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    const response = await breaker.run(async () => {
      const answered = await deps.outbound({
        url: delivery.url,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...signWebhook(secrets, id, clock(), payload) },
        body: payload,
      });
      // A host that answers 5xx is not well: the breaker counts it. 4xx is the receiver's word, and it is up.
      if (answered.status >= 500) throw new ServerAnswer(answered.status);
      return answered;
    });
    statusCode = response.status;
  } catch (caught) {
    if (caught instanceof BreakerOpenError) {
      const now = clock();
      await deferDelivery(db, delivery, owner, now, now + deps.breakers.options.openMs, 'breaker_open');
      return;
    }
    if (caught instanceof ServerAnswer) statusCode = caught.status;
    else if (caught instanceof OutboundError) error = caught.kind;
    else {
      error = 'internal';
      deps.log.error('webhook send failed', { job_id: delivery.jobId, event_id: delivery.eventId, error: caught instanceof Error ? caught.message : String(caught) });
    }
  }

  const now = clock();
  const attempt = { startedAt, durationMs: now - startedAt, statusCode, error };
  await settleDelivery(db, delivery, owner, now, payload, attempt, settlementOf(deps, delivery, statusCode, now));
}

function settlementOf(deps: DeliveryDeps, delivery: Delivery, statusCode: number | null, now: number): Settlement {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) return { outcome: 'delivered' };
  if (statusCode === 410) return { outcome: 'stopped' };
  const delay = nextRetryDelayMs(deps.config.webhooks, delivery.attempts + 1);
  return delay === null ? { outcome: 'failed' } : { outcome: 'retry', at: now + delay };
}

async function makePayload(deps: DeliveryDeps, job: Job, delivery: Delivery): Promise<string> {
  // The log keeps only the newest progress rows: a progress delivery may outlive its event's row.
  const event = await deps.db.select().from(jobEvents).where(eq(jobEvents.id, delivery.eventId)).get();
  const facts = {
    event: delivery.event as WebhookEvent,
    data: event ? (JSON.parse(event.data) as Record<string, unknown>) : null,
    at: event?.createdAt ?? delivery.createdAt,
    percentage: delivery.percentage,
  };
  return JSON.stringify(webhookPayload(job, facts, deps.config.publicUrl ?? ''));
}

class ServerAnswer extends Error {
  constructor(readonly status: number) {
    super(`answered ${status}`);
  }
}

export interface PingResult {
  delivered: boolean;
  webhook_id: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

/**
 * A signed `webhook.ping` to `url`, sent now and answered with what the receiver said: how a user checks a receiver
 * and its signature check before any job depends on it. Not retried, not behind the breaker (the user asks now).
 * Null when the key has no secret to sign with.
 */
export async function pingWebhook(outbound: OutboundFetch, clock: () => number, key: ApiKey, url: string, id: string): Promise<PingResult | null> {
  const startedAt = clock();
  const secrets = signingSecrets(key, startedAt);
  if (secrets.length === 0) return null;
  const body = JSON.stringify({ type: PING_EVENT, timestamp: new Date(startedAt).toISOString(), data: { key_id: key.id } });
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    const response = await outbound({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...signWebhook(secrets, id, startedAt, body) },
      body,
    });
    statusCode = response.status;
  } catch (caught) {
    if (!(caught instanceof OutboundError)) throw caught;
    error = caught.kind;
  }
  const delivered = statusCode !== null && statusCode >= 200 && statusCode < 300;
  return { delivered, webhook_id: id, status_code: statusCode, error, duration_ms: clock() - startedAt };
}
