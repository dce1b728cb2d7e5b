/**
 * A newcomer's first requests: GET / says what the service is and links onwards, GET /api/v1 lists the same links,
 * and /docs renders the interactive reference of the served OpenAPI document in Chromium, with everything it loads
 * coming from this origin (it works offline, and sends nothing elsewhere).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

const ARTIFACTS = resolve(import.meta.dirname, '../../test-results');

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  server = await startTestServer({ FFEDGE_POOL_SIZE: '0' }, { start: false });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('docs', () => {
  it('GET / says what the service is and links to /docs, /preview and the OpenAPI document', async () => {
    const res = await server.fetch('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const link of ['/docs', '/preview', '/api/v1/openapi.json']) expect(html).toContain(`href="${link}"`);
    const index = (await (await server.fetch('/api/v1')).json()) as { links: Record<string, string> };
    expect(index.links).toMatchObject({ docs: '/docs', preview: '/preview', openapi: '/api/v1/openapi.json' });
  });

  it('serves the reference script from this origin, compressed, cacheable and revalidated', async () => {
    const gz = await server.fetch('/docs/scalar.js', { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.status).toBe(200);
    expect(gz.headers.get('content-type')).toMatch(/^text\/javascript/);
    // fetch decodes the gzip; the header says it was sent compressed.
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect((await gz.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);
    const etag = gz.headers.get('etag')!;
    expect((await server.fetch('/docs/scalar.js', { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await server.fetch('/docs/nothing.js')).status).toBe(404);
  });

  it('renders every operation of the document in Chromium, loading nothing from elsewhere', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const origin = new URL(server.url).origin;
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    try {
      await page.goto(`${server.url}/docs`);
      // The reference lists operations by their summaries; these come from the served document.
      await page.getByText('Convert a media file').first().waitFor({ timeout: 30_000 });
      await page.getByText('List jobs of this key', { exact: false }).first().waitFor({ timeout: 10_000 });
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'docs.png') });
      expect(elsewhere).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
