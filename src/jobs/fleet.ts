/**
 * The fleet of native workers a Node (or Deno) server dispatches jobs to, besides its in-process pool
 * (FFEDGE_WORKERS=http://host:port#slots,..., read by loadFleetConfig in config.ts). Each worker has its own slots;
 * a job is claimed only when some healthy worker has a free one, and runs through the attempt pipeline with a stream
 * workspace whose engine is that worker (the runner is given the worker's endpoint).
 *
 * Each worker has a circuit breaker (cockatiel). A run the worker loses (ENGINE_UNAVAILABLE: unreachable, busy,
 * killed, silent) opens it at once; a failed health check counts only when the next one fails too (one slow answer
 * from a busy host is not a dead worker). An open breaker leaves the worker out for the cool-down; after it, the
 * next health check is the half-open probe, so no job is risked on a worker that may still be down. The run it lost
 * fails as retryable and goes back to the queue; the leases and compare-and-set completion of transitions.ts make
 * the re-run on another worker complete exactly once.
 */
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll, type CircuitBreakerPolicy } from 'cockatiel';
import type { FleetConfig, FleetWorker } from '../config.js';
import type { Db } from '../db/client.js';
import type { Job } from '../db/schema.js';
import { cachedUntilFailure } from '../engine/cached.js';
import type { EngineCapabilities } from '../engine/engine.js';
import { capabilitiesOf, httpEndpoint, type EngineEndpoint } from '../engine/protocol-client.js';
import { PROTOCOL_VERSION } from '../engine/protocol.js';
import type { Dispatch, Logger, ReadinessCheck } from '../platform.js';
import type { AttemptOutcome } from './attempt.js';
import { createRunning, serialPump } from './pump.js';
import * as transitions from './transitions.js';

export interface FleetOptions extends Omit<FleetConfig, 'healthIntervalMs' | 'cooldownMs'> {
  db: Db;
  owner: string;
  leaseMs: number;
  /** How often to look for queued jobs without being told (jobs queued by other instances, sweeps). */
  pollMs: number;
  clock: () => number;
  log: Logger;
  /** Runs one claimed job on a worker (the attempt pipeline with that worker as its engine). */
  run: (job: Job, shutdown: AbortSignal, worker: EngineEndpoint) => Promise<AttemptOutcome>;
  /**
   * Take jobs routed to any engine, not only native ones: for a server that runs nothing itself (FFEDGE_POOL_SIZE=0),
   * where a job routed to wasm would otherwise wait forever. A worker's native ffmpeg runs whatever wasm can.
   */
  anyEngine?: boolean;
  healthIntervalMs?: number;
  cooldownMs?: number;
  /** How long a silent worker is waited for (it sends a heartbeat every 5 s by default). */
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
  endpoint: EngineEndpoint;
  capabilities: () => Promise<EngineCapabilities>;
  breaker: CircuitBreakerPolicy;
  busy: number;
  /** A health check has passed once: a worker that was never up starts no cool-down. */
  seen: boolean;
  checking: boolean;
  /** Health checks failed in a row. */
  missed: number;
  retryAt: number | null;
}

const HEALTH_TIMEOUT_MS = 2_000;

