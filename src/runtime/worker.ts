/**
 * The Cloudflare Workers entry (wrangler.toml `main`). It builds the app once per isolate from the bindings and
 * serves every request with it; the Durable Object classes the bindings name are exported from here too.
 *
 * There is no `queue` handler: nothing runs jobs on Workers yet, and a consumer that returned without processing
 * would acknowledge (and so lose) every message. Messages wait in the JOBS queue instead (see wrangler.toml).
 */
import { problems } from '../problems.js';
import { createWorkerApp, type WorkerApp, type WorkerEnv } from './worker-platform.js';

export { JobCoordinator } from '../../durable-objects/job-coordinator.js';
export { RateLimiter } from '../../durable-objects/rate-limiter.js';

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
} satisfies ExportedHandler<WorkerEnv>;
