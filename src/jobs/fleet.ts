/**
 * The fleet of native workers a Node (or Deno) server dispatches jobs to, besides its in-process pool
 * (FFEDGE_WORKERS=http://host:port#slots,...). Each worker has its own slots; a job is claimed only when some
 * healthy worker has a free one, and runs through the same runner as the pool with a RemoteEngine for that worker.
 *
 * A worker that fails two health checks in a row or loses a run (ENGINE_UNAVAILABLE: unreachable, killed, silent) is
 * left out for a cool-down; after it, it comes back only when a health check passes (a circuit breaker whose half-open probe
 * is the health check, so no job is risked on a worker that may still be down). The run it lost fails as retryable
 * and goes back to the queue; the leases and compare-and-set completion of transitions.ts make the re-run on
 * another worker complete exactly once.
 */
import { and, asc, desc, eq, isNull, or } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobs, type Job } from '../db/schema.js';
import { EngineError, type Engine, type EngineCapabilities } from '../engine/engine.js';
import { createRemoteEngine } from '../engine/remote.js';
import { PROTOCOL_VERSION } from '../engine/remote-protocol.js';
import type { Dispatch, Logger, ReadinessCheck } from '../platform.js';
import { serialPump } from './pump.js';
import * as transitions from './transitions.js';

