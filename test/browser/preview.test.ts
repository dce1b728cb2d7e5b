/**
 * The preview page in headless Chromium against the real Node service: it converts a generated clip in the browser
 * with the job's own plan (the <video> has the cut's duration and size; a pixel read back after a crop has the
 * half's colour), names what ffmpeg.wasm cannot run before anything starts (VP9), then runs the job on the server
 * through the SDK (@ffedge/client, bundled in the page), follows it to completed and downloads the output.
 * Everything comes from the service's origin: no other host is asked for anything, and the page's CSP refuses
 * nothing it needs.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { get, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPreview } from '../../scripts/build-preview.js';
import { launchBrowser } from '../helpers/browser.js';
import { ffprobe, makeClip, makeHalvesClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

const ARTIFACTS = resolve(import.meta.dirname, '../../test-results');

let built: string;
let server: TestServer;
let browser: Browser;
let key: string;
let clip720: string;
let halves: string;

beforeAll(async () => {
  built = await mkdtemp(join(tmpdir(), 'ffedge-preview-'));
  await buildPreview(built);
  server = await startTestServer({ FFEDGE_PREVIEW_DIR: built, FFEDGE_CONCURRENT_JOBS: '20' });
  key = await server.key();
  clip720 = join(server.dir, 'clip720.mp4');
  halves = join(server.dir, 'halves.mp4');
  await makeClip(clip720, { seconds: 2, size: '1280x720', rate: 25 });
  await makeHalvesClip(halves, { left: 'red', right: 'blue', seconds: 2 });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (built) await rm(built, { recursive: true, force: true });
});

function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

interface Opened {
  page: Page;
  /** Requests to anything but the service (blob: and data: URLs aside). */
  elsewhere: string[];
  /** Console messages about the Content-Security-Policy. */
  refused: string[];
}

async function open(file: string | null): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const opened: Opened = { page, elsewhere: [], refused: [] };
  page.context().on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(server.url) && !/^(blob|data):/.test(url)) opened.elsewhere.push(url);
  });
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) opened.refused.push(message.text());
  });
  await page.goto(`${server.url}/preview`);
  await page.fill('#key', key);
  await page.dispatchEvent('#key', 'change');
  if (file) await page.setInputFiles('#file', file);
  return opened;
}

/** Waits for the preview of what the JSON box says now. */
async function previewed(page: Page): Promise<{ duration: number; width: number; height: number }> {
  await page.waitForFunction(
    () => {
      const state = (window as unknown as { ffedgePreview: { shown: string | null } }).ffedgePreview;
      return document.body.dataset.preview === 'done' && state.shown === (document.getElementById('json') as HTMLTextAreaElement).value;
    },
    undefined,
    { timeout: 90_000 },
  );
  expect(await page.getAttribute('body', 'data-preview')).toBe('done');
  return page.evaluate(async () => {
    const still = document.getElementById('still') as HTMLImageElement;
    if (!still.hidden) {
      await still.decode();
      return { duration: 0, width: still.naturalWidth, height: still.naturalHeight };
    }
    const video = document.getElementById('video') as HTMLVideoElement;
    if (video.readyState < 2) await new Promise((done) => video.addEventListener('loadeddata', done, { once: true }));
    return { duration: video.duration, width: video.videoWidth, height: video.videoHeight };
  });
}

/** The colour at the middle of the preview's frame at `time`, read back through a canvas. */
async function pixel(page: Page, time: number): Promise<[number, number, number]> {
  return page.evaluate(async (at) => {
    const video = document.getElementById('video') as HTMLVideoElement;
    video.currentTime = at;
    await new Promise((done) => video.addEventListener('seeked', done, { once: true }));
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext('2d')!;
    context.drawImage(video, 0, 0);
    const [r, g, b] = context.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
    return [r!, g!, b!] as [number, number, number];
  }, time);
}

