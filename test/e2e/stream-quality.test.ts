/**
 * A ladder by quality on the real Node service: `ladder: "auto"` with `quality.target_vmaf`, on Debian's ffmpeg for
 * the encodes and the static ffmpeg with libvmaf for the scores (as the container image has them). Checked: each rung
 * gets the highest CRF its samples say meets its target; the VMAF the result reports per rung is the one the same
 * ffmpeg gives for the rung as written, compared by hand; a lower target gives a higher CRF and fewer bits; the
 * samples are nobody's output and leave nothing behind.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser } from 'm3u8-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type JobView } from '../helpers/api.js';
import { makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { VMAF_ENV, VMAF_FFMPEG, VMAF_MODEL_DIR } from '../helpers/vmaf.js';

let server: TestServer;
let api: ReturnType<typeof client>;
let clip: string;
let input: string;

beforeAll(async () => {
  server = await startTestServer({ ...VMAF_ENV, FFEDGE_POOL_SIZE: '1', FFEDGE_CONCURRENT_JOBS: '20', FFEDGE_WASM_THREADS: '0' });
  api = client(server, await server.key());
  clip = join(server.dir, 'clip.mp4');
  await makeClip(clip, { seconds: 6, size: '640x360', rate: 30, audio: true });
  input = await api.upload(clip);
}, 60_000);
afterAll(async () => server?.close());

const stream = (body: Record<string, unknown>) => api.streamed(body, 240_000);

async function problem(body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const res = await server.fetch('/api/v1/stream', { method: 'POST', headers: api.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** The mean VMAF the static ffmpeg prints for `distorted` against the clip scaled to its size with bicubic. */
async function vmafByHand(distorted: string, width: number, height: number): Promise<number> {
  const cwd = join(server.dir, `hand-${Math.random().toString(36).slice(2)}`);
  await mkdir(cwd);
  await symlink(VMAF_MODEL_DIR, join(cwd, 'vmaf-models'));
  const graph =
    `[0:v]setpts=PTS-STARTPTS,format=yuv420p[d];` +
    `[1:v]setpts=PTS-STARTPTS,scale=${width}:${height}:flags=bicubic,format=yuv420p[r];` +
    `[d][r]libvmaf=model_path=vmaf-models/vmaf_v0.6.1.pkl:shortest=1`;
  const args = ['-hide_banner', '-nostdin', '-i', distorted, '-i', clip, '-filter_complex', graph, '-f', 'null', '-'];
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn(VMAF_FFMPEG, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`ffmpeg exited ${code}: ${text.slice(-2000)}`))));
  });
  return Number(/VMAF score: ([\d.]+)/.exec(stderr)![1]);
}

/** A rung of the package as one file: its init segment and every media segment, as a player appends them. */
async function rungFile(job: JobView, folder: string): Promise<string> {
  const parser = new Parser();
  parser.push(await (await api.download(job.outputs.find((o) => o.name === `${folder}/index.m3u8`)!.url)).text());
  parser.end();
  const media = parser.manifest as any;
  const names = [media.segments[0].map.uri, ...media.segments.map((s: any) => s.uri)];
  const parts = await Promise.all(names.map(async (name: string) => new Uint8Array(await (await api.download(job.outputs.find((o) => o.name === `${folder}/${name}`)!.url)).arrayBuffer())));
  const file = join(server.dir, `${job.id}-${folder.replaceAll('/', '_')}.mp4`);
  await writeFile(file, Buffer.concat(parts));
  return file;
}

