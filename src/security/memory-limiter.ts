import type { Limits } from '../config.js';
import type { Limiter } from '../platform.js';
import { takeTokens, type Bucket } from './token-bucket.js';

/** Node and Deno: one bucket per key in this process (one process owns a key's traffic behind sticky routing). */
export function createMemoryLimiter(clock: () => number = Date.now): Limiter {
  const buckets = new Map<string, Bucket>();
  return {
    async take(apiKeyId: string, cost: number, limits: Limits) {
      const { bucket, decision } = takeTokens(buckets.get(apiKeyId), cost, limits.requests, limits.windowS, clock());
      buckets.set(apiKeyId, bucket);
      return decision;
    },
  };
}