export function createFleet(options: FleetOptions): Fleet {
  const { db, clock, log } = options;
  const healthMs = options.healthIntervalMs ?? 5_000;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const doFetch = options.fetch ?? fetch;
  const running = createRunning(log, 'jobs running on workers');
  let accepting = false;
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let healthTimer: ReturnType<typeof setInterval> | undefined;

  const members: Member[] = options.workers.map((spec) => {
    const endpoint = httpEndpoint({
      url: spec.url,
      token: options.token,
      ...(options.idleTimeoutMs ? { silenceMs: options.idleTimeoutMs } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    const breaker = circuitBreaker(handleAll, { halfOpenAfter: cooldownMs, breaker: new ConsecutiveBreaker(1) });
    const member: Member = {
      spec,
      endpoint,
      capabilities: cachedUntilFailure(() => capabilitiesOf(endpoint)),
      breaker,
      busy: 0,
      seen: false,
      checking: false,
      missed: 0,
      retryAt: null,
    };
    breaker.onBreak(() => {
      member.retryAt = Date.now() + cooldownMs;
      log.warn('worker down', { worker: spec.url, retry_in_ms: cooldownMs });
    });
    breaker.onReset(() => {
      member.retryAt = null;
      log.info('worker up', { worker: spec.url, slots: spec.slots });
      void pump();
    });
    return member;
  });

  const isUp = (member: Member) => member.seen && member.breaker.state === CircuitState.Closed;

  async function healthy(member: Member): Promise<void> {
    const response = await doFetch(`${member.spec.url}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    const body = (await response.json().catch(() => null)) as { status?: string; protocol?: number } | null;
    if (!response.ok || body?.status !== 'ok' || body.protocol !== PROTOCOL_VERSION) throw new Error('unhealthy');
  }

  async function check(member: Member): Promise<void> {
    if (member.checking) return;
    member.checking = true;
    try {
      if (!member.seen) {
        // Coming up: the token is checked once through an authenticated call.
        await healthy(member);
        await member.capabilities();
        member.seen = true;
        log.info('worker up', { worker: member.spec.url, slots: member.spec.slots });
        void pump();
        return;
      }
      await member.breaker.execute(async () => {
        const comingBack = member.breaker.state !== CircuitState.Closed;
        try {
          await healthy(member);
          if (comingBack) await member.capabilities();
          member.missed = 0;
        } catch (error) {
          member.missed += 1;
          if (comingBack || member.missed >= 2) throw error;
        }
      });
    } catch (error) {
      // An open breaker still cooling down refuses the check; any other failure was counted by the breaker.
      if (!(error instanceof BrokenCircuitError) && member.seen) log.warn('worker health check failed', { worker: member.spec.url });
    } finally {
      member.checking = false;
    }
  }

  /** The run the worker lost opens its breaker (a failure recorded through it). */
  function lost(member: Member): void {
    void member.breaker
      .execute(() => {
        throw new Error('the worker lost a run');
      })
      .catch(() => undefined);
  }

  const checkAll = () => Promise.all(members.map(check));

  function freeMember(): Member | null {
    let best: Member | null = null;
    for (const member of members) {
      if (!isUp(member) || member.busy >= member.spec.slots) continue;
      // The least loaded worker, relative to its size.
      if (!best || member.busy / member.spec.slots < best.busy / best.spec.slots) best = member;
    }
    return best;
  }

  async function fill(): Promise<void> {
    while (accepting) {
      const member = freeMember();
      if (!member) return;
      const job = await transitions.claim(db, { owner: options.owner, ms: options.leaseMs }, clock(), { nativeOnly: !options.anyEngine });
      if (!job) return;
      member.busy += 1;
      log.info('job sent to worker', { job_id: job.id, worker: member.spec.url, attempt: job.attempts });
      const attempt = options.run(job, running.shutdown, member.endpoint).then((outcome) => {
        if (outcome.status === 'failed' && outcome.code === 'ENGINE_UNAVAILABLE') lost(member);
      });
      running.add(job.id, attempt, () => {
        member.busy -= 1;
        void pump();
      });
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
      await running.drain(graceMs);
    },
    running: () => running.size(),
    status: () =>
      members.map((m) => ({
        url: m.spec.url,
        slots: m.spec.slots,
        busy: m.busy,
        state: isUp(m) ? ('up' as const) : ('down' as const),
        retry_at: isUp(m) ? null : m.retryAt,
      })),
    readiness: {
      name: 'workers',
      async check() {
        if (!members.some(isUp)) throw new Error('no worker available');
      },
    },
    async capabilities() {
      for (const member of members.filter(isUp)) {
        try {
          return await member.capabilities();
        } catch {
          // try the next one
        }
      }
      return null;
    },
  };
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
