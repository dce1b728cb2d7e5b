/**
 * The Cloudflare Workers entry of the API Worker (wrangler.toml `main`). It builds the app once per isolate from the
 * bindings and serves every request with it; the Durable Object classes the bindings name (and the Transcoder
 * Container class) are exported from here too.
 *
 * `queue` consumes the JOBS queue: each message is a job id, handed to the job's JobCoordinator, which claims and
 * runs it. A message is acknowledged once the coordinator has the job (or found it no longer queued); if the
 * coordinator could not be reached, the message is retried, so a job is never acknowledged without an owner.
 *
 * It consumes the WEBHOOKS queue too (src/runtime/worker-webhooks.ts): each message is a job whose webhook deliveries
 * may be due.
 *
 * `scheduled` (a Cron Trigger) is the safety net: expired leases anywhere, queued jobs whose message was lost
 * (src/runtime/worker-sweeper.ts), and webhook deliveries a lost message left due.
 */
import { problems } from '../problems.js';
import { consoleLogger } from '../platform.js';
import { WEBHOOK_QUEUE, type JobMessage, type WorkerEnv } from './worker-env.js';
import { createWorkerApp, type WorkerApp } from './worker-platform.js';
import { sweepJobs } from './worker-sweeper.js';
import { consumeWebhooks, sweepWebhooks } from './worker-webhooks.js';
import { sweepRetention } from '../storage/retention.js';

export { JobCoordinator } from '../../durable-objects/job-coordinator.js';
export { RateLimiter } from '../../durable-objects/rate-limiter.js';
export { Transcoder } from '../../durable-objects/transcoder.js';

let cached: { env: WorkerEnv; worker: WorkerApp } | undefined;

function workerFor(env: WorkerEnv): WorkerApp {
  // `env` is the same object for every request of an isolate; a different one (tests, a new deployment's
  // variables) gets its own app rather than a stale one.
  if (cached?.env !== env) cached = { env, worker: createWorkerApp(env) };
  return cached.worker;
}

export default {
  async fetch(request, env, ctx) {
    const worker = workerFor(env);
    try {
      await worker.ready();
    } catch (error) {
      worker.platform.log.error('bootstrap failed', { error: error instanceof Error ? error.message : String(error) });
      const id = crypto.randomUUID();
      const response = problems.unavailable('The service is starting; try again shortly.').toResponse(id);
      response.headers.set('x-request-id', id);
      response.headers.set('retry-after', '5');
      return response;
    }
    return worker.app.fetch(request, env, ctx);
  },

  async queue(batch, env) {
    if (batch.queue === WEBHOOK_QUEUE) {
      const { platform } = workerFor(env);
      await consumeWebhooks(batch, env, {
        db: platform.db,
        outbound: platform.webhooks.outbound,
        breakers: platform.webhooks.breakers,
        config: platform.config,
        clock: platform.clock,
        log: platform.log,
      });
      return;
    }
    await Promise.all(
      batch.messages.map(async (message) => {
        const id = (message.body as Partial<JobMessage> | null)?.id;
        if (typeof id !== 'string' || id.length === 0 || id.length > 64) {
          consoleLogger.error('discarded a malformed job message', { message_id: message.id });
          message.ack();
          return;
        }
        try {
          const coordinator = env.JOB_COORDINATOR.get(env.JOB_COORDINATOR.idFromName(id));
          await coordinator.start(id);
          message.ack();
        } catch (error) {
          consoleLogger.warn('job dispatch failed; retrying', { job_id: id, error: error instanceof Error ? error.message : String(error) });
          message.retry({ delaySeconds: Math.min(60, 2 ** Math.min(6, message.attempts)) });
        }
      }),
    );
  },

  async scheduled(_controller, env) {
    const { platform } = workerFor(env);
    const swept = await sweepJobs({ db: platform.db, queue: env.JOBS, coordinator: platform.coordinator, now: platform.clock() });
    if (swept.requeued.length + swept.failed.length + swept.redispatched.length > 0) platform.log.info('jobs swept', swept);
    const webhooks = await sweepWebhooks(platform.db, env, platform.clock());
    if (webhooks > 0) platform.log.info('webhook deliveries re-sent', { jobs: webhooks });
    await sweepRetention(platform);
  },
} satisfies ExportedHandler<WorkerEnv, JobMessage>;
