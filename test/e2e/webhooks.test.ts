/**
 * Webhooks on the real Node service, to a real HTTPS receiver (test/helpers/webhook-receiver.ts), every delivery
 * verified with the standardwebhooks package's own `verify`: the events of the one event log with its ids, in order;
 * retries with backoff and jitter within their bounds (time compressed through config); giving up at the cap; 410;
 * a slow receiver; a 5 MB answer; replay; the test ping; secret rotation; safe payloads; the SSRF guard at submission.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../../src/security/api-keys.js';
import { client, type JobView } from '../helpers/api.js';
import { makeClip, run } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { freePort, startServerProcess } from '../helpers/process.js';
import { readEvents } from '../helpers/sse.js';
import { startReceiver, type Receiver, type Received } from '../helpers/webhook-receiver.js';

const BASE_MS = 60;
const CAP_MS = 480;

let receiver: Receiver;
let server: TestServer;
let api: ReturnType<typeof client>;
let secret: string;
let input: string;

beforeAll(async () => {
  receiver = await startReceiver(await mkdtemp(join(tmpdir(), 'ffedge-webhooks-')));
  server = await startTestServer({
    FFEDGE_OUTBOUND_ALLOW_LOOPBACK: '1',
    FFEDGE_OUTBOUND_PORTS: '*',
    FFEDGE_OUTBOUND_CA_FILE: receiver.caFile,
    FFEDGE_OUTBOUND_TIMEOUT_MS: '1500',
    FFEDGE_WEBHOOK_BACKOFF_MS: String(BASE_MS),
    FFEDGE_WEBHOOK_BACKOFF_CAP_MS: String(CAP_MS),
    FFEDGE_WEBHOOK_POLL_MS: '50',
    FFEDGE_BREAKER_FAILURES: '1000',
    FFEDGE_POOL_SIZE: '1',
    FFEDGE_WASM_THREADS: '0',
    FFEDGE_CONCURRENT_JOBS: '50',
  });
  const created = await createKey(server.platform.db, { name: 'hooks', now: Date.now() });
  secret = created.webhookSecret;
  api = client(server, created.key);
  const clip = join(server.dir, 'clip.mp4');
  await makeClip(clip, { seconds: 1, size: '160x120', audio: false });
  input = await api.upload(clip);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

const post = (path: string, body: unknown) =>
  server.fetch(`/api/v1${path}`, { method: 'POST', headers: api.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });

/** A probe job whose webhook goes to `path` on the receiver. */
async function probeWith(path: string, events?: string[]): Promise<JobView> {
  const res = await post('/probe', { input, webhook_url: `${receiver.origin}${path}`, ...(events ? { webhook_events: events } : {}) });
  expect(res.status, await res.clone().text()).toBeLessThan(300);
  return (await res.json()) as JobView;
}

/** The request as the receiver got it, verified with the package receivers use; the parsed payload. */
function verified(request: Received, withSecret = secret): { type: string; timestamp: string; data: Record<string, any> } {
  return new Webhook(withSecret).verify(request.body, {
    'webhook-id': request.headers['webhook-id']!,
    'webhook-timestamp': request.headers['webhook-timestamp']!,
    'webhook-signature': request.headers['webhook-signature']!,
  }) as { type: string; timestamp: string; data: Record<string, any> };
}

async function deliveries(jobId: string): Promise<any[]> {
  const res = await server.fetch(`/api/v1/jobs/${jobId}/webhooks`, { headers: api.headers() });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: any[] }).items;
}

