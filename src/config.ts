/**
 * Configuration from environment variables (Node, Deno) or Worker bindings. Every number is bounded and parsed once.
 */
import { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits } from './delivery/outbound.js';
import { outboundPolicy, type OutboundPolicy } from './delivery/ssrf.js';
import type { BreakerOptions } from './delivery/breakers.js';
import type { RetrySchedule } from './delivery/schedule.js';

export interface Limits {
  /** JSON request bodies. */
  bodyBytes: number;
  uploadBytes: number;
  /** Remote or local inputs fetched for a job. */
  inputBytes: number;
  inputDurationS: number;
  outputPixels: number;
  maxFps: number;
  maxBitrate: number;
  operations: number;
  /** Files one job may produce (thumbnails, sprite and index...). */
  outputs: number;
  /** Rungs of a streaming ladder. */
  variants: number;
  concurrentJobs: number;
  /** Requests per window (token bucket capacity) and the window in seconds. */
  requests: number;
  windowS: number;
  /** How long an output's signed `url` works without the key (at most 7 days). */
  outputLinkTtlS: number;
  /** How long uploads and a job's outputs are kept before the retention sweep deletes them. */
  retentionS: number;
}

export interface Config {
  /** The default tier's limits. */
  limits: Limits;
  /** Further tiers by name (an API key's `tier`); see limitsForTier. */
  tiers: Record<string, Limits>;
  /** Per-job wall clock limit for one ffmpeg run. */
  jobTimeoutMs: number;
  leaseMs: number;
  maxAttempts: number;
  sweepIntervalMs: number;
  /** How often Node and Deno look for uploads and outputs past their retention (Workers: the Cron Trigger). */
  retentionSweepMs: number;
  /** In-process pool size (Node). */
  poolSize: number;
  /** Root under which `local:` URIs may point; null disables `local:` inputs. */
  localRoot: string | null;
  bootstrapAdminKey: string | null;
  corsOrigins: string[];
  /**
   * The header a proxy in front of the service sets to the client's address (lower case), e.g. `x-forwarded-for`;
   * null: no header is trusted and the runtime's own view of the peer is used (see api/client-address.ts).
   */
  trustedProxyHeader: string | null;
  /** SSE heartbeat period. */
  heartbeatMs: number;
  /** How often a live stream re-reads the database when no notification came (jobs run by other instances). */
  eventPollMs: number;
  webhooks: WebhookConfig;
  /** Where webhooks (and, later, URL inputs) may connect: src/delivery/ssrf.ts. */
  outbound: OutboundPolicy;
  /** How long an outbound request may take, and how much of its answer is read. */
  outboundLimits: OutboundLimits;
  /** The circuit breakers around webhook hosts and blob stores (src/delivery/breakers.ts). */
  breakers: BreakerOptions;
  /** The service's public origin, for the absolute links webhooks carry (FFEDGE_PUBLIC_URL); null: paths. */
  publicUrl: string | null;
  /**
   * Signs short-lived links such as a job's `links.events_url` (FFEDGE_LINK_SECRET, at least 32 characters). Every
   * instance must share it; Node and Deno make one per process when it is not set, Workers then give no such links.
   */
  linkSecret: string | null;
  /** The secret links were signed with before the last rotation (FFEDGE_LINK_SECRET_PREVIOUS): they keep working until they expire. */
  linkSecretPrevious: string | null;
  /** How long a signed events link can be opened (FFEDGE_EVENTS_URL_TTL_S); an open stream goes on past it. */
  eventsUrlTtlMs: number;
}

export interface WebhookConfig extends RetrySchedule {
  /** How long a sender holds a claimed delivery; more than an attempt's total timeout. */
  leaseMs: number;
  /** How often a dispatcher looks for due deliveries that no notification announced (other instances, retries). */
  pollMs: number;
  /** Deliveries one dispatcher sends at once. */
  concurrency: number;
  /** How long a rotated-out secret still signs, unless the rotation says otherwise. */
  secretOverlapMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 64 * 1024,
  uploadBytes: 2 * 1024 ** 3,
  inputBytes: 2 * 1024 ** 3,
  inputDurationS: 4 * 3600,
  outputPixels: 7680 * 4320,
  maxFps: 120,
  maxBitrate: 100_000_000,
  operations: 20,
  outputs: 100,
  variants: 8,
  concurrentJobs: 5,
  requests: 120,
  windowS: 60,
  outputLinkTtlS: 3600,
  retentionS: 7 * 86_400,
};

type Env = Record<string, string | undefined>;

/**
 * The limits of one tier. The default tier reads FFEDGE_<NAME>; a tier `pro` named in FFEDGE_TIERS reads
 * FFEDGE_TIER_PRO_<NAME> and inherits every value it does not set from the default tier.
 */
