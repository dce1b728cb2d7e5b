/**
 * The RateLimiter Durable Object (one token bucket per API key, shared by every Worker instance) and the headers
 * the API sends from its decisions.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createKey } from '../../src/security/api-keys.js';
import { createWorkerApp } from '../../src/runtime/worker-platform.js';

function limiter(name: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name));
}

describe('RateLimiter', () => {
  it('allows up to the capacity, then refuses with a retry time', async () => {
    const stub = limiter(crypto.randomUUID());
    const decisions = [];
    for (let i = 0; i < 5; i++) decisions.push(await stub.take(1, 3, 60));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
    expect(decisions[0]).toMatchObject({ limit: 3, remaining: 2, retryAfterS: 0, windowS: 60 });
    expect(decisions[2]).toMatchObject({ remaining: 0 });
    // One token comes back every 20 s.
    expect(decisions[3]).toMatchObject({ allowed: false, remaining: 0, retryAfterS: 20 });
  });

  it('charges the cost, and a cost larger than what is left is refused without spending', async () => {
    const stub = limiter(crypto.randomUUID());
    expect(await stub.take(7, 10, 10)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await stub.take(5, 10, 10)).toMatchObject({ allowed: false, remaining: 3 });
    expect(await stub.take(3, 10, 10)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('keeps one bucket per key, in the object’s storage', async () => {
    const name = crypto.randomUUID();
    for (let i = 0; i < 2; i++) await limiter(name).take(1, 2, 60);
    expect((await limiter(name).take(1, 2, 60)).allowed).toBe(false);
    expect((await limiter(crypto.randomUUID()).take(1, 2, 60)).allowed).toBe(true);
    const stored = await runInDurableObject(limiter(name), (_, state) => state.storage.kv.get<{ tokens: number }>('bucket'));
    expect(stored?.tokens).toBeLessThan(1);
  });

  it('audit #10: the API sends RateLimit-Policy and RateLimit, and 429 with Retry-After past the limit', async () => {
    // The Worker's own platform and app over the same bindings, with a small limit instead of the suite's 1000000.
    // An upload costs 5 tokens, so a bucket of 10 takes two.
    const { app, platform } = createWorkerApp({ ...env, FFEDGE_RATE_LIMIT: '10', FFEDGE_RATE_WINDOW_S: '60' });
    const { key } = await createKey(platform.db, { name: 'limited', now: Date.now() });
    const upload = () =>
      app.request(
        'https://ffedge.test/api/v1/uploads?filename=a.bin',
        { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: new Uint8Array([1, 2, 3]) },
        env,
      );

    for (const remaining of [5, 0]) {
      const res = await upload();
      expect(res.status).toBe(201);
      expect(res.headers.get('ratelimit-policy')).toBe('"default";q=10;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"default";r=${remaining};t=\\d+$`));
      expect(res.headers.get('retry-after')).toBeNull();
    }
    const refused = await upload();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await refused.json()) as { code: string }).code).toBe('RATE_LIMITED');
    // Five tokens at one per 6 s.
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.headers.get('ratelimit-policy')).toBe('"default";q=10;w=60');
    expect(refused.headers.get('ratelimit')).toBe('"default";r=0;t=30');
  });

  it('audit #10: without a key, /capabilities and failed authentications are limited per CF-Connecting-IP, and the engine build is hidden', async () => {
    const { app, platform } = createWorkerApp({ ...env, FFEDGE_RATE_LIMIT: '2', FFEDGE_RATE_WINDOW_S: '60' });
    // Cloudflare's edge sets CF-Connecting-IP; X-Forwarded-For is the client's own and changes nothing.
    const from = (ip: string, path: string, headers: Record<string, string> = {}) =>
      app.request(`https://ffedge.test${path}`, { headers: { 'cf-connecting-ip': ip, 'x-forwarded-for': crypto.randomUUID(), ...headers } }, env);

    for (let i = 0; i < 2; i++) {
      const res = await from('198.51.100.7', '/api/v1/capabilities');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60');
      const body = (await res.json()) as { engines: Record<string, unknown>[] };
      expect(body.engines.length).toBeGreaterThan(0);
      for (const engine of body.engines) expect(engine).not.toHaveProperty('version');
    }
    const refused = await from('198.51.100.7', '/api/v1/capabilities');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(((await refused.json()) as { code: string }).code).toBe('RATE_LIMITED');

    // A failed authentication from the same address is charged to the same bucket.
    expect((await from('198.51.100.7', '/api/v1/jobs', { authorization: 'Bearer nope' })).status).toBe(429);
    // Another address has its own.
    const other = await from('198.51.100.8', '/api/v1/jobs', { authorization: 'Bearer nope' });
    expect(other.status).toBe(401);
    expect(other.headers.get('ratelimit')).toMatch(/^"default";r=1;t=\d+$/);

    // With a key, the key's bucket, and the build string.
    const { key } = await createKey(platform.db, { name: 'caps', now: Date.now() });
    const withKey = await from('198.51.100.7', '/api/v1/capabilities', { authorization: `Bearer ${key}` });
    expect(withKey.status).toBe(200);
    const engines = ((await withKey.json()) as { engines: { version?: string }[] }).engines;
    expect(engines.every((e) => typeof e.version === 'string')).toBe(true);
  });
});
