/**
 * Webhooks on Workers: deliveries are sent by the WEBHOOKS queue's consumer. A message `{ job_id }` only says "look at
 * this job": the consumer sends the job's due deliveries in order (src/delivery/deliver.ts) and, when one waits for a
 * retry, sends the message again with `delaySeconds` until then. Messages are sent when the job changes (by the API
 * on submission, cancel and replay, by the JobCoordinator while the job runs) and by the Cron sweep for any delivery
 * a lost message left due. The platform's own fetch cannot reach private addresses; the SSRF guard checks the rest
 * (src/delivery/outbound.ts).
 */
import type { Db } from '../db/client.js';
import type { Breakers } from '../delivery/breakers.js';
import { deliverJob, type DeliveryDeps } from '../delivery/deliver.js';
import { nextDueAt, overdueJobs } from '../delivery/deliveries.js';
import { fetchOutbound } from '../delivery/outbound.js';
import type { Config } from '../config.js';
import type { Logger, Webhooks } from '../platform.js';
import { MAX_QUEUE_DELAY_S, type WebhookMessage, type WorkerEnv } from './worker-env.js';

/** A delivery due now that this consumer could not take (another is sending the job's earlier one): look again soon. */
const BUSY_DELAY_S = 2;
/** The sweep takes over what has been due this long without a message. */
const OVERDUE_MS = 60_000;

export function workerWebhooks(env: Pick<WorkerEnv, 'WEBHOOKS'>, config: Config, breakers: Breakers, log: Logger): Webhooks {
  return {
    outbound: fetchOutbound({ policy: config.outbound, limits: config.outboundLimits }),
    breakers,
    async kick(jobId) {
      await env.WEBHOOKS.send({ job_id: jobId } satisfies WebhookMessage, { contentType: 'json' }).catch((error: unknown) =>
        log.warn('webhook kick failed; the sweep will send it', { job_id: jobId, error: error instanceof Error ? error.message : String(error) }),
      );
    },
  };
}

/** The WEBHOOKS consumer: each message's job, its due deliveries sent, and a message for its next retry. */
export async function consumeWebhooks(batch: MessageBatch, env: Pick<WorkerEnv, 'WEBHOOKS'>, deps: DeliveryDeps): Promise<void> {
  const owner = `webhooks:${crypto.randomUUID()}`;
  // One message per job is enough: duplicates in a batch would only wait for each other.
  const byJob = new Map<string, Message[]>();
  for (const message of batch.messages) {
    const jobId = (message.body as Partial<WebhookMessage> | null)?.job_id;
    if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > 64) {
      deps.log.error('discarded a malformed webhook message', { message_id: message.id });
      message.ack();
      continue;
    }
    byJob.set(jobId, [...(byJob.get(jobId) ?? []), message]);
  }
  await Promise.all(
    [...byJob].map(async ([jobId, messages]) => {
      try {
        await deliverJob(deps, owner, jobId);
        const next = await nextDueAt(deps.db, jobId);
        if (next !== null) {
          const delaySeconds = Math.min(MAX_QUEUE_DELAY_S, Math.max(BUSY_DELAY_S, Math.ceil((next - deps.clock()) / 1000)));
          await env.WEBHOOKS.send({ job_id: jobId } satisfies WebhookMessage, { contentType: 'json', delaySeconds });
        }
        for (const message of messages) message.ack();
      } catch (error) {
        deps.log.warn('webhook delivery failed; retrying', { job_id: jobId, error: error instanceof Error ? error.message : String(error) });
        for (const message of messages) message.retry({ delaySeconds: Math.min(60, 2 ** Math.min(6, message.attempts)) });
      }
    }),
  );
}

/** The Cron sweep's part: a message for every job whose delivery has been due a while with nobody sending it. */
export async function sweepWebhooks(db: Db, env: Pick<WorkerEnv, 'WEBHOOKS'>, now: number): Promise<number> {
  const jobs = await overdueJobs(db, now, now - OVERDUE_MS);
  if (jobs.length > 0) await env.WEBHOOKS.sendBatch(jobs.map((jobId) => ({ body: { job_id: jobId } satisfies WebhookMessage, contentType: 'json' as const })));
  return jobs.length;
}
