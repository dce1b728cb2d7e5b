import { describe, expect, it } from 'vitest';
import { rateLimitHeaders, takeTokens, type Bucket } from '../../../src/security/token-bucket.js';

describe('token bucket', () => {
  it('allows up to capacity, then refuses with the time until enough tokens return', () => {
    let bucket: Bucket | undefined;
    const decisions = [];
    for (let i = 0; i < 4; i++) {
      const r = takeTokens(bucket, 1, 3, 60, 0);
      bucket = r.bucket;
      decisions.push(r.decision);
    }
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions[3]).toMatchObject({ remaining: 0, retryAfterS: 20, limit: 3, windowS: 60 });
    expect(takeTokens(bucket, 1, 3, 60, 20_000).decision.allowed).toBe(true);
  });

  it('charges a per-endpoint cost and never refills past capacity', () => {
    const first = takeTokens(undefined, 10, 12, 60, 0);
    expect(first.decision).toMatchObject({ allowed: true, remaining: 2 });
    const second = takeTokens(first.bucket, 10, 12, 60, 1_000);
    expect(second.decision.allowed).toBe(false);
    expect(takeTokens(second.bucket, 1, 12, 60, 10 ** 9).decision.remaining).toBe(11);
  });

  it('formats the IETF RateLimit headers', () => {
    const { decision } = takeTokens(undefined, 1, 100, 60, 0);
    expect(rateLimitHeaders(decision)).toEqual({ 'ratelimit-policy': '"default";q=100;w=60', ratelimit: '"default";r=99;t=1' });
  });
});