describe('browser preview', () => {
  it('converts the first seconds in the browser with the job plan, at the preview size', async () => {
    const { page, elsewhere, refused } = await open(clip720);
    await page.waitForSelector('body[data-core="ready"]', { timeout: 60_000 });
    await page.selectOption('#format', 'mp4');
    await page.selectOption('#vcodec', 'h264');
    // An exact cut: re-encoded (a job that copies its streams is previewed as a copy, at the input's size).
    await page.fill('#trim-start', '0.5');
    const shown = await previewed(page);
    // 1.5 s are left of the 2 s clip, less than the 3 s cut; 1280x720 comes down to the preview's 360p.
    expect(shown.duration).toBeGreaterThan(1.3);
    expect(shown.duration).toBeLessThan(1.8);
    expect([shown.width, shown.height]).toEqual([640, 360]);
    const argv = await page.textContent('#argv');
    expect(argv).toContain('-c:v libx264');
    expect(argv).toContain('-t 3');
    expect(await page.getAttribute('body', 'data-checks')).toBe('ok');
    expect(elsewhere).toEqual([]);
    expect(refused).toEqual([]);
    await page.close();
  });

  it('crops as the job would: the pixel read back is the kept half', async () => {
    const { page, refused } = await open(halves);
    await page.selectOption('#format', 'webm');
    await page.selectOption('#vcodec', 'vp8');
    await page.fill('#crop-width', '320');
    await page.fill('#crop-height', '360');
    await page.fill('#crop-x', '0');
    await page.fill('#crop-y', '0');
    const left = await previewed(page);
    expect([left.width, left.height]).toEqual([320, 360]);
    const [r, g, b] = await pixel(page, 0.5);
    expect(r).toBeGreaterThan(200);
    expect(g).toBeLessThan(60);
    expect(b).toBeLessThan(60);

    await page.fill('#crop-x', '320');
    await previewed(page);
    const [r2, g2, b2] = await pixel(page, 0.5);
    expect(b2).toBeGreaterThan(200);
    expect(r2).toBeLessThan(60);
    expect(g2).toBeLessThan(60);
    expect(refused).toEqual([]);
    await page.close();
  });

  it('names VP9 as what ffmpeg.wasm cannot run, with the reason, before anything starts', async () => {
    // The request first, then the file: the page never had anything it could preview.
    const { page } = await open(null);
    await page.selectOption('#format', 'webm');
    await page.selectOption('#vcodec', 'vp9');
    await page.setInputFiles('#file', clip720);
    await page.waitForSelector('body[data-checks="cannot"]');
    const reason = await page.textContent('#checks li.cannot');
    expect(reason).toContain('libvpx-vp9');
    expect(reason).toContain('VP9 encoding crashes in ffmpeg.wasm');
    expect(await page.isDisabled('#preview-button')).toBe(true);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'preview-vp9.png') });
    // Nothing was converted for it, not even after the page's debounce of request changes.
    await page.waitForTimeout(1_000);
    expect(await page.getAttribute('body', 'data-preview')).toBeNull();
    await page.close();
  });

  it('previews a preset as the job would run it, its measuring pass included', async () => {
    const { page } = await open(clip720);
    await page.waitForFunction(() => document.querySelectorAll('#preset option').length > 1);
    await page.selectOption('#preset', 'podcast-audio');
    const shown = await previewed(page);
    // Loudness measured on the first pass, applied with the measured values on the second, as the job does.
    const argv = (await page.textContent('#argv'))!;
    expect(argv).toMatch(/loudnorm=I=-16:TP=-1\.5:LRA=11:measured_I=-?[\d.]+/);
    expect(argv).toContain('-c:a libmp3lame');
    expect(shown.duration).toBeGreaterThan(1.8);
    expect(shown.duration).toBeLessThan(2.3);
    expect([shown.width, shown.height]).toEqual([0, 0]);
    await page.close();
  });

  it('shows an image output as an image', async () => {
    const { page } = await open(clip720);
    await page.selectOption('#format', 'png');
    const shown = await previewed(page);
    expect([shown.width, shown.height]).toEqual([640, 360]);
    expect(await page.isHidden('#video')).toBe(true);
    await page.close();
  });

  it('runs the job on the server, follows it to completed and downloads the output', async () => {
    const { page } = await open(halves);
    await page.selectOption('#format', 'mp4');
    await page.fill('#crop-width', '320');
    await page.fill('#crop-height', '360');
    await previewed(page);
    await page.click('#run-button');
    await page.waitForSelector('body[data-job="completed"]', { timeout: 90_000 });
    await page.waitForSelector('#download:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#job-status')).toContain('completed');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'preview.png'), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const saved = join(server.dir, 'downloaded.mp4');
    await download.saveAs(saved);
    const probed = await ffprobe(saved);
    const video = probed.streams.find((s) => s.codec_type === 'video')!;
    expect([video.codec_name, video.width, video.height]).toEqual(['h264', 320, 360]);
    expect(Number(probed.format.duration)).toBeCloseTo(2, 0);
    await page.close();
  });
});

