/**
 * The ports between the core and a runtime (DESIGN.md, "Ports"). app.ts is built from a Platform; runtime/ and
 * durable-objects/ provide one per runtime. Nothing in the core imports a runtime directly.
 */
import type { Config, Limits } from './config.js';
import type { Db } from './db/client.js';
import type { EngineCapabilities, ProbeResult } from './engine/engine.js';
import type { Breakers } from './delivery/breakers.js';
import type { OutboundFetch } from './delivery/outbound.js';
import type { EngineProfile } from './media/routing.js';
import type { BlobStore } from './storage/blob-store.js';

export interface Subscription {
  /** Resolves true when the job changed since the last call (or since subscribing), false after timeoutMs. */
  next(timeoutMs: number): Promise<boolean>;
  close(): void;
}

/** Per-job live notifications. The database holds the state; the coordinator only says "look again". */
export interface Coordinator {
  notify(jobId: string): Promise<void>;
  subscribe(jobId: string, signal: AbortSignal): Promise<Subscription>;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetS: number;
  /** Seconds until the request would be allowed; 0 when allowed. */
  retryAfterS: number;
  windowS: number;
}

export interface Limiter {
  /** `bucket` is an API key id, or `addr:<client address>` for traffic without a key. */
  take(bucket: string, cost: number, limits: Limits): Promise<RateDecision>;
}

export interface Dispatch {
  /** A job was queued (created or re-queued): run it when capacity allows. */
  queued(job: { id: string; kind: string; priority: number }): Promise<void>;
}

/** How webhooks leave this runtime: src/delivery/. */
export interface Webhooks {
  /** A job's events were probably just written: send (or schedule) its due deliveries soon. Never throws. */
  kick(jobId: string): Promise<void>;
  /** The SSRF-guarded client every webhook and ping goes through. */
  outbound: OutboundFetch;
  /** The breakers of this process: per webhook host, and around the blob store. */
  breakers: Breakers;
}

export interface ReadinessCheck {
  name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface LocalFiles {
  /** The canonical path of a regular file confined to the local root, or why it cannot be used (safe text). */
  resolve(path: string): Promise<{ ok: true; path: string } | { ok: false; code: string; message: string }>;
}

export interface ProbedInput {
  /** Null when the input could not be read as media. */
  probe: ProbeResult | null;
  /** The input's size in bytes. */
  bytes: number;
  /** True when only the first part of a large input was probed (its duration may then be an estimate). */
  partial: boolean;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface Platform {
  runtime: 'node' | 'deno' | 'workers';
  db: Db;
  blobs: BlobStore;
  coordinator: Coordinator;
  limiter: Limiter;
  dispatch: Dispatch;
  webhooks: Webhooks;
  /** Engines this deployment can run jobs on, for /capabilities and readiness. */
  engines(): Promise<EngineCapabilities[]>;
  /**
   * The engines routing chooses among (capabilities, memory limit, start-up cost, speed model). Absent where this
   * deployment runs no engine of its own: the engine is then left to be chosen when the job runs.
   */
  routing?(): Promise<EngineProfile[]>;
  /** Probes a job input (a URI accepted at submission) for estimates; absent where nothing can probe in a request. */
  probeInput?(uri: string, signal: AbortSignal): Promise<ProbedInput>;
  /** `local:` inputs, where the runtime has a file system and config.localRoot is set. */
  localFiles?: LocalFiles;
  /**
   * Serves a static file by its path (compressed when the request accepts it), or null: an asset of src/api/assets.ts,
   * or under /preview/ a file of the built preview page (src/api/preview.ts; `npm run build:preview`).
   */
  assets?(path: string, request: Request): Promise<Response | null>;
  /** Extra readiness checks a runtime adds (queue, pool...). Database, blobs and engines are always checked. */
  readiness?: ReadinessCheck[];
  config: Config;
  clock: () => number;
  ids: () => string;
  log: Logger;
}

export const consoleLogger: Logger = {
  info: (message, fields) => console.log(JSON.stringify({ level: 'info', message, ...fields })),
  warn: (message, fields) => console.warn(JSON.stringify({ level: 'warn', message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })),
};