describe('a ladder by quality', () => {
  let strict: JobView & { result: Record<string, any> };

  it('each rung gets the highest CRF its samples meet the target at, and the VMAF reported is the rung as written', async () => {
    strict = await stream({ input, format: 'hls', ladder: 'auto', quality: { target_vmaf: 95, rungs: { '240p': 90 } }, audio: { codec: 'aac', bitrate: '64k' } });
    const rungs = strict.result.rungs as any[];
    expect(rungs.map((r) => r.name)).toEqual(['360p', '240p']);
    for (const rung of rungs) {
      const q = rung.quality;
      expect(q.target_vmaf).toBe(rung.name === '240p' ? 90 : 95);
      // Four samples, scored, and worse the higher the CRF.
      expect(q.samples.map((s: any) => s.crf)).toEqual([18, 23, 28, 33]);
      const scores = q.samples.map((s: any) => s.vmaf as number);
      for (let k = 1; k < scores.length; k++) expect(scores[k]).toBeLessThan(scores[k - 1]);
      const bitrates = q.samples.map((s: any) => s.bitrate as number);
      for (let k = 1; k < bitrates.length; k++) expect(bitrates[k]).toBeLessThan(bitrates[k - 1]);
      // The choice: past every sample that meets the target, before the first that does not.
      const meeting = q.samples.filter((s: any) => s.vmaf >= q.target_vmaf);
      const failing = q.samples.filter((s: any) => s.vmaf < q.target_vmaf);
      if (meeting.length > 0) expect(q.crf).toBeGreaterThanOrEqual(meeting.at(-1).crf);
      if (failing.length > 0 && meeting.length > 0) expect(q.crf).toBeLessThan(failing[0].crf);
      // The score of the rung as written equals, to 0.01, what the same ffmpeg prints for it by hand.
      const written = await rungFile(strict, `hls/${rung.name}`);
      const byHand = await vmafByHand(written, rung.width, rung.height);
      expect(q.vmaf.subsample).toBe(1);
      expect(q.vmaf.partial).toBe(false);
      expect(Math.abs(q.vmaf.mean - byHand)).toBeLessThan(0.01);
      expect(q.vmaf.frames).toBe(180);
      expect(q.met).toBe(q.vmaf.mean >= q.target_vmaf);
    }
    // The package is an ordinary one: a master playlist naming both rungs; no sample or score among the outputs.
    expect(strict.outputs.some((o) => o.name === 'hls/master.m3u8')).toBe(true);
    expect(strict.outputs.filter((o) => /(^|\/)q-/.test(o.name))).toEqual([]);
    // The samples' blobs are gone with the attempt.
    const blobs = join(server.dir, 'data', 'blobs');
    const left = await readdir(join(blobs, 'work'), { recursive: true, withFileTypes: true }).catch(() => []);
    expect(left.filter((entry) => entry.isFile()).map((entry) => entry.name)).toEqual([]);
    expect(strict.progress.percentage).toBe(100);
  }, 300_000);

  it('a lower target gives each rung a higher CRF and fewer bits', async () => {
    const loose = await stream({ input, format: 'hls', ladder: 'auto', quality: { target_vmaf: 80 }, audio: false });
    for (const [i, rung] of (loose.result.rungs as any[]).entries()) {
      const before = strict.result.rungs[i];
      expect(rung.quality.crf).toBeGreaterThan(before.quality.crf);
      expect(rung.bitrate.average).toBeLessThan(before.bitrate.average);
    }
  }, 300_000);

  it('audit #13: a quality target is refused where it cannot apply, before anything is stored', async () => {
    const ladder = [{ height: 240, video: { codec: 'h264', bitrate: '300k' } }];
    const explicit = await problem({ input, format: 'hls', ladder, quality: { target_vmaf: 93 } });
    expect(explicit.status).toBe(422);
    expect(explicit.body.errors.map((e: any) => e.pointer)).toContain('/quality');
    const unknown = await problem({ input, format: 'hls', quality: { target_vmaf: 93, rungs: { '250p': 90 } } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors.map((e: any) => e.pointer)).toContain('/quality/rungs/250p');
    const range = await problem({ input, format: 'hls', quality: { target_vmaf: 120 } });
    expect(range.status).toBe(400);
  });
});