export interface FleetWorker {
  url: string;
  slots: number;
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

export interface FleetOptions {
  workers: FleetWorker[];
  token: string;
  db: Db;
  owner: string;
  leaseMs: number;
  /** How often to look for queued jobs without being told (jobs queued by other instances, sweeps). */
  pollMs: number;
  clock: () => number;
  log: Logger;
  /** Runs one claimed job with the given engine (the runner, as the pool uses it). */
  run: (job: Job, owner: string, shutdown: AbortSignal, engine: Engine) => Promise<void>;
  /**
   * Take jobs routed to any engine, not only native ones: for a server that runs nothing itself (FFEDGE_POOL_SIZE=0),
   * where a job routed to wasm would otherwise wait forever. A worker's native ffmpeg runs whatever wasm can.
   */
  anyEngine?: boolean;
  /** Probes inputs on this host when it can (saves sending the input twice); the worker probes otherwise. */
  probeWith?: Engine;
  healthIntervalMs?: number;
  cooldownMs?: number;
  /** Passed to each RemoteEngine: how long a silent worker is waited for. */
  idleTimeoutMs?: number;
  fetch?: typeof fetch;
}

export interface WorkerStatus {
  url: string;
  slots: number;
  busy: number;
  state: 'up' | 'down';
  /** When a worker that is down may be tried again (by a health check). */
  retry_at: number | null;
}

export interface Fleet extends Dispatch {
  start(): void;
  stop(graceMs: number): Promise<void>;
  running(): number;
  status(): WorkerStatus[];
  /** Readiness component `workers`: ready while at least one worker is up. */
  readiness: ReadinessCheck;
  /** What the fleet's ffmpeg can do (the first worker that answers), or null when none does. */
  capabilities(): Promise<EngineCapabilities | null>;
}

interface Member {
  spec: FleetWorker;
  remote: Engine;
  engine: Engine;
  busy: number;
  up: boolean;
  /** Until when the breaker stays open after a failure. */
  openUntil: number;
  checking: boolean;
  /** Health checks failed in a row. */
  failedChecks: number;
}

const HEALTH_TIMEOUT_MS = 2_000;

export function createFleet(options: FleetOptions): Fleet {
  const { db, clock, log } = options;
  const healthMs = options.healthIntervalMs ?? 5_000;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const doFetch = options.fetch ?? fetch;
  const running = new Map<string, Promise<void>>();
  const shutdown = new AbortController();
  let accepting = false;
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let healthTimer: ReturnType<typeof setInterval> | undefined;

  const members: Member[] = options.workers.map((spec) => {
    const remote = createRemoteEngine({
      url: spec.url,
      token: options.token,
      ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    const member: Member = { spec, remote, engine: remote, busy: 0, up: false, openUntil: 0, checking: false, failedChecks: 0 };
    member.engine = watched(member, remote, options.probeWith);
    return member;
  });

  function trip(member: Member, reason: string): void {
    const wasUp = member.up;
    member.up = false;
    member.openUntil = clock() + cooldownMs;
    if (wasUp) log.warn('worker down', { worker: member.spec.url, reason, retry_in_ms: cooldownMs });
  }

  /** The engine of a member, reporting the worker's own failures to its breaker. */
  function watched(member: Member, remote: Engine, local: Engine | undefined): Engine {
    const observe = <T>(work: Promise<T>): Promise<T> =>
      work.catch((error: unknown) => {
        if (error instanceof EngineError && error.code === 'ENGINE_UNAVAILABLE') trip(member, error.safeMessage);
        throw error;
      });
    return {
      name: remote.name,
      run: (spec) => observe(remote.run(spec)),
      probe: (file, probeOptions) =>
        local
          ? local.probe(file, probeOptions).catch((error: unknown) => {
              // No ffprobe here: the worker probes.
              if (error instanceof EngineError && error.code === 'ENGINE_UNAVAILABLE') return observe(remote.probe(file, probeOptions));
              throw error;
            })
          : observe(remote.probe(file, probeOptions)),
      capabilities: () => remote.capabilities(),
    };
  }

  async function check(member: Member): Promise<void> {
    if (member.checking) return;
    member.checking = true;
    try {
      const response = await doFetch(`${member.spec.url}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
      const body = (await response.json().catch(() => null)) as { status?: string; protocol?: number } | null;
      if (!response.ok || body?.status !== 'ok' || body.protocol !== PROTOCOL_VERSION) throw new Error('unhealthy');
      member.failedChecks = 0;
      if (!member.up) {
        if (member.openUntil > clock()) return; // still cooling down
        // Coming (back) up: the token is checked once through an authenticated call.
        await member.remote.capabilities();
        member.up = true;
        log.info('worker up', { worker: member.spec.url, slots: member.spec.slots });
        void pump();
      }
    } catch (error) {
      member.failedChecks += 1;
      // One slow answer from a busy host is not a dead worker; two in a row are. A worker that is down stays down
      // without starting a new cool-down, so one that is merely slow to start is taken as soon as it answers.
      if (member.up && member.failedChecks >= 2) trip(member, error instanceof EngineError ? error.safeMessage : 'health check failed');
    } finally {
      member.checking = false;
    }
  }

  const checkAll = () => Promise.all(members.map(check));

  function freeMember(): Member | null {
    let best: Member | null = null;
    for (const member of members) {
      if (!member.up || member.busy >= member.spec.slots) continue;
      // The least loaded worker, relative to its size.
      if (!best || member.busy / member.spec.slots < best.busy / best.spec.slots) best = member;
    }
    return best;
  }

  /** The next queued job for native ffmpeg (unless anyEngine), claimed with the CAS of transitions.ts. */
  async function claimNext(): Promise<Job | null> {
    const queued = eq(jobs.status, 'queued');
    for (let tries = 0; tries < 3; tries += 1) {
      const candidates = await db
        .select({ id: jobs.id })
        .from(jobs)
        .where(options.anyEngine ? queued : and(queued, or(isNull(jobs.engine), eq(jobs.engine, 'native'))))
        .orderBy(desc(jobs.priority), asc(jobs.createdAt))
        .limit(4);
      if (candidates.length === 0) return null;
      for (const { id } of candidates) {
        const job = await transitions.claimById(db, id, { owner: options.owner, ms: options.leaseMs }, clock());
        if (job) return job;
      }
      // Others took them first; look again.
    }
    return null;
  }

  async function fill(): Promise<void> {
    while (accepting) {
      const member = freeMember();
      if (!member) return;
      const job = await claimNext();
      if (!job) return;
      member.busy += 1;
      log.info('job sent to worker', { job_id: job.id, worker: member.spec.url, attempt: job.attempts });
      const task = options
        .run(job, options.owner, shutdown.signal, member.engine)
        .catch((error) => log.error('runner crashed', { job_id: job.id, error: error instanceof Error ? error.stack : String(error) }))
        .finally(() => {
          member.busy -= 1;
          running.delete(job.id);
          void pump();
        });
      running.set(job.id, task);
    }
  }

  const pump = serialPump(fill, () => accepting, (error) => log.error('fleet claim failed', { error: String(error) }));

  return {
    async queued() {
      void pump();
    },
    start() {
      accepting = true;
      pollTimer = setInterval(() => void pump(), options.pollMs);
      healthTimer = setInterval(() => void checkAll(), healthMs);
      void checkAll().then(pump);
    },
    async stop(graceMs) {
      accepting = false;
      clearInterval(pollTimer);
      clearInterval(healthTimer);
      await pump.settled();
      const all = Promise.allSettled([...running.values()]);
      const graceOver = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref?.());
      if ((await Promise.race([all, graceOver])) === 'timeout') {
        log.warn('shutdown grace period over; returning jobs running on workers to the queue', { jobs: [...running.keys()] });
        shutdown.abort();
        await all;
      }
    },
    running: () => running.size,
    status: () =>
      members.map((m) => ({
        url: m.spec.url,
        slots: m.spec.slots,
        busy: m.busy,
        state: m.up ? ('up' as const) : ('down' as const),
        retry_at: m.up ? null : m.openUntil,
      })),
    readiness: {
      name: 'workers',
      async check() {
        if (!members.some((m) => m.up)) throw new Error('no worker available');
      },
    },
    async capabilities() {
      for (const member of members.filter((m) => m.up)) {
        try {
          return await member.remote.capabilities();
        } catch {
          // try the next one
        }
      }
      return null;
    },
  };
}

/**
 * The fleet FFEDGE_WORKERS names, or null when it names none. FFEDGE_WORKER_TOKEN is required with it;
 * FFEDGE_WORKER_HEALTH_MS (5 s) and FFEDGE_WORKER_COOLDOWN_MS (30 s) tune the health checks and the breaker.
 */
export function fleetFromEnv(
  env: Record<string, string | undefined>,
  deps: Omit<FleetOptions, 'workers' | 'token' | 'healthIntervalMs' | 'cooldownMs'>,
): Fleet | null {
  const workers = parseWorkers(env.FFEDGE_WORKERS);
  if (workers.length === 0) return null;
  const token = env.FFEDGE_WORKER_TOKEN ?? '';
  if (token.length < 16) throw new Error('FFEDGE_WORKERS needs FFEDGE_WORKER_TOKEN, the workers\' shared secret (16 characters or more)');
  const ms = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < 50) throw new Error(`${name} must be a whole number of milliseconds, at least 50`);
    return Number(raw);
  };
  return createFleet({
    ...deps,
    workers,
    token,
    healthIntervalMs: ms('FFEDGE_WORKER_HEALTH_MS', 5_000),
    cooldownMs: ms('FFEDGE_WORKER_COOLDOWN_MS', 30_000),
  });
}

interface PoolLike extends Dispatch {
  start(): void;
  stop(graceMs: number): Promise<void>;
  running(): number;
}

/** The in-process pool and the fleet driven as one: started, told and stopped together. */
export function withFleet<P extends PoolLike>(fleet: Fleet | null, pool: P): P {
  if (!fleet) return pool;
  return {
    ...pool,
    async queued(job) {
      await Promise.all([pool.queued(job), fleet.queued(job)]);
    },
    start() {
      pool.start();
      fleet.start();
    },
    async stop(graceMs) {
      await Promise.all([pool.stop(graceMs), fleet.stop(graceMs)]);
    },
    running: () => pool.running() + fleet.running(),
  };
}