function loadLimits(env: Env, prefix: string, base: Limits): Limits {
  const read = (name: string, fallback: number, min: number, max: number) => int(env, `${prefix}${name}`, fallback, min, max);
  return {
    bodyBytes: read('BODY_LIMIT', base.bodyBytes, 1024, 16 * 1024 ** 2),
    uploadBytes: read('UPLOAD_LIMIT', base.uploadBytes, 1, 5 * 1024 ** 4),
    inputBytes: read('INPUT_LIMIT', base.inputBytes, 1, 5 * 1024 ** 4),
    inputDurationS: read('INPUT_DURATION_LIMIT', base.inputDurationS, 1, 48 * 3600),
    outputPixels: read('OUTPUT_PIXELS_LIMIT', base.outputPixels, 1, 7680 * 4320),
    maxFps: read('FPS_LIMIT', base.maxFps, 1, 240),
    maxBitrate: read('BITRATE_LIMIT', base.maxBitrate, 1000, 1_000_000_000),
    operations: read('OPERATIONS_LIMIT', base.operations, 1, 100),
    outputs: read('OUTPUTS_LIMIT', base.outputs, 1, 1000),
    variants: read('VARIANTS_LIMIT', base.variants, 1, 16),
    concurrentJobs: read('CONCURRENT_JOBS', base.concurrentJobs, 1, 10_000),
    requests: read('RATE_LIMIT', base.requests, 1, 1_000_000),
    windowS: read('RATE_WINDOW_S', base.windowS, 1, 86_400),
    outputLinkTtlS: read('OUTPUT_LINK_TTL_S', base.outputLinkTtlS, 60, 7 * 86_400),
    retentionS: read('RETENTION_S', base.retentionS, 60, 3650 * 86_400),
  };
}

const TIER_NAME = /^[a-z][a-z0-9_]{0,31}$/;

function loadTiers(env: Env, base: Limits): Record<string, Limits> {
  const tiers: Record<string, Limits> = {};
  for (const name of (env.FFEDGE_TIERS ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!TIER_NAME.test(name)) throw new Error(`FFEDGE_TIERS: ${name} is not a tier name (a-z, 0-9, _)`);
    tiers[name] = loadLimits(env, `FFEDGE_TIER_${name.toUpperCase()}_`, base);
  }
  return tiers;
}

/** The limits of an API key's tier; the default tier (config.limits) for an unknown or unset tier. */
export function limitsForTier(config: Pick<Config, 'limits' | 'tiers'>, tier: string | null | undefined): Limits {
  return (tier && Object.hasOwn(config.tiers, tier) ? config.tiers[tier] : undefined) ?? config.limits;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`${name} must be between ${min} and ${max}`);
  return value;
}

function origin(env: Env, name: string): string | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} must be a URL such as https://api.example.com`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== '/' || url.search || url.hash) {
    throw new Error(`${name} must be an http(s) origin without a path, such as https://api.example.com`);
  }
  return url.origin;
}

function headerName(env: Env, name: string): string | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  if (!/^[A-Za-z0-9-]{1,64}$/.test(raw)) throw new Error(`${name} must be an HTTP header name (letters, digits, -)`);
  return raw.toLowerCase();
}

