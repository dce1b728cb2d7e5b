/**
 * The browser preview's first frame: headless Chromium opens /preview on a real Node service, the key is entered and a
 * 10 s 720p clip picked, and the time from the navigation's start to the preview's first frame (the <video>'s
 * loadeddata) is measured, cold (an empty cache) and warm (the core cached under its versioned name), for a
 * re-encode to H.264 and one to VP8. Also what the page downloads cold, as sent over the wire (gzip).
 *
 * `npm run bench:preview` (or `-- --runs 5`). Needs ffmpeg on PATH and Chromium (CHROMIUM_PATH, /usr/bin/chromium).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { buildPreview } from '../scripts/build-preview.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { makeClip } from '../test/helpers/media.js';
import { startTestServer } from '../test/helpers/node-server.js';

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const runs = arg('runs', 3);

const REQUESTS: Record<string, unknown> = {
  'mp4 H.264 (crf 23)': { input: 'upload:preview-local-file', output: { format: 'mp4', video: { codec: 'h264', crf: 23 } } },
  'webm VP8 + Opus': { input: 'upload:preview-local-file', output: { format: 'webm', video: { codec: 'vp8' }, audio: { codec: 'opus' } } },
};

const dir = await mkdtemp(join(tmpdir(), 'ffedge-bench-preview-'));
const built = join(dir, 'preview');
await buildPreview(built);
const server = await startTestServer({ FFEDGE_PREVIEW_DIR: built });
const browser = await launchBrowser();
try {
  const key = await server.key();
  const clip = join(dir, 'clip-720p-10s.mp4');
  await makeClip(clip, { seconds: 10, size: '1280x720', rate: 30, audio: true });

  /** One preview: ms from navigation start to the first frame, and bytes sent (as on the wire) and decoded. */
  async function once(context: BrowserContext, request: unknown) {
    const page = await context.newPage();
    const sizes: Promise<{ url: string; sent: number }>[] = [];
    context.on('requestfinished', (req) => {
      if (!req.url().startsWith(server.url)) return;
      // The body as it came over the wire (gzip where it was sent so) and the headers.
      sizes.push(req.sizes().then((s) => ({ url: req.url(), sent: s.responseBodySize + s.responseHeadersSize })));
    });
    await page.goto(`${server.url}/preview/`);
    await page.fill('#key', key);
    await page.dispatchEvent('#key', 'change');
    await page.fill('#json', JSON.stringify(request));
    await page.setInputFiles('#file', clip);
    await page.waitForFunction(() => (window as unknown as { ffedgePreview: { firstFrameMs: number | null } }).ffedgePreview.firstFrameMs !== null, undefined, {
      timeout: 300_000,
    });
    const { firstFrameMs, timings } = await page.evaluate(() => {
      const { firstFrameMs, timings } = (window as unknown as { ffedgePreview: { firstFrameMs: number; timings: Record<string, number> } }).ffedgePreview;
      return { firstFrameMs, timings };
    });
    if (process.argv.includes('--verbose')) console.log(JSON.stringify({ firstFrameMs, ...timings }, (_, v: unknown) => (typeof v === 'number' ? Math.round(v) : v)));
    await page.close();
    const files = await Promise.all(sizes);
    context.removeAllListeners('requestfinished');
    return { firstFrameMs, files };
  }

  for (const [name, request] of Object.entries(REQUESTS)) {
    const cold: number[] = [];
    const warm: number[] = [];
    let transfer: { url: string; sent: number }[] = [];
    for (let run = 0; run < runs; run++) {
      const context = await browser.newContext();
      const first = await once(context, request);
      cold.push(first.firstFrameMs);
      if (run === 0) transfer = first.files;
      warm.push((await once(context, request)).firstFrameMs);
      await context.close();
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(`${name}: first preview frame, cold median ${(median(cold) / 1000).toFixed(2)} s (${cold.map((v) => (v / 1000).toFixed(2)).join(', ')}), warm median ${(median(warm) / 1000).toFixed(2)} s (${warm.map((v) => (v / 1000).toFixed(2)).join(', ')})`);
    if (name === Object.keys(REQUESTS)[0]) {
      const total = transfer.reduce((sum, f) => sum + f.sent, 0);
      console.log(`page download, cold: ${(total / 1024 ** 2).toFixed(2)} MiB over the wire (gzip), ${transfer.length} requests`);
      for (const file of transfer) console.log(`  ${new URL(file.url).pathname}: ${(file.sent / 1024).toFixed(1)} KiB`);
    }
  }
} finally {
  await browser.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