async function settled(jobId: string, count: number, timeoutMs = 20_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = await deliveries(jobId);
    if (items.length >= count && items.every((d) => d.status !== 'pending')) return items;
    if (Date.now() > deadline) throw new Error(`deliveries not settled: ${JSON.stringify(items.map((d) => [d.event, d.status, d.attempts]))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('webhooks', () => {
  it('delivers the events of the job’s event log, in order, signed, with the SSE event ids', async () => {
    const job = await probeWith('/ordered', ['job.queued', 'job.started', 'job.completed']);
    const got = await receiver.waitFor('/ordered', 3);
    const payloads = got.map((r) => verified(r));
    expect(payloads.map((p) => p.type)).toEqual(['job.queued', 'job.started', 'job.completed']);
    expect(payloads.every((p) => p.data.id === job.id && p.data.kind === 'probe')).toBe(true);
    const done = payloads[2]!.data;
    expect(done).toMatchObject({ status: 'completed', error: null, links: { self: `/api/v1/jobs/${job.id}` } });
    // The webhook ids are the events' ids: a receiver that missed one catches up with Last-Event-ID.
    const events = await readEvents(await server.fetch(`/api/v1/jobs/${job.id}/events`, { headers: api.headers() }), (e) => e.event === 'done');
    const statusIds = events.filter((e) => e.event === 'status').map((e) => e.id);
    expect(got.map((r) => r.headers['webhook-id'])).toEqual(statusIds);
    expect(got.every((r) => r.headers['user-agent'] === 'ffedge-webhooks/1' && r.headers['content-type'] === 'application/json')).toBe(true);
    const log = await settled(job.id, 3);
    expect(log.map((d) => [d.event, d.status, d.attempts, d.log.length, d.log[0].status_code])).toEqual([
      ['job.queued', 'delivered', 1, 1, 204],
      ['job.started', 'delivered', 1, 1, 204],
      ['job.completed', 'delivered', 1, 1, 204],
    ]);
  });

  it('by default sends how the job ended, and only that', async () => {
    const job = await probeWith('/default');
    const [only] = await receiver.waitFor('/default', 1);
    expect(verified(only!).type).toBe('job.completed');
    await settled(job.id, 1);
    expect(receiver.received.filter((r) => r.path === '/default')).toHaveLength(1);
  });

  it('audit #12: a receiver down for three attempts gets the delivery once, at the fourth, after growing backoffs with jitter', async () => {
    receiver.on('/down', (_request, count) => ({ status: count < 3 ? 503 : 200 }));
    const job = await probeWith('/down');
    const [delivery] = await settled(job.id, 1);
    expect(delivery).toMatchObject({ event: 'job.completed', status: 'delivered', attempts: 4 });
    expect(delivery.log.map((a: any) => a.status_code)).toEqual([503, 503, 503, 200]);
    const got = receiver.received.filter((r) => r.path === '/down');
    expect(got).toHaveLength(4);
    // The same message every time: one id, one body.
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    // Each wait is within its bound (full jitter: [0, min(cap, base * 2^(n-1)))), plus the dispatcher's poll.
    for (let n = 1; n < got.length; n++) {
      const wait = got[n]!.at - got[n - 1]!.at;
      expect(wait).toBeLessThan(Math.min(CAP_MS, BASE_MS * 2 ** (n - 1)) + 400);
      const planned = new Date(delivery.log[n - 1].next_attempt_at).getTime() - new Date(delivery.log[n - 1].at).getTime();
      expect(planned).toBeLessThanOrEqual(Math.min(CAP_MS, BASE_MS * 2 ** (n - 1)) + delivery.log[n - 1].duration_ms);
    }
  });

  it('audit #12: a receiver that answers 500 forever is tried 8 times, then given up, with every attempt in the log', async () => {
    receiver.on('/broken', () => ({ status: 500 }));
    const job = await probeWith('/broken');
    const [delivery] = await settled(job.id, 1, 30_000);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 8, next_attempt_at: null, last_status_code: 500 });
    expect(delivery.log.map((a: any) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(delivery.log.every((a: any) => a.status_code === 500)).toBe(true);
    expect(delivery.log.at(-1).next_attempt_at).toBeNull();
    expect(delivery.log.slice(0, -1).every((a: any) => a.next_attempt_at !== null)).toBe(true);
    expect(receiver.received.filter((r) => r.path === '/broken')).toHaveLength(8);
  }, 60_000);

  it('410 Gone stops the job’s deliveries: the one answered and every later one', async () => {
    receiver.on('/gone', () => ({ status: 410 }));
    const job = await probeWith('/gone', ['job.queued', 'job.started', 'job.completed']);
    const log = await settled(job.id, 1);
    await api.waitFor(job.id, ['completed']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const final = await deliveries(job.id);
    expect(final[0]).toMatchObject({ event: 'job.queued', status: 'stopped', attempts: 1, last_status_code: 410 });
    expect(final.slice(1).every((d) => d.status === 'stopped' && d.attempts === 0)).toBe(true);
    expect(log.length).toBeGreaterThanOrEqual(1);
    expect(receiver.received.filter((r) => r.path === '/gone')).toHaveLength(1);
  });

  it('a slow receiver times out (an attempt, retried), and a 5 MB answer is read only up to the cap', async () => {
    receiver.on('/slow', (_request, count) => (count === 0 ? { status: 200, delayMs: 5_000 } : { status: 200 }));
    receiver.on('/talkative', () => ({ status: 200, bodyBytes: 5 * 1024 * 1024 }));
    const [slow, talkative] = await Promise.all([probeWith('/slow'), probeWith('/talkative')]);
    const [timedOut] = await settled(slow.id, 1);
    expect(timedOut.log.map((a: any) => [a.status_code, a.error])).toEqual([
      [null, 'timeout'],
      [200, null],
    ]);
    expect(timedOut.log[0].duration_ms).toBeLessThan(4_000);
    const [read] = await settled(talkative.id, 1);
    expect(read).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(read.log[0].duration_ms).toBeLessThan(2_000);
  });

  it('replay sends the same messages again, with the same ids and bodies', async () => {
    const job = await probeWith('/replay');
    await settled(job.id, 1);
    const [first] = await receiver.waitFor('/replay', 1);
    const res = await post(`/jobs/${job.id}/webhooks/replay`, {});
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ replayed: 1 });
    const [, again] = await receiver.waitFor('/replay', 2);
    expect(again!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(again!.body).toBe(first!.body);
    verified(again!);
    const one = await post(`/jobs/${job.id}/webhooks/replay`, { event_id: Number(first!.headers['webhook-id']) });
    expect(await one.json()).toEqual({ replayed: 1 });
    expect((await post(`/jobs/${job.id}/webhooks/replay`, { event_id: 999_999_999 })).status).toBe(404);
  });

  it('POST /webhooks/test sends a signed ping and says what the receiver answered', async () => {
    receiver.on('/ping-refused', () => ({ status: 401 }));
    const res = await post('/webhooks/test', { url: `${receiver.origin}/ping` });
    expect(res.status).toBe(200);
    const result = (await res.json()) as { delivered: boolean; webhook_id: string; status_code: number };
    expect(result).toMatchObject({ delivered: true, status_code: 204 });
    const [ping] = await receiver.waitFor('/ping', 1);
    expect(ping!.headers['webhook-id']).toBe(result.webhook_id);
    expect(verified(ping!).type).toBe('webhook.ping');
    expect(await (await post('/webhooks/test', { url: `${receiver.origin}/ping-refused` })).json()).toMatchObject({ delivered: false, status_code: 401 });
    expect(await (await post('/webhooks/test', { url: 'https://127.0.0.1:1/closed' })).json()).toMatchObject({ delivered: false, status_code: null, error: 'connect' });
  });

  it('a rotated secret keeps signing beside the new one for the overlap, then only the new one signs', async () => {
    const rotate = async (body: unknown) => {
      const res = await post('/webhooks/secret', body);
      expect(res.status).toBe(201);
      return (await res.json()) as { secret: string; previous_valid_until: string | null };
    };
    const old = secret;
    const rotated = await rotate({ overlap_s: 3600 });
    expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(new Date(rotated.previous_valid_until!).getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    const job = await probeWith('/rotated');
    const [got] = await receiver.waitFor('/rotated', 1);
    expect(got!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    verified(got!, old);
    verified(got!, rotated.secret);
    await settled(job.id, 1);
    // No overlap: the old secret stops at once.
    const fresh = await rotate({ overlap_s: 0 });
    expect(fresh.previous_valid_until).toBeNull();
    secret = fresh.secret;
    await probeWith('/fresh');
    const [only] = await receiver.waitFor('/fresh', 1);
    expect(only!.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    verified(only!, fresh.secret);
    expect(() => verified(only!, rotated.secret)).toThrow();
  });

  it('audit #9: the payload of a job that failed inside ffmpeg has its code and safe message, no log, no path', async () => {
    // A clip whose last two thirds are noise (its index first, so ffprobe still reads it): ffmpeg fails decoding it.
    const good = join(server.dir, 'faststart.mp4');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '2', '-c:v', 'libx264', '-movflags', '+faststart', good]);
    const bytes = new Uint8Array(await readFile(good));
    for (let i = Math.floor(bytes.length / 3); i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
    const broken = join(server.dir, 'broken.mp4');
    await writeFile(broken, bytes);
    await run('ffprobe', ['-v', 'error', broken]);
    const upload = await api.upload(broken);
    const res = await post('/convert', { input: upload, output: { format: 'mp4' }, options: { stream_copy: 'never' }, webhook_url: `${receiver.origin}/failed` });
    expect(res.status).toBe(202);
    const job = (await res.json()) as JobView;
    const [got] = await receiver.waitFor('/failed', 1, 30_000);
    const payload = verified(got!);
    expect(payload.type).toBe('job.failed');
    expect(payload.data.error).toEqual({ code: 'FFMPEG_FAILED', message: expect.any(String) });
    const logs = await (await server.fetch(`/api/v1/jobs/${job.id}/logs`, { headers: api.headers() })).text();
    expect(logs).toMatch(/Invalid data|NAL|error/i);
    for (const leak of [server.dir, '/tmp', 'NAL', 'Invalid data', 'at ', logs.slice(0, 40)]) expect(got!.body).not.toContain(leak);
    expect(Object.keys(payload.data).sort()).toEqual(['attempt', 'error', 'id', 'kind', 'links', 'outputs', 'progress', 'status']);
  });

  it('audit #28: a webhook URL the guard refuses gets 422 at /webhook_url, and nothing is stored', async () => {
    const before = (await (await server.fetch('/api/v1/jobs', { headers: api.headers() })).json()) as { items: unknown[] };
    for (const url of ['http://127.0.0.1:9/hook', 'https://user:pass@127.0.0.1/hook', 'ftp://127.0.0.1/hook']) {
      const res = await post('/probe', { input, webhook_url: url });
      expect([400, 422], url).toContain(res.status);
      const body = (await res.json()) as { errors: { pointer: string }[] };
      expect(body.errors.map((e) => e.pointer), url).toContain('/webhook_url');
    }
    const events = await post('/probe', { input, webhook_events: ['job.completed'] });
    expect(events.status).toBe(422);
    expect(((await events.json()) as { errors: { pointer: string }[] }).errors[0]!.pointer).toBe('/webhook_events');
    const after = (await (await server.fetch('/api/v1/jobs', { headers: api.headers() })).json()) as { items: unknown[] };
    expect(after.items.length).toBe(before.items.length);
  });
});

describe('the SSRF guard with its default policy', () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startTestServer({ FFEDGE_POOL_SIZE: '0', FFEDGE_WASM_THREADS: '0' });
  });
  afterAll(async () => strict?.close());

  it('audit #28: private, loopback and metadata addresses, plain http and other ports are refused at submission', async () => {
    const created = await createKey(strict.platform.db, { name: 'strict', now: Date.now() });
    const c = client(strict, created.key);
    const clip = join(strict.dir, 'clip.mp4');
    await makeClip(clip, { seconds: 1, size: '64x64', audio: false });
    const upload = await c.upload(clip);
    for (const url of ['https://127.0.0.1/h', 'https://10.0.0.1/h', 'https://169.254.169.254/latest', 'https://[::1]/h', 'https://0x7f.1/h', 'http://example.com/h', 'https://example.com:8443/h', 'https://localhost/h']) {
      const res = await strict.fetch('/api/v1/probe', { method: 'POST', headers: c.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ input: upload, webhook_url: url }) });
      expect(res.status, url).toBe(422);
      expect(((await res.json()) as { code: string }).code, url).toBe('UNSAFE_URL');
    }
  });
});

describe('a server killed while it sends', () => {
  it('audit #12: the delivery resumes after the restart, with the same id and body; nothing lost, nothing twice with another id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ffedge-webhooks-kill-'));
    const admin = `ffe_${'w'.repeat(16)}_${'W'.repeat(43)}`;
    const env = {
      PATH: process.env.PATH!,
      FFEDGE_DATA_DIR: join(dir, 'data'),
      FFEDGE_TMP_DIR: join(dir, 'tmp'),
      FFEDGE_BOOTSTRAP_ADMIN_KEY: admin,
      FFEDGE_WASM_THREADS: '0',
      FFEDGE_OUTBOUND_ALLOW_LOOPBACK: '1',
      FFEDGE_OUTBOUND_PORTS: '*',
      FFEDGE_OUTBOUND_CA_FILE: receiver.caFile,
      FFEDGE_OUTBOUND_TIMEOUT_MS: '30000',
      // A sender that dies holds its delivery only this long.
      FFEDGE_WEBHOOK_LEASE_MS: '1000',
      FFEDGE_WEBHOOK_POLL_MS: '50',
    };
    const port = await freePort();
    const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    let child = await startServerProcess(port, env);
    try {
      const base = `http://127.0.0.1:${port}/api/v1`;
      const { secret: killSecret } = (await (await fetch(`${base}/webhooks/secret`, { method: 'POST', headers, body: '{}' })).json()) as { secret: string };
      expect(killSecret).toMatch(/^whsec_/);
      const clip = join(dir, 'clip.mp4');
      await makeClip(clip, { seconds: 1, size: '64x64', audio: false });
      const uploaded = (await (await fetch(`${base}/uploads`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'video/mp4' }, body: await readFile(clip) })).json()) as { uri: string };
      // The first attempt is held by the receiver until the server is dead; the next one is answered.
      receiver.on('/killed', (_request, count) => (count === 0 ? { status: 200, delayMs: 60_000 } : { status: 200 }));
      const res = await fetch(`${base}/probe`, { method: 'POST', headers, body: JSON.stringify({ input: uploaded.uri, webhook_url: `${receiver.origin}/killed` }) });
      const job = (await res.json()) as JobView;
      await receiver.waitFor('/killed', 1);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      child = await startServerProcess(port, env);
      const got = await receiver.waitFor('/killed', 2, 30_000);
      expect(got.map((r) => r.headers['webhook-id'])).toEqual([got[0]!.headers['webhook-id'], got[0]!.headers['webhook-id']]);
      expect(got[1]!.body).toBe(got[0]!.body);
      expect(verified(got[1]!, killSecret).data.id).toBe(job.id);
      const deadline = Date.now() + 10_000;
      let log: any[] = [];
      while (Date.now() < deadline) {
        log = ((await (await fetch(`${base}/jobs/${job.id}/webhooks`, { headers })).json()) as { items: any[] }).items;
        if (log[0]?.status === 'delivered') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(log).toMatchObject([{ event: 'job.completed', status: 'delivered', attempts: 1 }]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.received.filter((r) => r.path === '/killed')).toHaveLength(2);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});