export function loadConfig(env: Env, defaults: { cores?: number } = {}): Config {
  const cores = defaults.cores ?? 2;
  const limits = loadLimits(env, 'FFEDGE_', DEFAULT_LIMITS);
  return {
    limits,
    tiers: loadTiers(env, limits),
    jobTimeoutMs: int(env, 'FFEDGE_JOB_TIMEOUT_MS', 6 * 3600_000, 1000, 48 * 3600_000),
    leaseMs: int(env, 'FFEDGE_LEASE_MS', 30_000, 500, 3600_000),
    maxAttempts: int(env, 'FFEDGE_MAX_ATTEMPTS', 3, 1, 20),
    sweepIntervalMs: int(env, 'FFEDGE_SWEEP_MS', 5_000, 100, 3600_000),
    retentionSweepMs: int(env, 'FFEDGE_RETENTION_SWEEP_MS', 60_000, 50, 86_400_000),
    poolSize: int(env, 'FFEDGE_POOL_SIZE', Math.max(1, Math.floor(cores / 2)), 0, 256),
    localRoot: env.FFEDGE_LOCAL_ROOT || null,
    bootstrapAdminKey: env.FFEDGE_BOOTSTRAP_ADMIN_KEY || null,
    corsOrigins: (env.FFEDGE_CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    trustedProxyHeader: headerName(env, 'FFEDGE_TRUSTED_PROXY_HEADER'),
    heartbeatMs: int(env, 'FFEDGE_HEARTBEAT_MS', 15_000, 50, 300_000),
    eventPollMs: int(env, 'FFEDGE_EVENT_POLL_MS', 1_000, 20, 60_000),
    webhooks: {
      maxAttempts: int(env, 'FFEDGE_WEBHOOK_MAX_ATTEMPTS', 8, 1, 20),
      baseMs: int(env, 'FFEDGE_WEBHOOK_BACKOFF_MS', 30 * 60_000, 10, 24 * 3600_000),
      capMs: int(env, 'FFEDGE_WEBHOOK_BACKOFF_CAP_MS', 12 * 3600_000, 10, 7 * 24 * 3600_000),
      leaseMs: int(env, 'FFEDGE_WEBHOOK_LEASE_MS', 30_000, 1_000, 3600_000),
      pollMs: int(env, 'FFEDGE_WEBHOOK_POLL_MS', 1_000, 20, 600_000),
      concurrency: int(env, 'FFEDGE_WEBHOOK_CONCURRENCY', 8, 1, 256),
      secretOverlapMs: int(env, 'FFEDGE_WEBHOOK_SECRET_OVERLAP_MS', 24 * 3600_000, 0, 30 * 24 * 3600_000),
    },
    outbound: outboundPolicy(env),
    outboundLimits: {
      connectTimeoutMs: int(env, 'FFEDGE_OUTBOUND_CONNECT_TIMEOUT_MS', DEFAULT_OUTBOUND_LIMITS.connectTimeoutMs, 50, 60_000),
      totalTimeoutMs: int(env, 'FFEDGE_OUTBOUND_TIMEOUT_MS', DEFAULT_OUTBOUND_LIMITS.totalTimeoutMs, 50, 120_000),
      maxResponseBytes: DEFAULT_OUTBOUND_LIMITS.maxResponseBytes,
    },
    breakers: {
      failures: int(env, 'FFEDGE_BREAKER_FAILURES', 5, 1, 1000),
      openMs: int(env, 'FFEDGE_BREAKER_OPEN_MS', 30_000, 10, 3600_000),
    },
    publicUrl: origin(env, 'FFEDGE_PUBLIC_URL'),
    linkSecret: secret(env, 'FFEDGE_LINK_SECRET'),
    linkSecretPrevious: secret(env, 'FFEDGE_LINK_SECRET_PREVIOUS'),
    eventsUrlTtlMs: int(env, 'FFEDGE_EVENTS_URL_TTL_S', 900, 10, 86_400) * 1000,
  };
}

function secret(env: Env, name: string): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  if (raw.length < 32) throw new Error(`${name} must be at least 32 characters (e.g. \`openssl rand -base64 32\`)`);
  return raw;
}

export interface FleetWorker {
  url: string;
  slots: number;
}

export interface FleetConfig {
  workers: FleetWorker[];
  /** The workers' shared secret (FFEDGE_WORKER_TOKEN). */
  token: string;
  /** How often each worker's /health is checked (FFEDGE_WORKER_HEALTH_MS). */
  healthIntervalMs: number;
  /** How long a failed worker is left out before a passing check takes it back (FFEDGE_WORKER_COOLDOWN_MS). */
  cooldownMs: number;
}

/**
 * `http://10.0.0.7:8788#4,https://w2.internal:8788` -> workers with 4 and 1 slots. The token is given separately
 * (FFEDGE_WORKER_TOKEN); credentials, queries and duplicates are refused.
 */
export function parseWorkers(value: string | undefined): FleetWorker[] {
  const workers: FleetWorker[] = [];
  for (const item of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const hash = item.indexOf('#');
    const base = hash < 0 ? item : item.slice(0, hash);
    const slotsText = hash < 0 ? '1' : item.slice(hash + 1);
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      throw new Error(`FFEDGE_WORKERS: "${base}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('FFEDGE_WORKERS: only http and https workers');
    if (url.username || url.password || url.search) throw new Error('FFEDGE_WORKERS: no credentials or query in a worker URL');
    if (!/^\d{1,3}$/.test(slotsText) || Number(slotsText) < 1 || Number(slotsText) > 256) {
      throw new Error('FFEDGE_WORKERS: slots (after #) must be a whole number from 1 to 256');
    }
    const normalized = url.href.replace(/\/+$/, '');
    if (workers.some((w) => w.url === normalized)) throw new Error(`FFEDGE_WORKERS: ${normalized} is listed twice`);
    workers.push({ url: normalized, slots: Number(slotsText) });
  }
  return workers;
}

/** The fleet of native workers FFEDGE_WORKERS names (README "Scale out"), or null when it names none. */
export function loadFleetConfig(env: Env): FleetConfig | null {
  const workers = parseWorkers(env.FFEDGE_WORKERS);
  if (workers.length === 0) return null;
  const token = env.FFEDGE_WORKER_TOKEN ?? '';
  if (token.length < 16) throw new Error("FFEDGE_WORKERS needs FFEDGE_WORKER_TOKEN, the workers' shared secret (16 characters or more)");
  return {
    workers,
    token,
    healthIntervalMs: int(env, 'FFEDGE_WORKER_HEALTH_MS', 5_000, 50, 3600_000),
    cooldownMs: int(env, 'FFEDGE_WORKER_COOLDOWN_MS', 30_000, 50, 3600_000),
  };
}
