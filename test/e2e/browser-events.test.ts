/**
 * A browser follows a job live with nothing but EventSource and the job's `links.events_url` (EventSource cannot
 * send the key): in Chromium, from a page of the service's own origin, a real job's events arrive in order up to
 * `done` with the completed job.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/api.js';
import { launchBrowser } from '../helpers/browser.js';
import { makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('events in a browser', () => {
  it('EventSource on links.events_url follows a job to done, with no header', { timeout: 60_000 }, async () => {
    const api = client(server, await server.key());
    const clip = join(server.dir, 'clip.mp4');
    await makeClip(clip, { seconds: 2, size: '320x240' });
    const job = (await api.convert({ input: await api.upload(clip), output: 'webm' })) as unknown as { id: string; links: { events_url: string } };

    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/`);
      const seen = await page.evaluate(
        (url) =>
          new Promise<{ events: string[]; done: { status: string } }>((resolve, reject) => {
            const events: string[] = [];
            const source = new EventSource(url);
            for (const type of ['status', 'progress']) source.addEventListener(type, (e) => events.push(`${type}:${(e as MessageEvent).lastEventId}`));
            source.addEventListener('done', (e) => {
              source.close();
              resolve({ events, done: JSON.parse((e as MessageEvent).data as string) as { status: string } });
            });
            setTimeout(() => reject(new Error(`no done after ${events.join(',')}`)), 45_000);
          }),
        job.links.events_url,
      );
      expect(seen.done.status).toBe('completed');
      expect(seen.events[0]).toMatch(/^status:\d+$/);
      const ids = seen.events.map((e) => Number(e.split(':')[1]));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    } finally {
      await page.close();
    }
  });
});
