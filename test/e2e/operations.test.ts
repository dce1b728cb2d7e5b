/**
 * Every operation end to end: upload -> convert -> download on the real Node service with real ffmpeg, and the
 * effect checked with ffprobe (sizes, durations, streams, frame counts, tags) and, for crop, flip, colour,
 * watermark and text, with pixel values read back from a frame.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type JobView } from '../helpers/api.js';
import { makeClip, run } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { readEvents } from '../helpers/sse.js';

let server: TestServer;
let api: ReturnType<typeof client>;
/** 2 s of testsrc2 at 320x240, 25 fps, with a 440 Hz tone. */
let clip: string;
/** 1 s at 160x120 without sound. */
let silent: string;
/** 2 s, left half red and right half blue, with a tone. */
let halves: string;
/** 2 s of black with a tone. */
let black: string;
/** A 64x32 pure green PNG. */
let green: string;

beforeAll(async () => {
  server = await startTestServer({ FFEDGE_POOL_SIZE: '2', FFEDGE_CONCURRENT_JOBS: '50' });
  api = client(server, await server.key());
  const file = (name: string) => join(server.dir, name);
  await makeClip(file('clip.mp4'), { seconds: 2 });
  await makeClip(file('silent.mp4'), { seconds: 1, size: '160x120', audio: false });
  await lavfi(file('halves.mp4'), 'color=c=red:s=160x240:d=2:r=25[l];color=c=blue:s=160x240:d=2:r=25[r];[l][r]hstack');
  await lavfi(file('black.mp4'), 'color=c=black:s=320x240:d=2:r=25');
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x00ff00:s=64x32', '-frames:v', '1', file('green.png')]);
  [clip, silent, halves, black, green] = await Promise.all([
    api.upload(file('clip.mp4')),
    api.upload(file('silent.mp4')),
    api.upload(file('halves.mp4')),
    api.upload(file('black.mp4')),
    api.upload(file('green.png'), 'green.png'),
  ]);
});
afterAll(async () => server?.close());

/** A clip from a lavfi graph, with a tone, as H.264 4:2:0 + AAC. */
async function lavfi(file: string, graph: string): Promise<void> {
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2',
    '-filter_complex', `${graph}[v]`, '-map', '[v]', '-map', '0:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', file,
  ]);
}

async function convert(body: Record<string, unknown>): Promise<JobView> {
  const job = await api.convert(body);
  const done = await api.waitFor(job.id, ['completed', 'failed']);
  expect(done.error, JSON.stringify(done.error)).toBeNull();
  return done;
}

/** Downloads an output of a finished job into the test dir. */
async function download(job: JobView, name?: string): Promise<string> {
  const output = name ? job.outputs.find((o) => o.name === name) : job.outputs[0];
  expect(output, `output ${name}`).toBeDefined();
  const res = await api.download(output!.url);
  expect(res.status).toBe(200);
  const file = join(server.dir, `${job.id}-${output!.name}`);
  await writeFile(file, new Uint8Array(await res.arrayBuffer()));
  return file;
}

interface Stream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  nb_read_frames?: string;
  duration?: string;
  sample_rate?: string;
  channels?: number;
}
interface Probe {
  format: { format_name: string; duration?: string; tags?: Record<string, string> };
  streams: Stream[];
}

async function probe(file: string, countFrames = false): Promise<Probe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', ...(countFrames ? ['-count_frames'] : []), '-print_format', 'json', '-show_format', '-show_streams', file]);
  return JSON.parse(stdout) as Probe;
}

const video = (p: Probe) => p.streams.find((s) => s.codec_type === 'video');
const audio = (p: Probe) => p.streams.find((s) => s.codec_type === 'audio');
const seconds = (p: Probe) => Number(p.format.duration);

/** The MD5 of every decoded video frame, in order: frames of two files compared by their pixels. */
async function frameHashes(file: string): Promise<string[]> {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'framemd5', '-']);
  return stdout
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(',').at(-1)!.trim());
}

