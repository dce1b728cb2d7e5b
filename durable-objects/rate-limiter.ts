/**
 * RateLimiter: one Durable Object per API key (idFromName(apiKeyId)), or per client address for traffic without a
 * key (idFromName('addr:<address>')), the Workers side of the Limiter port.
 *
 * A Durable Object runs one event at a time and the synchronous SQLite-backed KV API cannot interleave, so the
 * read-modify-write of the bucket is atomic per key across every Worker instance, which an in-isolate map is not.
 * The algorithm is the one Node's in-process limiter uses (src/security/token-bucket.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import type { RateDecision } from '../src/platform.js';
import { takeTokens, type Bucket } from '../src/security/token-bucket.js';

const BUCKET = 'bucket';

export class RateLimiter extends DurableObject {
  /** Charges `cost` tokens of a bucket of `capacity` tokens refilled over `windowS` seconds. */
  async take(cost: number, capacity: number, windowS: number): Promise<RateDecision> {
    if (!(cost >= 0 && capacity >= 1 && windowS >= 1)) throw new RangeError('rate limiter: bad cost, capacity or window');
    const kv = this.ctx.storage.kv;
    const { bucket, decision } = takeTokens(kv.get<Bucket>(BUCKET), cost, capacity, windowS, Date.now());
    kv.put(BUCKET, bucket);
    return decision;
  }
}
