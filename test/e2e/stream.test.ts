/**
 * Streaming packages on the real Node service with real ffmpeg: HLS (fMP4 and TS), DASH and CMAF of a generated 12 s
 * clip with 3 rungs, read back with the parsers players use (m3u8-parser, mpd-parser) and checked with ffprobe:
 * every segment exists, every rung has the same segment boundaries, each segment starts with a keyframe, the
 * announced bandwidths are what the segments measure, and the CODECS strings are the streams' own.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser } from 'm3u8-parser';
import { parse as parseMpd } from 'mpd-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../src/db/schema.js';
import { client, type JobView } from '../helpers/api.js';
import { makeClip, run } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

let server: TestServer;
let api: ReturnType<typeof client>;
let input: string;

const LADDER = [
  { name: '480p', height: 480, video: { codec: 'h264', bitrate: '900k', preset: 'veryfast' } },
  { name: '360p', height: 360, video: { codec: 'h264', bitrate: '500k', preset: 'veryfast' } },
  { name: '240p', height: 240, video: { codec: 'h264', bitrate: '250k', preset: 'veryfast' } },
];

beforeAll(async () => {
  server = await startTestServer({ FFEDGE_POOL_SIZE: '1', FFEDGE_CONCURRENT_JOBS: '20', FFEDGE_WASM_THREADS: '0' });
  api = client(server, await server.key());
  const clip = join(server.dir, 'clip.mp4');
  await makeClip(clip, { seconds: 12, size: '854x480', rate: 30, audio: true });
  input = await api.upload(clip);
}, 60_000);
afterAll(async () => server?.close());

const stream = (body: Record<string, unknown>) => api.streamed(body, 120_000);

async function fetchText(job: JobView, name: string): Promise<string> {
  const output = job.outputs.find((o) => o.name === name);
  expect(output, name).toBeDefined();
  return (await api.download(output!.url)).text();
}

async function download(job: JobView, name: string): Promise<string> {
  const output = job.outputs.find((o) => o.name === name)!;
  const file = join(server.dir, `${job.id}-${name.replaceAll('/', '_')}`);
  await writeFile(file, new Uint8Array(await (await api.download(output.url)).arrayBuffer()));
  return file;
}

function parseM3u8(text: string) {
  const parser = new Parser();
  parser.push(text);
  parser.end();
  return parser.manifest as any;
}

/** The pts of every keyframe of a segment (with its init segment in front, for fMP4). */
async function keyframeTimes(files: string[]): Promise<number[]> {
  const joined = files.length > 1 ? join(server.dir, `joined-${Math.random()}.mp4`) : files[0]!;
  if (files.length > 1) {
    const { readFile } = await import('node:fs/promises');
    await writeFile(joined, Buffer.concat(await Promise.all(files.map((f) => readFile(f)))));
  }
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=pts_time,key_frame', '-of', 'json', joined]);
  const frames = (JSON.parse(stdout) as { frames: { pts_time: string; key_frame: number }[] }).frames;
  return frames.map((f, i) => ({ ...f, i })).filter((f) => f.key_frame === 1 || f.i === 0).map((f) => Number(f.pts_time) * (f.key_frame === 1 ? 1 : -1));
}

