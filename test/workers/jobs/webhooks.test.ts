/**
 * Webhooks on Workers: the events of a job run by the JobCoordinator reach a real receiver through the WEBHOOKS
 * queue consumer, signed (checked with the standardwebhooks package inside workerd), in order, with the event ids;
 * a receiver that fails first is tried again through the queue's delayed message.
 */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it, inject } from 'vitest';
import { api, media, newKey, type JobView } from './helpers.js';

interface Got {
  path: string;
  headers: Record<string, string>;
  body: string;
}

const receiver = inject('webhookReceiver');

async function receivedAt(path: string, count: number, timeoutMs = 30_000): Promise<Got[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = (await (await fetch(`${receiver}/_received?path=${encodeURIComponent(path)}`)).json()) as Got[];
    if (got.length >= count) return got;
    if (Date.now() > deadline) throw new Error(`${path}: ${got.length} of ${count} webhooks arrived`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function probe(c: ReturnType<typeof api>, input: string, path: string, events?: string[]): Promise<JobView> {
  const res = await c.fetch('/api/v1/probe', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input, webhook_url: `${receiver}${path}`, ...(events ? { webhook_events: events } : {}) }),
  });
  if (res.status >= 300) throw new Error(`probe: ${res.status} ${await res.text()}`);
  return (await res.json()) as JobView;
}

describe('webhooks on Workers', () => {
  it('sends the job’s events through the WEBHOOKS queue, signed, in order, with the event ids', async () => {
    const { key, webhookSecret } = await newKey();
    const c = api(key);
    const input = await c.upload(media('small'), 'small.mp4');
    const job = await probe(c, input, '/ordered', ['job.queued', 'job.started', 'job.completed']);
    const events = await c.events(job.id);
    const got = await receivedAt('/ordered', 3);
    const verified = got.map((r) => new Webhook(webhookSecret).verify(r.body, r.headers) as { type: string; data: { id: string } });
    expect(verified.map((p) => p.type)).toEqual(['job.queued', 'job.started', 'job.completed']);
    expect(verified.every((p) => p.data.id === job.id)).toBe(true);
    expect(got.map((r) => r.headers['webhook-id'])).toEqual(events.filter((e) => e.event === 'status').map((e) => e.id));
    const log = (await (await c.fetch(`/api/v1/jobs/${job.id}/webhooks`)).json()) as { items: { status: string; attempts: number }[] };
    expect(log.items.map((d) => [d.status, d.attempts])).toEqual([
      ['delivered', 1],
      ['delivered', 1],
      ['delivered', 1],
    ]);
  });

  it('tries a failing receiver again through a delayed message, with the same id', async () => {
    const { key, webhookSecret } = await newKey();
    const c = api(key);
    const input = await c.upload(media('small'), 'small.mp4');
    const job = await probe(c, input, '/fail-1/retry');
    const got = await receivedAt('/fail-1/retry', 2);
    expect(got[1]!.headers['webhook-id']).toBe(got[0]!.headers['webhook-id']);
    expect((new Webhook(webhookSecret).verify(got[1]!.body, got[1]!.headers) as { type: string }).type).toBe('job.completed');
    await expect
      .poll(async () => ((await (await c.fetch(`/api/v1/jobs/${job.id}/webhooks`)).json()) as { items: { status: string; attempts: number }[] }).items[0], { timeout: 10_000 })
      .toEqual(expect.objectContaining({ status: 'delivered', attempts: 2 }));
  });
});
