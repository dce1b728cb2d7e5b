/**
 * The Platform of a Cloudflare Worker: D1, R2, the JobCoordinator and RateLimiter Durable Objects, the JOBS queue,
 * and the engines (the wasm Worker and the Transcoder container, src/runtime/worker-engines.ts). Everything here
 * only wraps bindings; the same app (src/app.ts) runs on top.
 *
 * A submitted job is routed among the engines (src/api/engine-choice.ts with `routing()`), stored, and sent to the JOBS
 * queue; the queue consumer (src/runtime/worker.ts) hands it to its JobCoordinator, which runs it.
 */
import { drizzle } from 'drizzle-orm/d1';
import { uuidv7 } from 'uuidv7';
import type { RateLimiter } from '../../durable-objects/rate-limiter.js';
import { withPreviewFiles } from '../api/preview.js';
import { createApp, type App } from '../app.js';
import { loadConfig } from '../config.js';
import type { Db } from '../db/client.js';
import * as schema from '../db/schema.js';
import { consoleLogger, type Limiter, type Platform } from '../platform.js';
import { bootstrapAdminKey } from '../security/api-keys.js';
import { createBreakers } from '../delivery/breakers.js';
import { guardedBlobStore } from '../storage/guarded.js';
import { createR2BlobStore } from '../storage/r2.js';
import { createDurableCoordinator } from './worker-coordinator.js';
import { createWorkerEngines } from './worker-engines.js';
import { assetsR2, previewR2 } from './preview-r2.js';
import { workerWebhooks } from './worker-webhooks.js';
import { varsOf, type JobMessage, type WorkerEnv } from './worker-env.js';

function durableLimiter(namespace: DurableObjectNamespace<RateLimiter>): Limiter {
  return {
    async take(bucket, cost, limits) {
      const stub = namespace.get(namespace.idFromName(bucket));
      return stub.take(cost, limits.requests, limits.windowS);
    },
  };
}

export function createWorkerPlatform(env: WorkerEnv): Platform {
  // `local:` inputs name files on a server's disk; a Worker has none, whatever the variables say.
  const config = { ...loadConfig(varsOf(env)), localRoot: null };
  const engines = createWorkerEngines(env, consoleLogger);
  const breakers = createBreakers(config.breakers);
  return {
    runtime: 'workers',
    db: drizzle(env.DB, { schema }) as unknown as Db,
    blobs: guardedBlobStore(createR2BlobStore(env.BLOBS), breakers.get('blobs')),
    coordinator: createDurableCoordinator(env.JOB_COORDINATOR),
    limiter: durableLimiter(env.RATE_LIMITER),
    dispatch: {
      async queued(job) {
        await env.JOBS.send({ id: job.id } satisfies JobMessage, { contentType: 'json' });
      },
    },
    webhooks: workerWebhooks(env, config, breakers, consoleLogger),
    engines: () => engines.capabilities(),
    routing: () => engines.profiles(),
    assets: withPreviewFiles(previewR2(env.BLOBS), assetsR2(env.BLOBS)),
    config,
    clock: Date.now,
    ids: uuidv7,
    log: consoleLogger,
  };
}

export interface WorkerApp {
  app: App;
  platform: Platform;
  /** Resolves once per-deployment setup (the bootstrap admin key) is done; retried on the next request if it failed. */
  ready(): Promise<void>;
}

/** The app on a Worker platform. The entry caches one per isolate; tests build their own with other variables. */
export function createWorkerApp(env: WorkerEnv): WorkerApp {
  const platform = createWorkerPlatform(env);
  let bootstrapped = platform.config.bootstrapAdminKey === null;
  return {
    app: createApp(platform),
    platform,
    async ready() {
      if (bootstrapped) return;
      // An upsert, so concurrent first requests in several isolates are harmless.
      await bootstrapAdminKey(platform.db, platform.config.bootstrapAdminKey!, platform.clock());
      bootstrapped = true;
    },
  };
}
