import type { Limits } from '../config.js';
import type { Limiter } from '../platform.js';
import { takeTokens, type Bucket } from './token-bucket.js';

/** How many takes pass between sweeps of buckets that have refilled. */
const SWEEP_EVERY = 1024;

/**
 * Node and Deno: one bucket per key or client address in this process (one process owns a key's traffic behind
 * sticky routing). Client addresses are unbounded in number, so a bucket untouched for a whole window, which has
 * refilled and is then the same as no bucket, is dropped.
 */
export function createMemoryLimiter(clock: () => number = Date.now): Limiter {
  const buckets = new Map<string, { bucket: Bucket; windowMs: number }>();
  let takes = 0;
  return {
    async take(bucketId: string, cost: number, limits: Limits) {
      const now = clock();
      if (++takes % SWEEP_EVERY === 0) {
        for (const [id, entry] of buckets) if (now - entry.bucket.updatedAt >= entry.windowMs) buckets.delete(id);
      }
      const { bucket, decision } = takeTokens(buckets.get(bucketId)?.bucket, cost, limits.requests, limits.windowS, now);
      buckets.set(bucketId, { bucket, windowMs: limits.windowS * 1000 });
      return decision;
    },
  };
}
