/** Cancel, timeouts, temp dirs, live-stream hygiene, readiness and error hygiene on the real Node service. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsAfter } from '../../src/jobs/queries.js';
import { client } from '../helpers/api.js';
import { makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { ffmpegPidsUnder } from '../helpers/procs.js';
import { readEvents } from '../helpers/sse.js';

let server: TestServer;
let api: ReturnType<typeof client>;
let short: string;
let long: string;
const tmp = () => join(server.dir, 'tmp');
const closeDb = (s: TestServer) => (s.platform.db as unknown as { $client: { close(): void } }).$client.close();

beforeAll(async () => {
  server = await startTestServer({ FFEDGE_POOL_SIZE: '1', FFEDGE_CONCURRENT_JOBS: '20', FFEDGE_HEARTBEAT_MS: '200' });
  api = client(server, await server.key());
  await makeClip(join(server.dir, 'short.mp4'), { seconds: 1 });
  short = await api.upload(join(server.dir, 'short.mp4'));
  // Long enough at 1080p that no loaded machine finishes it during a test.
  await makeClip(join(server.dir, 'long.mp4'), { seconds: 120, size: '1920x1080', rate: 30, audio: false });
  long = await api.upload(join(server.dir, 'long.mp4'));
}, 180_000);
afterAll(async () => server?.close());

/**
 * The longest event-loop delay an attempt may show (audit #5). On this 2-core machine at load averages of 4 to 8 the
 * longest delay over a whole attempt was 36 to 173 ms; a synchronous block of 300 ms or more in any stage fails.
 */
const EVENT_LOOP_BOUND_MS = 300;

const slowEncode = () => ({ input: long, output: { format: 'mp4', video: { codec: 'h265', preset: 'veryslow' } } });

async function processing(id: string) {
  return api.waitFor(id, ['processing'], 60_000, (j) => j.progress.stage === 'processing');
}

