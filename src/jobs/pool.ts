/**
 * The in-process pool of Node and Deno: claims queued jobs while it has free slots, sweeps expired leases, and on
 * shutdown stops claiming, lets running jobs finish for a grace period, then gives the rest back to the queue.
 */
import type { Db } from '../db/client.js';
import type { Job } from '../db/schema.js';
import type { Dispatch, Logger } from '../platform.js';
import { createRunning, serialPump } from './pump.js';
import * as transitions from './transitions.js';

export interface PoolOptions {
  db: Db;
  size: number;
  owner: string;
  leaseMs: number;
  sweepIntervalMs: number;
  clock: () => number;
  log: Logger;
  /** Runs one claimed job (the attempt pipeline); `shutdown` aborts when the stop's grace period is over. */
  run: (job: Job, shutdown: AbortSignal) => Promise<unknown>;
  /** Called after a sweep changed jobs, so live streams can be told. */
  changed?: (jobIds: string[]) => Promise<void>;
}

export interface Pool extends Dispatch {
  start(): void;
  /** Resolves once no job of this pool is running. */
  stop(graceMs: number): Promise<void>;
  running(): number;
}

export function createPool(options: PoolOptions): Pool {
  const { db, owner, clock, log } = options;
  const running = createRunning(log, 'running jobs');
  let accepting = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  async function fill(): Promise<void> {
    while (accepting && running.size() < options.size) {
      const job = await transitions.claim(db, { owner, ms: options.leaseMs }, clock());
      if (!job) return;
      running.add(job.id, options.run(job, running.shutdown), () => void pump());
    }
  }

  const pump = serialPump(fill, () => accepting, (error) => log.error('claim failed', { error: String(error) }));

  async function sweep(): Promise<void> {
    const changed = await transitions.sweep(db, clock());
    if (changed.length > 0) {
      log.warn('expired leases swept', { jobs: changed.map((j) => `${j.id}:${j.status}`) });
      await options.changed?.(changed.map((j) => j.id));
    }
  }

  return {
    async queued() {
      void pump();
    },
    start() {
      accepting = true;
      timer = setInterval(() => {
        void sweep()
          .catch((error) => log.error('sweep failed', { error: String(error) }))
          .then(pump);
      }, options.sweepIntervalMs);
      void sweep().catch(() => undefined).then(pump);
    },
    async stop(graceMs) {
      accepting = false;
      clearInterval(timer);
      await pump.settled();
      await running.drain(graceMs);
    },
    running: () => running.size(),
  };
}