/** The average [R, G, B] of a region of the frame at `at` seconds. */
async function regionAverage(file: string, region: { x: number; y: number; w: number; h: number }, at = 0.5): Promise<[number, number, number]> {
  const raw = join(server.dir, `region-${Math.random().toString(36).slice(2)}.rgb`);
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-ss', String(at), '-i', file,
    '-vf', `crop=${region.w}:${region.h}:${region.x}:${region.y}`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', raw,
  ]);
  const bytes = await readFile(raw);
  const sum = [0, 0, 0];
  for (let i = 0; i < bytes.length; i++) sum[i % 3]! += bytes[i]!;
  const pixels = bytes.length / 3;
  return [sum[0]! / pixels, sum[1]! / pixels, sum[2]! / pixels];
}

/** The integrated loudness (LUFS) of a file's audio, by ffmpeg's loudnorm analysis. */
async function loudness(file: string): Promise<number> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-vn', '-af', 'loudnorm=print_format=json', '-f', 'null', '-']);
  return Number(/"input_i" : "(-?[\d.]+)"/.exec(stderr)![1]);
}

describe('operations on native ffmpeg', () => {
  it.each([
    ['a width', { type: 'resize', width: 160 }, [160, 120]],
    ['a named size, never upscaled', { type: 'resize', size: '720p' }, [320, 240]],
    ['a box, covered and cropped', { type: 'resize', width: 100, height: 100, fit: 'cover' }, [100, 100]],
    ['a box, padded', { type: 'resize', width: 200, height: 200, fit: 'pad' }, [200, 200]],
    ['a 90° turn', { type: 'rotate', degrees: 90 }, [240, 320]],
  ])('resize / rotate: %s', async (_name, operation, [width, height]) => {
    const job = await convert({ input: clip, output: { format: 'mp4', video: { preset: 'ultrafast' } }, operations: [operation] });
    const p = await probe(await download(job));
    expect(video(p)).toMatchObject({ codec_name: 'h264', width, height });
    expect(Math.abs(seconds(p) - 2)).toBeLessThanOrEqual(0.1);
  });

  it('crop keeps the rectangle asked for: the right half of a red|blue frame is blue', async () => {
    const job = await convert({ input: halves, output: { format: 'mp4', video: { preset: 'ultrafast' } }, operations: [{ type: 'crop', width: 160, height: 240, x: 160, y: 0 }] });
    const file = await download(job);
    expect(video(await probe(file))).toMatchObject({ width: 160, height: 240 });
    const [r, g, b] = await regionAverage(file, { x: 20, y: 20, w: 120, h: 200 });
    expect(b).toBeGreaterThan(200);
    expect(r).toBeLessThan(40);
    expect(g).toBeLessThan(40);
  });

  it('flip mirrors the frame: red moves to the right', async () => {
    const job = await convert({ input: halves, output: { format: 'mp4', video: { preset: 'ultrafast' } }, operations: [{ type: 'flip', direction: 'horizontal' }] });
    const file = await download(job);
    const [leftR, , leftB] = await regionAverage(file, { x: 20, y: 20, w: 100, h: 200 });
    const [rightR, , rightB] = await regionAverage(file, { x: 200, y: 20, w: 100, h: 200 });
    expect(leftB).toBeGreaterThan(200);
    expect(leftR).toBeLessThan(40);
    expect(rightR).toBeGreaterThan(200);
    expect(rightB).toBeLessThan(40);
  });

  it('fps sets the frame count; speed halves the duration of video and audio', async () => {
    const job = await convert({ input: clip, output: { format: 'mp4', video: { preset: 'ultrafast' } }, operations: [{ type: 'fps', fps: 10 }, { type: 'speed', factor: 2 }] });
    const p = await probe(await download(job), true);
    expect(Math.abs(seconds(p) - 1)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(Number(video(p)!.duration) - 1)).toBeLessThanOrEqual(0.15);
    expect(Math.abs(Number(audio(p)!.duration) - 1)).toBeLessThanOrEqual(0.15);
    expect(video(p)!.r_frame_rate).toBe('10/1');
    expect(Math.abs(Number(video(p)!.nb_read_frames) - 10)).toBeLessThanOrEqual(1);
  });

  it('colour and picture filters run; saturation 0 turns red and blue grey', async () => {
    const job = await convert({
      input: halves,
      output: { format: 'mp4', video: { preset: 'ultrafast' } },
      operations: [{ type: 'denoise', strength: 'light' }, { type: 'deinterlace' }, { type: 'sharpen' }, { type: 'blur', sigma: 0.5 }, { type: 'hue', degrees: 30 }, { type: 'color', saturation: 0, brightness: 0.05 }],
    });
    const file = await download(job);
    expect(video(await probe(file))).toMatchObject({ width: 320, height: 240 });
    for (const x of [20, 200]) {
      const [r, g, b] = await regionAverage(file, { x, y: 20, w: 100, h: 200 });
      expect(Math.max(r, g, b) - Math.min(r, g, b)).toBeLessThan(12);
    }
  });

  it('watermark: a green image at the top left, opaque; the rest of the black frame stays black', async () => {
    const job = await convert({
      input: black,
      output: { format: 'mp4', video: { preset: 'ultrafast' } },
      operations: [{ type: 'watermark', image: green, position: 'top-left', margin: 10, scale: 0.25 }],
    });
    const file = await download(job);
    // 25% of 320 is 80 wide, 40 high, at (10, 10).
    const [r, g, b] = await regionAverage(file, { x: 20, y: 18, w: 60, h: 24 });
    expect(g).toBeGreaterThan(200);
    expect(r).toBeLessThan(40);
    expect(b).toBeLessThan(40);
    const corner = await regionAverage(file, { x: 220, y: 160, w: 80, h: 60 });
    expect(Math.max(...corner)).toBeLessThan(30);
  });

  it('watermark opacity blends the image with the frame', async () => {
    const job = await convert({ input: black, output: { format: 'mp4', video: { preset: 'ultrafast' } }, operations: [{ type: 'watermark', image: green, position: 'center', opacity: 0.5 }] });
    const [, g] = await regionAverage(await download(job), { x: 140, y: 110, w: 40, h: 20 });
    expect(g).toBeGreaterThan(90);
    expect(g).toBeLessThan(170);
  });

  it('text: a caption with hostile characters is drawn inside its box, and only there', async () => {
    const job = await convert({
      input: black,
      output: { format: 'mp4', video: { preset: 'ultrafast' } },
      operations: [{ type: 'text', text: "WW'W:W,W;W[W]W\\W%{pts}", position: 'center', size: 40, color: 'white', box: true, box_color: 'white', box_opacity: 1 }],
    });
    const file = await download(job);
    const middle = await regionAverage(file, { x: 120, y: 110, w: 80, h: 20 });
    expect(Math.min(...middle)).toBeGreaterThan(180);
    const top = await regionAverage(file, { x: 0, y: 0, w: 320, h: 40 });
    expect(Math.max(...top)).toBeLessThan(30);
  });

  it('text shows only within its time window', async () => {
    const job = await convert({
      input: black,
      output: { format: 'mp4', video: { preset: 'ultrafast' } },
      operations: [{ type: 'text', text: 'X', size: 80, position: 'center', box: true, box_color: 'white', box_opacity: 1, color: 'white', start: 1, end: 2 }],
    });
    const file = await download(job);
    const before = await regionAverage(file, { x: 140, y: 100, w: 40, h: 40 }, 0.5);
    const during = await regionAverage(file, { x: 140, y: 100, w: 40, h: 40 }, 1.5);
    expect(Math.max(...before)).toBeLessThan(30);
    expect(Math.min(...during)).toBeGreaterThan(180);
  });

  it('stabilize runs its two passes and keeps the frame and duration', async () => {
    const job = await convert({ input: clip, output: { format: 'mp4', video: { preset: 'ultrafast' } }, operations: [{ type: 'stabilize', strength: 'light' }] });
    const p = await probe(await download(job));
    expect(video(p)).toMatchObject({ width: 320, height: 240 });
    expect(Math.abs(seconds(p) - 2)).toBeLessThanOrEqual(0.1);
  });

  it('loudnorm: two passes bring the loudness to the target, with progress rising across both', async () => {
    const before = await loudness(join(server.dir, 'clip.mp4'));
    const job = await api.convert({ input: clip, output: 'm4a', operations: [{ type: 'loudnorm', integrated: -14, true_peak: -1 }] });
    const events = await readEvents(await server.fetch(job.links.events, { headers: api.headers() }));
    const percentages = events
      .filter((e) => e.event === 'progress')
      .map((e) => (JSON.parse(e.data) as { percentage: number | null }).percentage)
      .filter((p): p is number => p !== null);
    expect(percentages).toEqual([...percentages].sort((a, b) => a - b));
    const done = await api.get(job.id);
    expect(done.status).toBe('completed');
    expect(done.progress.percentage).toBe(100);
    expect(done.result).toMatchObject({ loudness: { input_i: expect.any(Number) } });
    expect(Math.abs((done.result!.loudness as { input_i: number }).input_i - before)).toBeLessThan(0.5);
    const after = await loudness(await download(done));
    expect(Math.abs(before - -14)).toBeGreaterThan(3);
    expect(Math.abs(after - -14)).toBeLessThanOrEqual(1.5);
  });

  it('volume changes the gain by the dB asked for', async () => {
    const before = await loudness(join(server.dir, 'clip.mp4'));
    const job = await convert({ input: clip, output: 'm4a', operations: [{ type: 'volume', db: -6 }] });
    expect(Math.abs((await loudness(await download(job))) - (before - 6))).toBeLessThanOrEqual(0.5);
  });

  it('remove_audio and extract_audio keep one stream, copied as it was', async () => {
    const videoOnly = await convert({ input: clip, output: 'mp4', operations: [{ type: 'remove_audio' }] });
    expect((await probe(await download(videoOnly))).streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['video:h264']);
    const audioOnly = await convert({ input: clip, output: 'm4a', operations: [{ type: 'extract_audio' }] });
    expect((await probe(await download(audioOnly))).streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['audio:aac']);
    expect(audioOnly.result).toMatchObject({ stream_copy: true });
  });

  it('concat joins inputs of different sizes, with and without sound, into one timeline', async () => {
    const job = await convert({ input: clip, output: { format: 'mp4', video: { preset: 'ultrafast' } }, operations: [{ type: 'concat', inputs: [silent, clip] }] });
    const p = await probe(await download(job));
    expect(video(p)).toMatchObject({ width: 320, height: 240 });
    expect(audio(p)?.codec_name).toBe('aac');
    expect(Math.abs(seconds(p) - 5)).toBeLessThanOrEqual(0.15);
    expect((job.result as { inputs: unknown[] }).inputs).toHaveLength(2);
  });

  it('thumbnails: N evenly spaced frames, each its own output', async () => {
    const job = await convert({ input: clip, output: 'jpg', operations: [{ type: 'resize', width: 160 }, { type: 'thumbnails', count: 3 }] });
    expect(job.outputs.map((o) => [o.name, o.content_type])).toEqual([
      ['thumb-001.jpg', 'image/jpeg'],
      ['thumb-002.jpg', 'image/jpeg'],
      ['thumb-003.jpg', 'image/jpeg'],
    ]);
    const files = await Promise.all(job.outputs.map((o) => download(job, o.name)));
    for (const file of files) expect(video(await probe(file))).toMatchObject({ codec_name: 'mjpeg', width: 160, height: 120 });
    const contents = await Promise.all(files.map((file) => readFile(file)));
    expect(new Set(contents.map((c) => c.toString('base64'))).size).toBe(3);
  });

  it('sprite: one sheet of tiles and a WebVTT index pointing at each', async () => {
    const job = await convert({ input: clip, output: 'jpg', operations: [{ type: 'sprite', count: 4, columns: 2, tile_width: 80 }] });
    expect(job.outputs.map((o) => [o.name, o.content_type])).toEqual([
      ['sprite.jpg', 'image/jpeg'],
      ['sprite.vtt', 'text/vtt; charset=utf-8'],
    ]);
    expect(video(await probe(await download(job, 'sprite.jpg')))).toMatchObject({ width: 160, height: 120 });
    const vtt = await readFile(await download(job, 'sprite.vtt'), 'utf8');
    expect(vtt.startsWith('WEBVTT\n')).toBe(true);
    expect(vtt.match(/sprite\.jpg#xywh=\d+,\d+,80,60/g)).toHaveLength(4);
    expect(vtt).toContain('00:00:01.500 --> 00:00:02.000\nsprite.jpg#xywh=80,60,80,60');
  });

  it('animated GIF and WebP previews, and a still PNG', async () => {
    const gif = await convert({ input: clip, preset: 'gif-preview' });
    const gifProbe = await probe(await download(gif), true);
    expect(video(gifProbe)).toMatchObject({ codec_name: 'gif', width: 320, height: 240 });
    expect(Math.abs(Number(video(gifProbe)!.nb_read_frames) - 20)).toBeLessThanOrEqual(1);

    const webp = await convert({ input: clip, output: 'webp', operations: [{ type: 'trim', duration: 1 }, { type: 'fps', fps: 5 }] });
    const webpFile = await download(webp);
    expect((await readFile(webpFile)).subarray(0, 4).toString()).toBe('RIFF');
    expect((await readFile(webpFile)).includes(Buffer.from('ANMF'))).toBe(true);

    const png = await convert({ input: clip, output: 'png', operations: [{ type: 'trim', start: 1 }] });
    const pngProbe = await probe(await download(png), true);
    expect(video(pngProbe)).toMatchObject({ codec_name: 'png', width: 320, height: 240, nb_read_frames: '1' });
  });

  it('metadata: tags as given, with the input’s own stripped', async () => {
    const title = "Title: a=b -i x; 'q' [1,2] «ünïcode»";
    const job = await convert({ input: clip, output: 'mkv', operations: [{ type: 'metadata', tags: { title, comment: '-f null -' }, strip: true }] });
    const tags = Object.fromEntries(Object.entries((await probe(await download(job))).format.tags ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    expect(tags.title).toBe(title);
    expect(tags.comment).toBe('-f null -');
    expect(job.result).toMatchObject({ stream_copy: true });
  });

  it('stream copy: a container change and a keyframe trim copy without encoding', async () => {
    const ts = await convert({ input: clip, output: 'ts' });
    expect(ts.result).toMatchObject({ stream_copy: true });
    const tsProbe = await probe(await download(ts));
    expect(tsProbe.format.format_name).toBe('mpegts');
    expect(tsProbe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const cut = await convert({ input: clip, output: 'mkv', operations: [{ type: 'trim', start: 0, end: 1, mode: 'keyframe' }] });
    expect(cut.result).toMatchObject({ stream_copy: true });
    expect(seconds(await probe(await download(cut)))).toBeLessThanOrEqual(2.05);
    // Shorter than the 2 s input: an ignored trim copies all of it.
    expect(seconds(await probe(await download(cut)))).toBeLessThan(1.5);
  });

  it('a keyframe trim starts at the keyframe before start and ends at end, copying', async () => {
    // 4 s with a keyframe every second exactly (0, 1, 2, 3 s): a copy cut from 1.5 s can only start at the 1 s one.
    const file = join(server.dir, 'keyframes.mp4');
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=4',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-shortest', file,
    ]);
    const input = await api.upload(file);
    const job = await convert({ input, output: 'mkv', operations: [{ type: 'trim', start: 1.5, end: 3.5, mode: 'keyframe' }] });
    expect(job.result).toMatchObject({ stream_copy: true });
    const out = await download(job);
    // The first frame shown is the input's frame 25 (the keyframe at 1 s), not frame 0 (no trim) nor 37 (an exact cut).
    const inputFrames = await frameHashes(file);
    const [first] = await frameHashes(out);
    expect(inputFrames.indexOf(first!)).toBe(25);
    // From that keyframe to end: about 2.5 s of the 4 s input.
    expect(seconds(await probe(out))).toBeGreaterThan(2.3);
    expect(seconds(await probe(out))).toBeLessThan(2.75);
  });

  it('audio formats of the matrix: opus, aac, flac, wav', async () => {
    for (const [format, codec] of [['opus', 'opus'], ['aac', 'aac'], ['flac', 'flac'], ['wav', 'pcm_s16le']] as const) {
      const job = await convert({ input: clip, output: format, options: { stream_copy: 'never' } });
      expect((await probe(await download(job))).streams.map((s) => s.codec_name), format).toEqual([codec]);
    }
  });
});
