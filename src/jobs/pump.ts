/**
 * What the claiming loops (the in-process pool, pool.ts, and the worker fleet, fleet.ts) share: a fill that runs one
 * at a time, and the set of attempts they run with its graceful stop.
 */
import type { Logger } from '../platform.js';

/**
 * A request to pump during a fill runs exactly one more fill after it, so no queued job waits for the next poll and
 * no two fills race.
 */
export interface Pump {
  (): Promise<void>;
  /** Resolves when no fill is running. */
  settled(): Promise<void>;
}

export function serialPump(fill: () => Promise<void>, accepting: () => boolean, onError: (error: unknown) => void): Pump {
  let pumping: Promise<void> | null = null;
  let again = false;
  const pump = (() => {
    if (pumping) {
      again = true;
      return pumping;
    }
    pumping = (async () => {
      do {
        again = false;
        await fill().catch(onError);
      } while (again && accepting());
      pumping = null;
    })();
    return pumping;
  }) as Pump;
  pump.settled = async () => {
    await pumping;
  };
  return pump;
}

/** The attempts a loop runs, by job id; `shutdown` aborts when a stop's grace period is over. */
export interface Running {
  readonly shutdown: AbortSignal;
  /** Tracks an attempt until it settles; `after` runs then (free a slot, pump again). */
  add(jobId: string, attempt: Promise<unknown>, after: () => void): void;
  size(): number;
  /**
   * Waits for every attempt for up to `graceMs`, then aborts `shutdown` (the attempts give their jobs back to the
   * queue) and waits for them to settle.
   */
  drain(graceMs: number): Promise<void>;
}

export function createRunning(log: Logger, what: string): Running {
  const running = new Map<string, Promise<void>>();
  const shutdown = new AbortController();
  return {
    shutdown: shutdown.signal,
    add(jobId, attempt, after) {
      running.set(
        jobId,
        attempt
          .then(() => undefined)
          .catch((error: unknown) => log.error('runner crashed', { job_id: jobId, error: error instanceof Error ? error.stack : String(error) }))
          .finally(() => {
            running.delete(jobId);
            after();
          }),
      );
    },
    size: () => running.size,
    async drain(graceMs) {
      const all = Promise.allSettled([...running.values()]);
      const graceOver = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref?.());
      if ((await Promise.race([all, graceOver])) === 'timeout') {
        log.warn(`shutdown grace period over; returning ${what} to the queue`, { jobs: [...running.keys()] });
        shutdown.abort();
        await all;
      }
    },
  };
}
