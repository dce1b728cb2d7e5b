/**
 * A package plays: hls.js plays the HLS package and dash.js the DASH one, from the running Node service, in headless
 * Chromium (Debian's, which decodes H.264 and AAC through MSE), for 3 s with no error, then switches to another rung
 * it is told to and goes on playing. hls.js is given nothing but the master playlist's signed link (an output's
 * `url`: the token is in the path, so every relative URI of the package resolves under it, and no key is sent);
 * dash.js fetches by the key's path with the key in a header, as an API client's player would.
 */
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type JobView } from '../helpers/api.js';
import { launchBrowser, servePages } from '../helpers/browser.js';
import { makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

const LADDER = [
  { height: 360, video: { bitrate: '600k', preset: 'veryfast' } },
  { height: 240, video: { bitrate: '300k', preset: 'veryfast' } },
];

let server: TestServer;
let pages: Awaited<ReturnType<typeof servePages>>;
let browser: Browser;
let key: string;
let api: ReturnType<typeof client>;
let input: string;

beforeAll(async () => {
  pages = await servePages(
    { '/': '<!doctype html><meta charset="utf-8"><video id="v" muted playsinline></video><script src="/hls.js"></script><script src="/dash.js"></script>' },
    { '/hls.js': 'hls.js/dist/hls.min.js', '/dash.js': 'dashjs/dist/modern/umd/dash.all.min.js' },
  );
  server = await startTestServer({ FFEDGE_CORS_ORIGINS: pages.origin, FFEDGE_CONCURRENT_JOBS: '20', FFEDGE_WASM_THREADS: '0' });
  key = await server.key();
  api = client(server, key);
  const clip = join(server.dir, 'clip.mp4');
  await makeClip(clip, { seconds: 12, size: '640x360', rate: 30, audio: true });
  input = await api.upload(clip);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await pages?.close();
});

const packaged = (format: 'hls' | 'dash'): Promise<JobView> => api.streamed({ input, format, segment_duration_s: 2, ladder: LADDER });

async function page(): Promise<Page> {
  const p = await browser.newPage();
  await p.goto(`${pages.origin}/`);
  return p;
}

interface Played {
  errors: string[];
  rungs: number;
  before: number;
  after: number;
  switchedTo: number | null;
  playedAt: number;
}

describe('players', () => {
  it('hls.js plays the HLS package from its signed link, with no key, for 3 s, and switches to the rung it is told to', async () => {
    const job = await packaged('hls');
    const master = `${server.url}${job.outputs.find((o) => o.name === 'hls/master.m3u8')!.url}`;
    expect(master).toMatch(/\/api\/v1\/o\/[^/]+\/hls\/master\.m3u8$/);
    const p = await page();
    const played = (await p.evaluate(
      ({ url }) =>
        new Promise((resolve) => {
          const Hls = (window as any).Hls;
          const video = document.getElementById('v') as HTMLVideoElement;
          const errors: string[] = [];
          const hls = new Hls();
          hls.on(Hls.Events.ERROR, (_: unknown, data: any) => data.fatal && errors.push(`${data.type}: ${data.details}`));
          let before = -1;
          let target = -1;
          hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play());
          hls.on(Hls.Events.LEVEL_SWITCHED, (_: unknown, data: any) => {
            if (data.level === target) {
              const at = video.currentTime;
              const wait = () => (video.currentTime > at + 1 ? resolve({ errors, rungs: hls.levels.length, before, after: data.level, switchedTo: target, playedAt: video.currentTime }) : setTimeout(wait, 100));
              wait();
            }
          });
          const watch = () => {
            if (errors.length > 0) return resolve({ errors, rungs: 0, before, after: -1, switchedTo: null, playedAt: video.currentTime });
            if (video.currentTime >= 3 && target < 0) {
              before = hls.currentLevel;
              target = (before + 1) % hls.levels.length;
              hls.currentLevel = target;
            }
            setTimeout(watch, 100);
          };
          watch();
          hls.loadSource(url);
          hls.attachMedia(video);
        }),
      { url: master },
    )) as Played;
    expect(played.errors).toEqual([]);
    expect(played.rungs).toBe(2);
    expect(played.after).toBe(played.switchedTo);
    expect(played.after).not.toBe(played.before);
    expect(played.playedAt).toBeGreaterThan(4);
    await p.close();
  }, 180_000);

  it('dash.js plays the DASH package for 3 s, and switches to the rung it is told to', async () => {
    const job = await packaged('dash');
    const mpd = `${server.url}/api/v1/jobs/${job.id}/outputs/dash/manifest.mpd`;
    const p = await page();
    const played = (await p.evaluate(
      ({ url, key }) =>
        new Promise((resolve) => {
          const dashjs = (window as any).dashjs;
          const video = document.getElementById('v') as HTMLVideoElement;
          const errors: string[] = [];
          const player = dashjs.MediaPlayer().create();
          player.addRequestInterceptor((request: any) => {
            request.headers = { ...(request.headers ?? {}), authorization: `Bearer ${key}` };
            return Promise.resolve(request);
          });
          player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
          player.on(dashjs.MediaPlayer.events.ERROR, (e: any) => errors.push(String(e?.error?.message ?? e?.error?.code ?? 'error')));
          let before = -1;
          let target = -1;
          player.on(dashjs.MediaPlayer.events.QUALITY_CHANGE_RENDERED, (e: any) => {
            if (e.mediaType !== 'video' || target < 0) return;
            const index = e.newRepresentation?.absoluteIndex ?? e.newQuality;
            if (index !== target) return;
            const at = video.currentTime;
            const wait = () => (video.currentTime > at + 1 ? resolve({ errors, rungs: player.getRepresentationsByType('video').length, before, after: index, switchedTo: target, playedAt: video.currentTime }) : setTimeout(wait, 100));
            wait();
          });
          const watch = () => {
            if (errors.length > 0) return resolve({ errors, rungs: 0, before, after: -1, switchedTo: null, playedAt: video.currentTime });
            if (video.currentTime >= 3 && target < 0) {
              const current = player.getCurrentRepresentationForType('video');
              before = current?.absoluteIndex ?? 0;
              target = before === 0 ? 1 : 0;
              player.setRepresentationForTypeByIndex('video', target, true);
            }
            setTimeout(watch, 100);
          };
          watch();
          player.initialize(video, url, true);
        }),
      { url: mpd, key },
    )) as Played;
    expect(played.errors).toEqual([]);
    expect(played.rungs).toBe(2);
    expect(played.after).toBe(played.switchedTo);
    expect(played.after).not.toBe(played.before);
    expect(played.playedAt).toBeGreaterThan(4);
    await p.close();
  }, 180_000);
});
