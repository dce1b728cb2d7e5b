/**
 * The coordinator of a single Node or Deno process: per-job notification latches. Jobs run by another process are
 * seen through the database, which live streams re-read on a short poll (config.eventPollMs).
 */
import type { Coordinator, Subscription } from '../platform.js';

interface Waiter {
  changed: boolean;
  wake: (() => void) | null;
}

export interface LocalCoordinator extends Coordinator {
  /** Open subscriptions, for tests that prove dropped clients free theirs (audit #24). */
  subscriptions(): number;
}

export function createLocalCoordinator(): LocalCoordinator {
  const waiters = new Map<string, Set<Waiter>>();

  function remove(jobId: string, waiter: Waiter) {
    const set = waiters.get(jobId);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) waiters.delete(jobId);
  }

  return {
    async notify(jobId) {
      for (const waiter of waiters.get(jobId) ?? []) {
        waiter.changed = true;
        waiter.wake?.();
      }
    },

    async subscribe(jobId, signal): Promise<Subscription> {
      const waiter: Waiter = { changed: false, wake: null };
      const set = waiters.get(jobId) ?? new Set<Waiter>();
      set.add(waiter);
      waiters.set(jobId, set);
      const close = () => {
        remove(jobId, waiter);
        waiter.wake?.();
      };
      signal.addEventListener('abort', close, { once: true });
      return {
        next(timeoutMs) {
          if (waiter.changed || signal.aborted) {
            const changed = waiter.changed;
            waiter.changed = false;
            return Promise.resolve(changed);
          }
          return new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => done(), timeoutMs);
            const done = () => {
              clearTimeout(timer);
              waiter.wake = null;
              const changed = waiter.changed;
              waiter.changed = false;
              resolve(changed);
            };
            waiter.wake = done;
          });
        },
        close() {
          signal.removeEventListener('abort', close);
          close();
        },
      };
    },

    subscriptions() {
      let count = 0;
      for (const set of waiters.values()) count += set.size;
      return count;
    },
  };
}
