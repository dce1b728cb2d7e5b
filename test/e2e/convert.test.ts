/** Upload -> convert -> events -> download on the real Node service with real ffmpeg. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/api.js';
import { ffprobe, makeClip, run } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { readEvents } from '../helpers/sse.js';

let server: TestServer;
let api: ReturnType<typeof client>;
let input: string;

beforeAll(async () => {
  server = await startTestServer({ FFEDGE_POOL_SIZE: '2', FFEDGE_CONCURRENT_JOBS: '20' });
  api = client(server, await server.key());
  const clip = join(server.dir, 'clip.mp4');
  await makeClip(clip, { seconds: 2 });
  input = await api.upload(clip);
});
afterAll(async () => server?.close());

async function outputOf(jobId: string, name?: string): Promise<string> {
  const job = await api.waitFor(jobId, ['completed', 'failed']);
  expect(job.error).toBeNull();
  expect(job.status).toBe('completed');
  const output = name ? job.outputs.find((o) => o.name === name)! : job.outputs[0]!;
  const res = await api.download(output.url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(output.content_type);
  const file = join(server.dir, `${jobId}-${output.name}`);
  await writeFile(file, new Uint8Array(await res.arrayBuffer()));
  return file;
}

function duration(probe: Awaited<ReturnType<typeof ffprobe>>): number {
  return Number(probe.format.duration);
}

describe('convert on native ffmpeg', () => {
  it.each([
    ['mp4', 'mp4', undefined, 'h264', 'aac', 2],
    ['webm', 'webm', undefined, 'vp9', 'opus', 2],
    ['mp4 trimmed', 'mp4', { start: 0.5, end: 1.5 }, 'h264', 'aac', 1],
    ['webm trimmed', 'webm', { start: '00:00:00.250', duration: 1.25 }, 'vp9', 'opus', 1.25],
  ] as const)('%s has the right codecs, size and duration', async (_name, format, trim, video, audio, seconds) => {
    const job = await api.convert({ input, output: format, ...(trim ? { operations: [{ type: 'trim', ...trim }] } : {}) });
    const probe = await ffprobe(await outputOf(job.id));
    const v = probe.streams.find((s) => s.codec_type === 'video');
    const a = probe.streams.find((s) => s.codec_type === 'audio');
    expect(v).toMatchObject({ codec_name: video, width: 320, height: 240 });
    expect(a?.codec_name).toBe(audio);
    expect(Math.abs(duration(probe) - seconds)).toBeLessThanOrEqual(0.1);
  });

  it.each([
    ['mp3', undefined, 2],
    ['mp3 trimmed', { start: 1 }, 1],
  ] as const)('%s is audio only with the right duration', async (_name, trim, seconds) => {
    const job = await api.convert({ input, output: 'mp3', ...(trim ? { operations: [{ type: 'trim', ...trim }] } : {}) });
    const probe = await ffprobe(await outputOf(job.id));
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['audio:mp3']);
    expect(Math.abs(duration(probe) - seconds)).toBeLessThanOrEqual(0.1);
  });

  it('scales and sets codec options from the request', async () => {
    const job = await api.convert({
      input,
      output: { format: 'mp4', video: { codec: 'h264', resolution: '160x120', crf: 30, preset: 'veryfast', fps: 10 }, audio: false },
    });
    const probe = await ffprobe(await outputOf(job.id));
    expect(probe.streams.map((s) => s.codec_type)).toEqual(['video']);
    expect(probe.streams[0]).toMatchObject({ width: 160, height: 120 });
  });

  it('SSE shows rising progress, then completion, then a final done event', async () => {
    const long = join(server.dir, 'long.mp4');
    await makeClip(long, { seconds: 8, size: '640x360' });
    const uri = await api.upload(long);
    const job = await api.convert({ input: uri, output: { format: 'mp4', video: { codec: 'h264', preset: 'medium' } } });
    const events = await readEvents(await server.fetch(job.links.events, { headers: api.headers() }));
    const percentages = events
      .filter((e) => e.event === 'progress')
      .map((e) => (JSON.parse(e.data) as { percentage: number | null }).percentage)
      .filter((p): p is number => p !== null);
    expect(percentages.length).toBeGreaterThanOrEqual(2);
    expect(percentages).toEqual([...percentages].sort((a, b) => a - b));
    expect(new Set(percentages).size).toBeGreaterThan(1);
    const statuses = events.filter((e) => e.event === 'status').map((e) => (JSON.parse(e.data) as { status: string }).status);
    expect(statuses).toEqual(['queued', 'processing', 'completed']);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(JSON.parse(done.data)).toMatchObject({ id: job.id, status: 'completed', progress: { percentage: 100 } });

    // Resuming after the last seen id replays nothing but the end; resuming earlier replays what was missed.
    const withIds = events.filter((e) => e.id);
    const resumed = await readEvents(await server.fetch(job.links.events, { headers: api.headers({ 'last-event-id': withIds.at(-1)!.id! }) }));
    expect(resumed.map((e) => e.event)).toEqual(['done']);
    const replay = await readEvents(await server.fetch(job.links.events, { headers: api.headers({ 'last-event-id': withIds.at(-2)!.id! }) }));
    expect(replay.map((e) => e.event)).toEqual(['status', 'done']);
  });

  it('serves an output with Range, ETag and a safe Content-Disposition', async () => {
    const job = await api.convert({ input, output: 'mp3' });
    await api.waitFor(job.id, ['completed']);
    const view = await api.get(job.id);
    const out = view.outputs[0]!;
    const part = await api.download(out.url, { range: 'bytes=10-19' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${out.size}`);
    expect((await part.arrayBuffer()).byteLength).toBe(10);
    const tail = await api.download(out.url, { range: 'bytes=-5' });
    expect((await tail.arrayBuffer()).byteLength).toBe(5);
    const beyond = await api.download(out.url, { range: `bytes=${out.size}-` });
    expect(beyond.status).toBe(416);
    const whole = await api.download(out.url);
    expect(whole.headers.get('content-disposition')).toMatch(/^attachment; filename="output\.mp3"/);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(whole.headers.get('content-length'))).toBe(out.size);
    await whole.body?.cancel();
  });

  it('probes a small input and answers at once with the result', async () => {
    const res = await server.fetch('/api/v1/probe', {
      method: 'POST',
      headers: api.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ input }),
    });
    expect(res.status).toBe(200);
    const job = (await res.json()) as { status: string; result: { duration_s: number; streams: { type: string; codec: string; width?: number }[] } };
    expect(job.status).toBe('completed');
    expect(Math.abs(job.result.duration_s - 2)).toBeLessThanOrEqual(0.1);
    expect(job.result.streams).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'video', codec: 'h264', width: 320 }), expect.objectContaining({ type: 'audio', codec: 'aac' })]),
    );
  });

  it('audit #9: a failed job tells the client a code and a safe message, and its log has no server paths', async () => {
    const junk = await api.upload(new TextEncoder().encode('this is not a video at all'.repeat(100)), 'junk.mp4');
    const job = await api.convert({ input: junk, output: 'mp4' });
    const failed = await api.waitFor(job.id, ['failed']);
    expect(failed.error).toEqual({ code: 'INVALID_INPUT', message: expect.any(String) });
    const text = JSON.stringify(failed) + (await (await server.fetch(failed.links.logs, { headers: api.headers() })).text());
    expect(text).not.toContain(server.dir);
    expect(text).not.toMatch(/\/tmp\/|\/root\/|\/home\/|at [\w.]+ \(/);
  });

  it('audit #21: a zero-duration input gives null percentages and a valid job, never a crash', async () => {
    const empty = join(server.dir, 'empty.wav');
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', '0', empty]);
    const uri = await api.upload(empty, 'empty.wav');
    const job = await api.convert({ input: uri, output: 'mp3' });
    const events = await readEvents(await server.fetch(job.links.events, { headers: api.headers() }));
    const done = JSON.parse(events.at(-1)!.data) as { status: string };
    expect(done.status).toBe('completed');
    for (const e of events.filter((e) => e.event === 'progress')) {
      expect((JSON.parse(e.data) as { percentage: number | null }).percentage).toBeNull();
    }
  });
});