describe('a server without a wasm engine', () => {
  it('lists the core in the page, and names H.265 from a preset as what it cannot run', async () => {
    const bare = await startTestServer({ FFEDGE_PREVIEW_DIR: built, FFEDGE_WASM_THREADS: '0' }, { start: false });
    try {
      const capabilities = (await (await bare.fetch('/api/v1/capabilities')).json()) as { engines: { name: string }[] };
      expect(capabilities.engines.map((e) => e.name)).not.toContain('wasm');
      const page = await browser.newPage();
      await page.goto(`${bare.url}/preview/`);
      await page.fill('#key', await bare.key());
      await page.dispatchEvent('#key', 'change');
      await page.waitForFunction(() => (window as unknown as { ffedgePreview: { listed: unknown } }).ffedgePreview.listed !== null, undefined, { timeout: 60_000 });
      await page.waitForFunction(() => document.querySelectorAll('#preset option').length > 1);
      await page.selectOption('#preset', 'archive-hevc');
      await page.waitForSelector('body[data-checks="cannot"]');
      expect(await page.textContent('#checks li.cannot')).toContain('H.265 encoding never finishes in ffmpeg.wasm');
      await page.close();
    } finally {
      await bare.close();
    }
  });
});

describe('serving the preview', () => {
  it('redirects /preview to the page, which carries its CSP and is revalidated by ETag', async () => {
    const redirect = await server.fetch('/preview', { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/preview/');
    const page = await server.fetch('/preview/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self' 'wasm-unsafe-eval'/);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(await page.text()).toContain('<script type="module" src="preview.js">');
    const again = await server.fetch('/preview/', { headers: { 'if-none-match': page.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('sends the core gzip as built, cached for a year under its version', async () => {
    // node:http, which leaves the body as sent (fetch would decompress it).
    const res = await rawGet(`${server.url}/preview/core/0.12.10/ffmpeg-core.wasm`, { 'accept-encoding': 'gzip, br' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/wasm');
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const sent = res.body;
    expect(Number(res.headers['content-length'])).toBe(sent.length);
    expect(sent.length).toBeLessThan(12 * 1024 ** 2);
    expect(gunzipSync(sent).equals(await readFile(join(built, 'core/0.12.10/ffmpeg-core.wasm')))).toBe(true);
  });

  it('answers 404 for names outside the page, and when no preview was built', async () => {
    for (const path of ['/preview/missing.js', '/preview/..%2F..%2Fpackage.json', '/preview/BUILT']) {
      expect((await server.fetch(path)).status, path).toBe(404);
    }
    const empty = await mkdtemp(join(tmpdir(), 'ffedge-no-preview-'));
    const bare = await startTestServer({ FFEDGE_PREVIEW_DIR: empty }, { start: false });
    try {
      expect((await bare.fetch('/preview/')).status).toBe(404);
    } finally {
      await bare.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});
