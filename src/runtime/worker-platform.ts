/**
 * The Platform of a Cloudflare Worker: D1, R2, the JobCoordinator and RateLimiter Durable Objects, the JOBS queue,
 * and the engines (the wasm Worker and the Transcoder container, src/runtime/worker-engines.ts). Everything here
 * only wraps bindings; the same app (src/app.ts) runs on top.
 *
 * A submitted job is routed among the engines (src/api/route.ts with `routing()`), stored, and sent to the JOBS
 * queue; the queue consumer (src/runtime/worker.ts) hands it to its JobCoordinator, which runs it.
 */
import { drizzle } from 'drizzle-orm/d1';
import { uuidv7 } from 'uuidv7';
import type { JobCoordinator } from '../../durable-objects/job-coordinator.js';
import type { Transcoder } from '../../durable-objects/transcoder.js';
import type { RateLimiter } from '../../durable-objects/rate-limiter.js';
import { createApp, type App } from '../app.js';
import { loadConfig } from '../config.js';
import type { Db } from '../db/client.js';
import * as schema from '../db/schema.js';
import { consoleLogger, type Limiter, type Platform } from '../platform.js';
import { bootstrapAdminKey } from '../security/api-keys.js';
import { createR2BlobStore } from '../storage/r2.js';
import { createDurableCoordinator } from './worker-coordinator.js';
import { createWorkerEngines } from './worker-engines.js';

/** A message on the JOBS queue: only the id; the consumer reads the job from D1, the source of truth. */
export interface JobMessage {
  id: string;
}

/** The bindings wrangler.toml declares, plus the FFEDGE_* variables of `[vars]` (and secrets). */
export interface WorkerBindings {
  DB: D1Database;
  BLOBS: R2Bucket;
  JOB_COORDINATOR: DurableObjectNamespace<JobCoordinator>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  JOBS: Queue<JobMessage>;
  /** Service binding to the wasm Worker (wasm/wrangler.toml); absent: no wasm engine. */
  WASM?: Fetcher;
  /** The Transcoder Container class; absent: no native engine. */
  TRANSCODER?: DurableObjectNamespace<Transcoder>;
}

export type WorkerEnv = WorkerBindings & Record<string, unknown>;

declare global {
  // Types `env` from 'cloudflare:workers' (the Worker and its tests) with the bindings above.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Cloudflare {
    interface Env extends WorkerBindings {}
  }
}

/** The string-valued entries of env: `[vars]` and secrets, without the bindings. */
export function varsOf(env: object): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

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
  const engines = createWorkerEngines(env as WorkerEnv & { FFEDGE_WORKER_TOKEN?: string }, consoleLogger);
  return {
    runtime: 'workers',
    db: drizzle(env.DB, { schema }) as unknown as Db,
    blobs: createR2BlobStore(env.BLOBS),
    coordinator: createDurableCoordinator(env.JOB_COORDINATOR),
    limiter: durableLimiter(env.RATE_LIMITER),
    dispatch: {
      async queued(job) {
        await env.JOBS.send({ id: job.id } satisfies JobMessage, { contentType: 'json' });
      },
    },
    engines: () => engines.capabilities(),
    routing: () => engines.profiles(),
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