describe('breakers', () => {
  let flaky: TestServer;
  beforeAll(async () => {
    flaky = await startTestServer({
      FFEDGE_OUTBOUND_ALLOW_LOOPBACK: '1',
      FFEDGE_OUTBOUND_PORTS: '*',
      FFEDGE_OUTBOUND_CA_FILE: receiver.caFile,
      FFEDGE_WEBHOOK_BACKOFF_MS: '20',
      FFEDGE_WEBHOOK_BACKOFF_CAP_MS: '40',
      FFEDGE_WEBHOOK_POLL_MS: '50',
      FFEDGE_BREAKER_FAILURES: '3',
      FFEDGE_BREAKER_OPEN_MS: '1500',
      FFEDGE_POOL_SIZE: '1',
      FFEDGE_WASM_THREADS: '0',
    });
  });
  afterAll(async () => flaky?.close());

  it('audit #26: a host that keeps failing opens its breaker: readiness shows it, deliveries wait instead of spending attempts, and go once it is back', async () => {
    const created = await createKey(flaky.platform.db, { name: 'breaker', now: Date.now() });
    const c = client(flaky, created.key);
    const clip = join(flaky.dir, 'clip.mp4');
    await makeClip(clip, { seconds: 1, size: '64x64', audio: false });
    const upload = await c.upload(clip);
    let healthy = false;
    receiver.on('/flaky', () => ({ status: healthy ? 200 : 503 }));
    const res = await flaky.fetch('/api/v1/probe', { method: 'POST', headers: c.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ input: upload, webhook_url: `${receiver.origin}/flaky` }) });
    const job = (await res.json()) as JobView;
    await receiver.waitFor('/flaky', 3);
    const host = new URL(receiver.origin).host;
    await expect
      .poll(async () => ((await (await flaky.fetch('/health/ready')).json()) as { breakers: unknown[] }).breakers, { timeout: 5_000 })
      .toContainEqual({ name: `webhook:${host}`, state: 'open' });
    // While it is open nothing is sent, and the delivery is still pending with its 3 attempts (not 8 used up).
    const sent = receiver.received.filter((r) => r.path === '/flaky').length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received.filter((r) => r.path === '/flaky').length).toBe(sent);
    const [waiting] = ((await (await flaky.fetch(`/api/v1/jobs/${job.id}/webhooks`, { headers: c.headers() })).json()) as { items: any[] }).items;
    expect(waiting).toMatchObject({ status: 'pending', attempts: 3, last_error: 'breaker_open' });
    healthy = true;
    await expect
      .poll(async () => ((await (await flaky.fetch(`/api/v1/jobs/${job.id}/webhooks`, { headers: c.headers() })).json()) as { items: any[] }).items[0].status, { timeout: 10_000 })
      .toBe('delivered');
    expect(((await (await flaky.fetch('/health/ready')).json()) as { breakers: unknown[] }).breakers).toEqual([]);
  });
});
