/**
 * The rate limiting algorithm, shared by Node's in-process limiter and the RateLimiter Durable Object: a token bucket
 * of `capacity` tokens refilled evenly over `windowS`, where each request costs a number of tokens.
 */
import type { RateDecision } from '../platform.js';

export interface Bucket {
  tokens: number;
  updatedAt: number;
}

export function takeTokens(
  bucket: Bucket | undefined,
  cost: number,
  capacity: number,
  windowS: number,
  now: number,
): { bucket: Bucket; decision: RateDecision } {
  const ratePerMs = capacity / (windowS * 1000);
  const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) : 0;
  const available = bucket ? Math.min(capacity, bucket.tokens + elapsed * ratePerMs) : capacity;
  const allowed = cost <= available;
  const tokens = allowed ? available - cost : available;
  const missing = Math.max(0, cost - available);
  return {
    bucket: { tokens, updatedAt: now },
    decision: {
      allowed,
      limit: capacity,
      remaining: Math.floor(tokens),
      resetS: Math.ceil((capacity - tokens) / ratePerMs / 1000),
      retryAfterS: allowed ? 0 : Math.max(1, Math.ceil(missing / ratePerMs / 1000)),
      windowS,
    },
  };
}

/** IETF draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy and RateLimit. */
export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  return {
    'ratelimit-policy': `"default";q=${d.limit};w=${d.windowS}`,
    ratelimit: `"default";r=${d.remaining};t=${d.allowed ? d.resetS : d.retryAfterS}`,
  };
}