describe('HLS', () => {
  for (const segmentFormat of ['fmp4', 'ts'] as const) {
    it(`${segmentFormat}: a master playlist with measured bandwidths and the streams' codecs; every rung cut at the same keyframes`, async () => {
      const job = await stream({ input, format: 'hls', segment_format: segmentFormat, segment_duration_s: 4, ladder: LADDER, audio: { codec: 'aac', bitrate: '96k' } });
      expect(job.result.manifests).toEqual({ hls: 'hls/master.m3u8' });
      const master = parseM3u8(await fetchText(job, 'hls/master.m3u8'));
      expect(master.playlists).toHaveLength(3);
      const starts: number[][] = [];
      for (const [i, variant] of (master.playlists as any[]).entries()) {
        const rung = job.result.rungs[i];
        expect(variant.attributes.RESOLUTION).toEqual({ width: rung.width, height: rung.height });
        expect(rung.height).toBe(LADDER[i]!.height);
        expect(variant.attributes['FRAME-RATE']).toBeCloseTo(30, 3);
        const media = parseM3u8(await fetchText(job, `hls/${variant.uri}`));
        expect(media.segments.length).toBe(3);
        const dir = `hls/${variant.uri.split('/')[0]}`;
        // Bandwidth: the largest segment's rate (and the average) of video plus audio, within 10 %.
        const audio = parseM3u8(await fetchText(job, 'hls/audio/index.m3u8'));
        const rate = async (m: any, folder: string) => {
          const rates = m.segments.map((s: any) => {
            const output = job.outputs.find((o) => o.name === `${folder}/${s.uri}`)!;
            expect(output, s.uri).toBeDefined();
            return { bits: output.size * 8, duration: s.duration };
          });
          return {
            peak: Math.max(...rates.map((r: any) => r.bits / r.duration)),
            average: rates.reduce((a: number, r: any) => a + r.bits, 0) / rates.reduce((a: number, r: any) => a + r.duration, 0),
          };
        };
        const v = await rate(media, dir);
        const a = await rate(audio, 'hls/audio');
        expect(Math.abs(variant.attributes.BANDWIDTH - (v.peak + a.peak)) / variant.attributes.BANDWIDTH).toBeLessThan(0.1);
        expect(Math.abs(variant.attributes['AVERAGE-BANDWIDTH'] - (v.average + a.average)) / variant.attributes['AVERAGE-BANDWIDTH']).toBeLessThan(0.1);
        // CODECS: what ffprobe says the stream is.
        const init = segmentFormat === 'fmp4' ? [await download(job, `${dir}/${media.segments[0].map.uri}`)] : [];
        const first = await download(job, `${dir}/${media.segments[0].uri}`);
        const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=profile,level,codec_name', '-of', 'json', init.length > 0 ? await joinFiles([...init, first]) : first]);
        const probed = JSON.parse(stdout).streams[0];
        expect(probed.codec_name).toBe('h264');
        const [videoCodecs, audioCodecs] = variant.attributes.CODECS.split(',');
        expect(videoCodecs.slice(5, 7)).toBe({ High: '64', Main: '4d', Baseline: '42', 'Constrained Baseline': '42' }[probed.profile as string]);
        expect(parseInt(videoCodecs.slice(9, 11), 16)).toBe(probed.level);
        expect(audioCodecs).toBe('mp4a.40.2');
        // Each segment starts with a keyframe, at the same time in every rung.
        const times: number[] = [];
        for (const segment of media.segments) {
          const file = await download(job, `${dir}/${segment.uri}`);
          const keys = await keyframeTimes(segmentFormat === 'fmp4' ? [...init, file] : [file]);
          expect(keys[0], `${dir}/${segment.uri} starts with a keyframe`).toBeGreaterThanOrEqual(0);
          times.push(Math.round(keys[0]! * 10) / 10);
        }
        starts.push(times);
      }
      expect(starts[1]).toEqual(starts[0]);
      expect(starts[2]).toEqual(starts[0]);
    }, 180_000);
  }
});

async function joinFiles(files: string[]): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const joined = join(server.dir, `joined-${Math.random()}.mp4`);
  await writeFile(joined, Buffer.concat(await Promise.all(files.map((f) => readFile(f)))));
  return joined;
}

describe('DASH and CMAF', () => {
  for (const format of ['dash', 'cmaf'] as const) {
    it(`${format}: an MPD whose representations match the segments, ${format === 'cmaf' ? 'and an HLS master over the same segments' : 'fMP4 only'}`, async () => {
      const job = await stream({ input, format, segment_duration_s: 4, ladder: LADDER });
      const mpdText = await fetchText(job, `${format}/manifest.mpd`);
      const manifest = parseMpd(mpdText, { manifestUri: `http://x/${format}/manifest.mpd` }) as any;
      expect(manifest.playlists).toHaveLength(3);
      for (const [i, playlist] of (manifest.playlists as any[]).entries()) {
        const rung = job.result.rungs[i];
        expect(playlist.attributes.RESOLUTION).toEqual({ width: rung.width, height: rung.height });
        expect(playlist.attributes.BANDWIDTH).toBe(rung.bitrate.peak);
        for (const segment of playlist.segments) {
          const name = new URL(segment.resolvedUri).pathname.slice(1);
          expect(job.outputs.some((o) => o.name === name), name).toBe(true);
        }
      }
      if (format === 'cmaf') {
        const master = parseM3u8(await fetchText(job, 'cmaf/master.m3u8'));
        expect(master.playlists).toHaveLength(3);
        for (const variant of master.playlists as any[]) {
          const media = parseM3u8(await fetchText(job, `cmaf/${variant.uri}`));
          for (const segment of media.segments) expect(job.outputs.some((o) => o.name === `cmaf/${segment.uri}`)).toBe(true);
        }
      } else {
        expect(job.outputs.some((o) => o.name.endsWith('.m3u8'))).toBe(false);
      }
    }, 180_000);
  }
});

