/**
 * Streaming packages on Workers: the JobCoordinator runs the stream kind through the attempt pipeline like any
 * other, its segments and playlists stream from the engine into R2, and the master playlist written from them is
 * downloadable with the rest by relative path.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, media, nativeRunning, newKey, type JobView } from './helpers.js';

describe('stream jobs on Workers', () => {
  it('packages an upload as HLS: every file in R2, the master playlist naming both rungs with measured bandwidths', async () => {
    const c = api((await newKey()).key);
    const input = await c.upload(media('ladder'), 'ladder.mp4');
    const res = await c.fetch('/api/v1/stream', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        input,
        format: 'hls',
        segment_duration_s: 2,
        ladder: [
          { height: 240, video: { bitrate: '400k', preset: 'ultrafast' } },
          { height: 144, video: { bitrate: '150k', preset: 'ultrafast' } },
        ],
        audio: { bitrate: '64k' },
      }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const job = (await res.json()) as JobView;
    await c.events(job.id);
    const done = await c.get(job.id);
    expect(done).toMatchObject({ status: 'completed', error: null });
    expect(done.engine).not.toBeNull();
    const names = done.outputs.map((o) => o.name);
    expect(names).toEqual(expect.arrayContaining(['hls/master.m3u8', 'hls/240p/index.m3u8', 'hls/144p/index.m3u8', 'hls/audio/index.m3u8']));
    expect(names.filter((n) => n.endsWith('.m4s')).length).toBeGreaterThanOrEqual(6);
    const master = await (await c.fetch(done.outputs.find((o) => o.name === 'hls/master.m3u8')!.url)).text();
    const variants = master.split('\n').filter((line) => line.startsWith('#EXT-X-STREAM-INF'));
    expect(variants).toHaveLength(2);
    expect(variants[0]).toMatch(/BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,RESOLUTION=320x240,FRAME-RATE=25\.000,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
    // A segment comes back by its path, with the type a player needs.
    const segment = done.outputs.find((o) => o.name === 'hls/144p/seg_00000.m4s')!;
    const got = await c.fetch(segment.url);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('video/iso.segment');
    expect((await got.arrayBuffer()).byteLength).toBe(segment.size);
  });

  it('a ladder by quality runs on the Transcoder container (libvmaf): samples carried between runs in R2, the VMAF of the rung as written', async () => {
    const c = api((await newKey()).key);
    const input = await c.upload(media('ladder'), 'ladder.mp4');
    const res = await c.fetch('/api/v1/stream', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input, format: 'dash', segment_duration_s: 2, ladder: 'auto', quality: { target_vmaf: 85 }, audio: false }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const job = (await res.json()) as JobView;
    expect(job.engine).toBe('native');
    await c.events(job.id);
    const done = await c.get(job.id);
    expect(done).toMatchObject({ status: 'completed', engine: 'native', error: null });
    const rungs = (done.result as { rungs: { name: string; quality: { crf: number; samples: { vmaf: number }[]; vmaf: { mean: number; frames: number } } }[] }).rungs;
    expect(rungs.map((r) => r.name)).toEqual(['240p']);
    const quality = rungs[0]!.quality;
    expect(quality.samples).toHaveLength(4);
    // 4 s at 25 fps, every frame of the rung as written.
    expect(quality.vmaf.frames).toBe(100);
    expect(quality.vmaf.mean).toBeGreaterThan(50);
    expect(done.outputs.filter((o) => /(^|\/)q-/.test(o.name))).toEqual([]);
    expect((await env.BLOBS.list({ prefix: `work/${job.id}/` })).objects).toEqual([]);
    expect(await nativeRunning()).toBe(0);
  });
});