describe('job lifecycle on Node', () => {
  it('cancel of a long 1080p encode ends ffmpeg within 2 s and leaves no temp dir (audit #4)', async () => {
    const job = await api.convert(slowEncode());
    await processing(job.id);
    await expect.poll(() => ffmpegPidsUnder(tmp()), { timeout: 10_000 }).not.toEqual([]);
    const started = Date.now();
    expect((await api.cancel(job.id)).status).toBe(200);
    await expect.poll(() => ffmpegPidsUnder(tmp()), { timeout: 2_000, interval: 50 }).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect.poll(() => readdir(server.platform.workspace), { timeout: 5_000 }).toEqual([]);
    expect(await api.get(job.id)).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
  });

  it('audit #4: no temp dir is left after success, failure and timeout', async () => {
    const ok = await api.convert({ input: short, output: 'mp3' });
    await api.waitFor(ok.id, ['completed']);
    expect(await readdir(server.platform.workspace)).toEqual([]);

    const junk = await api.upload(new Uint8Array(4096).fill(7), 'junk.bin');
    const bad = await api.convert({ input: junk, output: 'mp4' });
    await api.waitFor(bad.id, ['failed']);
    expect(await readdir(server.platform.workspace)).toEqual([]);

    const slow = await startTestServer({ FFEDGE_POOL_SIZE: '1', FFEDGE_JOB_TIMEOUT_MS: '1500' });
    try {
      const slowApi = client(slow, await slow.key());
      await makeClip(join(slow.dir, 'long.mp4'), { seconds: 30, size: '1280x720', audio: false });
      const uri = await slowApi.upload(join(slow.dir, 'long.mp4'));
      const timed = await slowApi.convert({ input: uri, output: { format: 'mp4', video: { codec: 'h265', preset: 'veryslow' } } });
      const failed = await slowApi.waitFor(timed.id, ['failed']);
      expect(failed.error?.code).toBe('TIMEOUT');
      expect(await readdir(slow.platform.workspace)).toEqual([]);
      expect(await ffmpegPidsUnder(join(slow.dir, 'tmp'))).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('audit #4: a failing probe leaves no dir under the server’s tmp dir (POST /estimate, POST /probe)', async () => {
    // probe-input.ts streams the upload into a probe-* dir of its own; each refusal below leaves that dir on its way out.
    const probeDirs = async () => (await readdir(server.platform.workspace)).filter((name) => name.startsWith('probe-'));
    const estimate = (input: string) =>
      server.fetch('/api/v1/estimate', { method: 'POST', headers: api.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ input, output: 'mp4' }) });

    // ffprobe fails on a file that is not media.
    const junk = await api.upload(new Uint8Array(4096).fill(7), 'junk.bin');
    const notMedia = await estimate(junk);
    expect(notMedia.status).toBe(422);
    expect(await notMedia.json()).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await probeDirs()).toEqual([]);

    // The upload's row is there but its blob is gone: the probe throws after making its dir.
    const vanished = await api.upload(join(server.dir, 'short.mp4'));
    await rm(join(server.dir, 'data', 'blobs', 'uploads', vanished.slice('upload:'.length)));
    const gone = await estimate(vanished);
    expect(gone.status).toBe(422);
    expect(await gone.json()).toMatchObject({ code: 'INPUT_NOT_FOUND' });
    expect(await probeDirs()).toEqual([]);

    // A probe job of the same junk fails in its attempt's dir, which goes too.
    const res = await server.fetch('/api/v1/probe', { method: 'POST', headers: api.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ input: junk }) });
    expect([200, 202]).toContain(res.status);
    const failed = await api.waitFor(((await res.json()) as { id: string }).id, ['failed']);
    expect(failed.error?.code).toBeDefined();
    expect(await readdir(server.platform.workspace)).toEqual([]);
  });

  it('audit #5: the event loop stays responsive over a whole attempt: fetch, probe, passes and store', async () => {
    // Measured from before the submission to after the completion, so a synchronous call in any stage of the
    // attempt shows, not only one in the encode. `long` is an upload of tens of MB, which fetching streams whole into
    // the attempt's dir; the trim keeps the encode short, and the output is a real file to store.
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const job = await api.convert({
      input: long,
      output: { format: 'mp4', video: { codec: 'h264', preset: 'ultrafast', resolution: '640x360' } },
      operations: [{ type: 'trim', start: 0, end: 4 }],
    });
    // Keep the API busy while the attempt runs: the request path must not block either.
    let view = job;
    while (!['completed', 'failed', 'cancelled'].includes(view.status)) {
      view = await api.get(job.id);
      expect(view.id).toBe(job.id);
      await new Promise((r) => setTimeout(r, 20));
    }
    histogram.disable();
    expect(view.status).toBe('completed');
    // The window held every stage of the attempt, as its own event log records them.
    const stages = (await eventsAfter(server.platform.db, job.id, 0)).filter((e) => e.type === 'progress').map((e) => e.data.stage);
    expect(new Set(stages)).toEqual(new Set(['fetching', 'probing', 'processing', 'uploading']));
    // A blocked loop shows up as delays of seconds; a loaded 2-core machine stays far below this bound.
    expect(histogram.max / 1e6).toBeLessThan(500);
    // Tight, yet above what scheduling and GC cost on a loaded machine (see EVENT_LOOP_BOUND_MS).
    expect(histogram.max / 1e6, `longest event-loop delay, ms (p99 ${histogram.percentile(99) / 1e6})`).toBeLessThan(EVENT_LOOP_BOUND_MS);
  });

  it('audit #24: live streams dropped by their clients free their subscriptions', async () => {
    const job = await api.convert(slowEncode());
    await processing(job.id);
    const before = server.platform.coordinator.subscriptions();
    const controllers = Array.from({ length: 40 }, () => new AbortController());
    const responses = await Promise.all(
      controllers.map((c) => server.fetch(job.links.events, { headers: api.headers(), signal: c.signal })),
    );
    for (const res of responses) expect(res.status).toBe(200);
    await expect.poll(() => server.platform.coordinator.subscriptions(), { timeout: 5_000 }).toBeGreaterThanOrEqual(before + 40);
    for (const c of controllers) c.abort();
    await expect.poll(() => server.platform.coordinator.subscriptions(), { timeout: 5_000 }).toBeLessThanOrEqual(before);
    await api.cancel(job.id);
  });

  it('a live stream sends heartbeats while nothing changes', async () => {
    const blocker = await api.convert(slowEncode());
    await processing(blocker.id);
    const waiting = await api.convert({ input: short, output: 'mp3' }); // queued behind the blocker (pool of 1)
    const res = await server.fetch(waiting.links.events, { headers: api.headers() });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes(': heartbeat')) text += (await reader.read()).value ?? '';
    await reader.cancel();
    expect(text).toContain('event: status');
    await api.cancel(blocker.id);
    await api.cancel(waiting.id);
  });

  it('audit #25: readiness names the component that failed, with 503', async () => {
    const ready = await server.fetch('/health/ready');
    expect(await ready.json()).toMatchObject({ status: 'ok' });
    expect(ready.status).toBe(200);
    const broken = await startTestServer({ FFEDGE_POOL_SIZE: '0' }, { start: false });
    try {
      const blobs = join(broken.dir, 'data', 'blobs');
      await rm(blobs, { recursive: true, force: true });
      await writeFile(blobs, 'not a directory');
      const res = await broken.fetch('/health/ready');
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; components: Record<string, { status: string; error?: string }> };
      expect(body.status).toBe('fail');
      expect(body.components.blobs?.status).toBe('fail');
      expect(body.components.database?.status).toBe('ok');
      expect(JSON.stringify(body)).not.toContain(broken.dir);
      await rm(blobs, { force: true });
      await mkdir(blobs);
      closeDb(broken);
      const down = (await (await broken.fetch('/health/ready')).json()) as typeof body;
      expect(down.components.database?.status).toBe('fail');
    } finally {
      await broken.close().catch(() => undefined);
    }
  });

  it('audit #9: an internal error answers 500 with a request id and nothing about the server', async () => {
    const broken = await startTestServer({ FFEDGE_POOL_SIZE: '0' }, { start: false });
    try {
      const key = await broken.key();
      closeDb(broken);
      const res = await broken.fetch('/api/v1/jobs', { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(JSON.parse(body)).toMatchObject({ code: 'INTERNAL', instance: res.headers.get('x-request-id') });
      expect(body).not.toMatch(/SQLITE|libsql|node_modules|\.ts:\d|\n\s+at /i);
      expect(body).not.toContain(broken.dir);
    } finally {
      await broken.close().catch(() => undefined);
    }
  });
});

// The events of a job nobody reads must not pile up in memory either: they live in the database, bounded.
describe('events', () => {
  it('a finished job replays its events from the start for a new subscriber', async () => {
    const job = await api.convert({ input: short, output: 'mp3' });
    await api.waitFor(job.id, ['completed']);
    const events = await readEvents(await server.fetch(job.links.events, { headers: api.headers() }));
    expect(events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data).status)).toEqual(['queued', 'processing', 'completed']);
  });
});
