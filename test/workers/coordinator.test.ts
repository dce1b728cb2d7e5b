/**
 * The JobCoordinator Durable Object and the Worker-side Coordinator over it (src/runtime/worker-coordinator.ts):
 * notifications reach subscribers, and a subscription that is closed, aborted or whose client goes away is freed
 * inside the object (audit #24).
 */
import { runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import * as schema from '../../src/db/schema.js';
import { createDurableCoordinator } from '../../src/runtime/worker-coordinator.js';
import { createKey } from '../../src/security/api-keys.js';

const coordinator = createDurableCoordinator(env.JOB_COORDINATOR);
const worker = (exports as unknown as { default: Fetcher }).default;

function subscribers(jobId: string): Promise<number> {
  const stub = env.JOB_COORDINATOR.get(env.JOB_COORDINATOR.idFromName(jobId));
  return runInDurableObject(stub, (instance) => instance.subscriberCount());
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('JobCoordinator', () => {
  it('delivers a notify to every subscriber of the job, and only of that job', async () => {
    const job = crypto.randomUUID();
    const gone = new AbortController();
    const a = await coordinator.subscribe(job, gone.signal);
    const b = await coordinator.subscribe(job, gone.signal);
    const other = await coordinator.subscribe(crypto.randomUUID(), gone.signal);
    expect(await subscribers(job)).toBe(2);

    const waiting = a.next(5_000);
    await coordinator.notify(job);
    expect(await waiting).toBe(true);
    expect(await b.next(5_000)).toBe(true);
    expect(await other.next(50)).toBe(false);
    gone.abort();
  });

  it('answers false on timeout, and a notify that came while nobody waited is not lost', async () => {
    const job = crypto.randomUUID();
    const gone = new AbortController();
    const sub = await coordinator.subscribe(job, gone.signal);
    const started = Date.now();
    expect(await sub.next(100)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);

    await coordinator.notify(job);
    await coordinator.notify(job);
    expect(await sub.next(5_000)).toBe(true);
    sub.close();
    expect(await sub.next(10)).toBe(false);
  });

  it('audit #24: subscriptions closed or aborted by the caller are removed from the object', async () => {
    const job = crypto.randomUUID();
    const subs = [];
    const controllers: AbortController[] = [];
    for (let i = 0; i < 40; i++) {
      const controller = new AbortController();
      controllers.push(controller);
      subs.push(await coordinator.subscribe(job, controller.signal));
    }
    expect(await subscribers(job)).toBe(40);
    // Half closed directly, half through their signal (the SSE handler's "client went away").
    subs.slice(0, 20).forEach((sub) => sub.close());
    controllers.slice(20).forEach((controller) => controller.abort());
    await eventually(async () => (await subscribers(job)) === 0);
    // The object still works for the next follower.
    const gone = new AbortController();
    const sub = await coordinator.subscribe(job, gone.signal);
    await coordinator.notify(job);
    expect(await sub.next(5_000)).toBe(true);
    gone.abort();
    await eventually(async () => (await subscribers(job)) === 0);
  });

  it('audit #24: an SSE client that goes away frees its subscription', async () => {
    const db = drizzle(env.DB, { schema }) as unknown as Db;
    const { key } = await createKey(db, { name: 'sse', now: Date.now() });
    const headers = { authorization: `Bearer ${key}` };
    const upload = await worker.fetch('https://ffedge.test/api/v1/uploads?filename=a.mp4', {
      method: 'POST',
      headers,
      body: new Uint8Array([1, 2, 3]),
    });
    expect(upload.status).toBe(201);
    const { uri } = (await upload.json()) as { uri: string };
    const created = await worker.fetch('https://ffedge.test/api/v1/convert', {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ input: uri, output: 'mp4' }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };

    const streams = await Promise.all(
      Array.from({ length: 10 }, () => worker.fetch(`https://ffedge.test/api/v1/jobs/${id}/events`, { headers })),
    );
    const readers = streams.map((res) => {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      return res.body!.getReader();
    });
    // Each stream first replays the `queued` status event.
    for (const reader of readers) {
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain('event: status');
    }
    await eventually(async () => (await subscribers(id)) === 10);

    // A cancel is seen live: the follower still attached gets it as a status event and the stream ends.
    const last = readers.pop()!;
    await Promise.all(readers.map((reader) => reader.cancel()));
    await eventually(async () => (await subscribers(id)) === 1);
    expect((await worker.fetch(`https://ffedge.test/api/v1/jobs/${id}`, { method: 'DELETE', headers })).status).toBe(200);
    let text = '';
    for (;;) {
      const { done, value } = await last.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('"status":"cancelled"');
    expect(text).toContain('event: done');
    await eventually(async () => (await subscribers(id)) === 0);
  });
});