describe('other codecs and the thumbnail track', () => {
  let small: string;
  beforeAll(async () => {
    const clip = join(server.dir, 'small.mp4');
    await makeClip(clip, { seconds: 4, size: '320x240', rate: 25, audio: true });
    small = await api.upload(clip);
  });
  const two = (codec: string) => [
    { height: 240, video: { codec, bitrate: '300k', preset: 'ultrafast' } },
    { height: 144, video: { codec, bitrate: '120k', preset: 'ultrafast' } },
  ];

  for (const [format, codec, audio, expected] of [
    ['hls', 'h265', 'aac', /^hvc1\./],
    ['cmaf', 'vp9', 'opus', /^vp09\.00\./],
    ['dash', 'av1', 'aac', /^av01\.0\./],
  ] as const) {
    it(`${format} with ${codec} video and ${audio} audio names them by their own codec strings`, async () => {
      const job = await stream({ input: small, format, segment_duration_s: 2, ladder: two(codec), audio: { codec: audio, bitrate: '64k' } });
      expect(job.result.rungs.map((r: any) => r.codecs)).toEqual([expect.stringMatching(expected), expect.stringMatching(expected)]);
      expect(job.result.audio.codecs).toBe(audio === 'opus' ? 'opus' : 'mp4a.40.2');
      const probed = JSON.parse(
        (await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', await download(job, job.outputs.find((o) => o.name.includes('init'))!.name)])).stdout,
      ).streams[0].codec_name;
      expect(probed).toBe({ h265: 'hevc', vp9: 'vp9', av1: 'av1' }[codec]);
      if (format !== 'dash') {
        const master = await fetchText(job, `${format}/master.m3u8`);
        expect(master).toMatch(new RegExp(`CODECS="${expected.source.slice(1)}`));
      }
    }, 180_000);
  }

  it('a trick-play sprite with its WebVTT track, named by the HLS master (image stream) and the MPD (thumbnail tiles)', async () => {
    for (const format of ['hls', 'dash'] as const) {
      const job = await stream({ input: small, format, segment_duration_s: 2, ladder: two('h264'), thumbnails: { interval_s: 1, columns: 2, tile_width: 80 } });
      const sprite = await download(job, `${format}/thumbs/sprite.jpg`);
      const probed = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'json', sprite])).stdout).streams[0];
      // 4 tiles of 80x60 in 2 columns.
      expect(probed).toEqual({ width: 160, height: 120 });
      const vtt = await fetchText(job, `${format}/thumbs/thumbs.vtt`);
      expect(vtt.split('\n').filter((l) => l.includes('#xywh='))).toEqual([
        'sprite.jpg#xywh=0,0,80,60',
        'sprite.jpg#xywh=80,0,80,60',
        'sprite.jpg#xywh=0,60,80,60',
        'sprite.jpg#xywh=80,60,80,60',
      ]);
      if (format === 'hls') {
        expect(await fetchText(job, 'hls/master.m3u8')).toMatch(/#EXT-X-IMAGE-STREAM-INF:.*RESOLUTION=80x60.*URI="thumbs\/index\.m3u8"/);
        expect(await fetchText(job, 'hls/thumbs/index.m3u8')).toMatch(/#EXT-X-TILES:RESOLUTION=80x60,LAYOUT=2x2,DURATION=1/);
      } else {
        expect(await fetchText(job, 'dash/manifest.mpd')).toMatch(/thumbnail_tile" value="2x2"/);
      }
    }
  }, 180_000);
});

describe('the archive', () => {
  it('keeps the whole package as one .zip as well, with the playlists written after the run', async () => {
    const job = await stream({ input, format: 'hls', segment_duration_s: 4, ladder: LADDER.slice(1), options: { archive: true } });
    expect(job.result.archive).toBe('hls.zip');
    const zip = await download(job, 'hls.zip');
    const { stdout } = await run('python3', ['-c', 'import sys, zipfile, json; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(json.dumps({i.filename: i.file_size for i in z.infolist()}))', zip]);
    const listed = JSON.parse(stdout) as Record<string, number>;
    const packaged = job.outputs.filter((o) => o.name.startsWith('hls/'));
    expect(Object.keys(listed).sort()).toEqual(packaged.map((o) => o.name).sort());
    for (const output of packaged) expect(listed[output.name], output.name).toBe(output.size);
  }, 180_000);
});

describe('the auto ladder', () => {
  it('never goes above the input, and a rung above it is left out with a warning, not upscaled', async () => {
    const job = await stream({ input, format: 'hls', ladder: [{ height: 720, video: { bitrate: '2M', preset: 'ultrafast' } }, ...LADDER.slice(1)] });
    expect(job.result.rungs.map((r: any) => r.height)).toEqual([360, 240]);
    expect(job.result.warnings).toEqual([expect.stringMatching(/720p.*left out/)]);
  }, 180_000);
});

describe('a ladder by quality without libvmaf', () => {
  it('is refused at submission with 422 naming libvmaf at /quality, and nothing is stored', async () => {
    const before = await server.platform.db.select().from(jobs).all();
    const res = await server.fetch('/api/v1/stream', {
      method: 'POST',
      headers: api.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ input, format: 'hls', ladder: 'auto', quality: { target_vmaf: 93 } }),
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { code: string; detail: string; errors: { pointer: string; message: string; suggestion?: string }[] };
    expect(body.code).toBe('ENGINE_INCAPABLE');
    expect(body.detail).toMatch(/libvmaf/);
    expect(body.errors).toContainEqual(expect.objectContaining({ pointer: '/quality', message: 'no filter libvmaf', suggestion: expect.stringMatching(/leave quality out/) }));
    expect(await server.platform.db.select().from(jobs).all()).toEqual(before);
  });
});
