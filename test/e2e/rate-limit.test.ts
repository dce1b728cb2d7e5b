/**
 * The Node (and Deno) in-process rate limiter over real HTTP, with a small limit instead of the 1,000,000 every
 * other test server sets (audit #10): keys by their id, and traffic without a valid key by the client's address,
 * which is the socket's unless the operator names a proxy header. Requests go out from different loopback
 * addresses to be different clients (test/helpers/http-from.ts); deno.test.ts does the same against Deno.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getFrom, type Answer } from '../helpers/http-from.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

const LIMIT = { FFEDGE_RATE_LIMIT: '3', FFEDGE_RATE_WINDOW_S: '60', FFEDGE_POOL_SIZE: '0' };

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const get = (path: string, options: { from?: string; headers?: Record<string, string> } = {}) => getFrom(server!.url + path, options);

function expectRefused(answer: Answer, detail: RegExp): void {
  expect(answer.status).toBe(429);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  expect(answer.body.detail).toMatch(detail);
  // One token per 20 s.
  expect(answer.headers['retry-after']).toBe('20');
  expect(answer.headers['ratelimit-policy']).toBe('"default";q=3;w=60');
  expect(answer.headers['ratelimit']).toBe('"default";r=0;t=20');
}

describe('rate limits over HTTP on Node', () => {
  it('audit #10: a key gets RateLimit headers on every response, then 429 with Retry-After past the limit', async () => {
    server = await startTestServer(LIMIT, { start: false });
    const auth = { authorization: `Bearer ${await server.key()}` };
    for (const remaining of [2, 1, 0]) {
      const answer = await get('/api/v1/jobs', { headers: auth });
      expect(answer.status).toBe(200);
      expect(answer.headers['ratelimit-policy']).toBe('"default";q=3;w=60');
      expect(answer.headers['ratelimit']).toMatch(new RegExp(`^"default";r=${remaining};t=\\d+$`));
      expect(answer.headers['retry-after']).toBeUndefined();
    }
    // The key's bucket, wherever the key comes from.
    expectRefused(await get('/api/v1/jobs', { headers: auth, from: '127.0.0.2' }), /for this key/);
  });

  it('audit #10: failed authentications are limited by the client address, which no request header can change', async () => {
    server = await startTestServer(LIMIT, { start: false });
    const wrong = { authorization: `Bearer ffe_${'a'.repeat(16)}_${'A'.repeat(43)}` };
    for (const [i, remaining] of [2, 1, 0].entries()) {
      // A different X-Forwarded-For each time: not trusted unless configured, so still one client.
      const answer = await get('/api/v1/jobs', { from: '127.0.0.2', headers: { ...wrong, 'x-forwarded-for': `198.51.100.${i}` } });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(answer.headers['ratelimit']).toMatch(new RegExp(`^"default";r=${remaining};t=\\d+$`));
    }
    expectRefused(await get('/api/v1/jobs', { from: '127.0.0.2', headers: { ...wrong, 'x-forwarded-for': '198.51.100.9' } }), /from this address/);
    // No key at all is a failed authentication too.
    expectRefused(await get('/api/v1/jobs', { from: '127.0.0.2' }), /from this address/);

    // Another address has its own budget, and a valid key from the refused address is limited by its key only.
    expect((await get('/api/v1/jobs', { from: '127.0.0.3', headers: wrong })).status).toBe(401);
    expect((await get('/api/v1/jobs', { from: '127.0.0.2', headers: { authorization: `Bearer ${await server.key()}` } })).status).toBe(200);
  });

  it('audit #10: /capabilities without a key is limited by address and does not reveal the engine build; with a key it does', async () => {
    server = await startTestServer(LIMIT, { start: false });
    for (let i = 0; i < 3; i++) {
      const answer = await get('/api/v1/capabilities', { from: '127.0.0.4' });
      expect(answer.status).toBe(200);
      expect(answer.headers['ratelimit-policy']).toBe('"default";q=3;w=60');
      const engines = answer.body.engines as Record<string, unknown>[];
      expect(engines.length).toBeGreaterThan(0);
      for (const engine of engines) expect(engine).not.toHaveProperty('version');
      expect(JSON.stringify(answer.body)).not.toMatch(/ffmpeg version|Copyright|--enable-/);
    }
    expectRefused(await get('/api/v1/capabilities', { from: '127.0.0.4' }), /from this address/);
    // The OpenAPI document is public in the same way.
    expectRefused(await get('/api/v1/openapi.json', { from: '127.0.0.4' }), /from this address/);

    const withKey = await get('/api/v1/capabilities', { from: '127.0.0.4', headers: { authorization: `Bearer ${await server.key()}` } });
    expect(withKey.status).toBe(200);
    const native = (withKey.body.engines as { name: string; version?: string }[]).find((e) => e.name === 'native');
    expect(native?.version).toMatch(/\d/);
    // A key that does not authenticate is a 401, not a quiet anonymous answer.
    expect((await get('/api/v1/capabilities', { from: '127.0.0.5', headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('audit #10: behind a proxy named in FFEDGE_TRUSTED_PROXY_HEADER, the client is the last address that header lists', async () => {
    server = await startTestServer({ ...LIMIT, FFEDGE_TRUSTED_PROXY_HEADER: 'X-Forwarded-For' }, { start: false });
    // Every request comes from the proxy's one socket address; the proxy appends the client it saw.
    const through = (client: string, spoofed = '192.0.2.1') => get('/api/v1/capabilities', { headers: { 'x-forwarded-for': `${spoofed}, ${client}` } });
    for (let i = 0; i < 3; i++) expect((await through('203.0.113.10', `192.0.2.${i}`)).status).toBe(200);
    expectRefused(await through('203.0.113.10'), /from this address/);
    expect((await through('203.0.113.11')).status).toBe(200);
  });
});
