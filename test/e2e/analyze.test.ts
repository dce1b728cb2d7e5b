/**
 * POST /analyze on the real Node service: VMAF on the static ffmpeg with libvmaf (as the container image has it),
 * PSNR and SSIM on every engine. The scores are checked against what the same ffmpeg prints when it is run by hand
 * with the filter graph README.md documents, so they are right, not only plausible.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../src/db/schema.js';
import { client, type JobView } from '../helpers/api.js';
import { run } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { VMAF_ENV, VMAF_FFMPEG, VMAF_MODEL_DIR } from '../helpers/vmaf.js';

/** The graph README.md documents for a pair of one size, frame rate and length, with all three metrics. */
const DOCUMENTED_GRAPH =
  '[0:0]setpts=expr=PTS-STARTPTS,format=pix_fmts=yuv420p,split=outputs=3[d0][d1][d2];' +
  '[1:0]setpts=expr=PTS-STARTPTS,format=pix_fmts=yuv420p,split=outputs=3[r0][r1][r2];' +
  '[d0][r0]libvmaf=model_path=vmaf-models/vmaf_v0.6.1.pkl:log_path=vmaf.json:log_fmt=json:shortest=1[vmaf];' +
  '[d1][r1]psnr=stats_file=psnr.log:shortest=1[psnr];' +
  '[d2][r2]ssim=stats_file=ssim.log:shortest=1[ssim]';
/** The same for an input smaller than its reference: scaled to the reference's size first, with bicubic. */
const DOCUMENTED_SCALED_GRAPH = DOCUMENTED_GRAPH.replace('[0:0]setpts=expr=PTS-STARTPTS,', '[0:0]setpts=expr=PTS-STARTPTS,scale=w=160:h=120:flags=bicubic,');
/** The same for an input at another frame rate: converted to the reference's first. */
const DOCUMENTED_FPS_GRAPH = DOCUMENTED_GRAPH.replace('[0:0]setpts=expr=PTS-STARTPTS,', '[0:0]setpts=expr=PTS-STARTPTS,fps=fps=25,');

interface Summary {
  mean: number;
  harmonic_mean?: number;
  pooled?: number;
  min: number;
  max: number;
  p1: number;
  p5: number;
  p50: number;
  p95: number;
  frames: number;
}
interface AnalyzeResult {
  metrics: { vmaf?: Summary; psnr?: Summary; ssim?: Summary };
  frames_compared: number;
  vmaf_model?: string;
  alignment: { scaled: { from: string; to: string } | null; fps: unknown; duration: { input_s: number; reference_s: number; compared_s: number } };
  warnings: string[];
}

interface ByHand {
  vmaf: number;
  psnr: { average: number; min: number; max: number };
  ssim: number;
}

let dir: string;
const clips = { reference: '', crf40: '', small: '', short: '', fast: '' };

/** The static ffmpeg on a documented graph, in a dir laid out as a run's: input, reference and vmaf-models. */
async function byHand(input: string, reference: string, graph: string): Promise<ByHand> {
  const cwd = await mkdtemp(join(dir, 'by-hand-'));
  await copyFile(input, join(cwd, 'input'));
  await copyFile(reference, join(cwd, 'reference'));
  await symlink(VMAF_MODEL_DIR, join(cwd, 'vmaf-models'));
  const args = ['-hide_banner', '-nostdin', '-y', '-i', 'input', '-i', 'reference', '-filter_complex', graph];
  args.push('-map', '[vmaf]', '-map', '[psnr]', '-map', '[ssim]', '-f', 'null', '-');
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn(VMAF_FFMPEG, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stderr.on('data', (chunk) => (text += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`ffmpeg exited ${code}: ${text.slice(-2000)}`))));
  });
  const number = (pattern: RegExp) => {
    const match = pattern.exec(stderr);
    if (!match) throw new Error(`not in ffmpeg's output: ${pattern}\n${stderr}`);
    return Number(match[1]);
  };
  return {
    vmaf: number(/VMAF score: ([\d.]+)/),
    psnr: { average: number(/PSNR .* average:([\d.]+)/), min: number(/PSNR .* min:([\d.]+)/), max: number(/PSNR .* max:([\d.]+)/) },
    ssim: number(/SSIM .* All:([\d.]+)/),
  };
}

const ffmpeg = (...args: string[]) => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffedge-analyze-'));
  for (const name of Object.keys(clips) as (keyof typeof clips)[]) clips[name] = join(dir, `${name}.mp4`);
  // The clip (lossless, so the reference is the pattern itself), its crf-40 encode (a VMAF far from 100), a smaller
  // encode, and the clip's first second.
  await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', clips.reference);
  await ffmpeg('-i', clips.reference, '-c:v', 'libx264', '-crf', '40', '-pix_fmt', 'yuv420p', clips.crf40);
  await ffmpeg('-i', clips.reference, '-vf', 'scale=80:60', '-c:v', 'libx264', '-crf', '30', '-pix_fmt', 'yuv420p', clips.small);
  await ffmpeg('-i', clips.reference, '-r', '50', '-c:v', 'libx264', '-crf', '30', '-pix_fmt', 'yuv420p', clips.fast);
  await ffmpeg('-i', clips.reference, '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', clips.short);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function analyzer(server: TestServer, key: string) {
  const api = client(server, key);
  return {
    ...api,
    post: (body: Record<string, unknown>) =>
      server.fetch('/api/v1/analyze', { method: 'POST', headers: api.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) }),
    async analyze(body: Record<string, unknown>): Promise<JobView> {
      const res = await this.post(body);
      if (res.status !== 202) throw new Error(`analyze: ${res.status} ${await res.text()}`);
      return (await res.json()) as JobView;
    },
    async completed(id: string): Promise<JobView & { result: AnalyzeResult }> {
      const job = await api.waitFor(id, ['completed', 'failed']);
      expect(job.error).toBeNull();
      return job as JobView & { result: AnalyzeResult };
    },
    async text(job: JobView, name: string): Promise<string> {
      const output = job.outputs.find((o) => o.name === name)!;
      const res = await api.download(output.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(output.content_type);
      return res.text();
    },
  };
}

const close = (actual: number | undefined, expected: number) => expect(Math.abs((actual ?? NaN) - expected)).toBeLessThanOrEqual(0.01);

describe('analyze with libvmaf (the static ffmpeg, as in the container image)', () => {
  let server: TestServer;
  let api: ReturnType<typeof analyzer>;
  let uris: Record<keyof typeof clips, string>;

  beforeAll(async () => {
    server = await startTestServer({ ...VMAF_ENV, FFEDGE_POOL_SIZE: '1', FFEDGE_WASM_THREADS: '1', FFEDGE_CONCURRENT_JOBS: '20' });
    api = analyzer(server, await server.key());
    uris = { reference: '', crf40: '', small: '', short: '', fast: '' };
    for (const name of Object.keys(clips) as (keyof typeof clips)[]) uris[name] = await api.upload(clips[name], `${name}.mp4`);
  });
  afterAll(async () => server?.close());

  it('reports libvmaf among the native engine’s filters only', async () => {
    const engines = (await (await server.fetch('/api/v1/capabilities')).json()) as { engines: { name: string; filters: string[] }[] };
    expect(engines.engines.find((e) => e.name === 'native')?.filters).toContain('libvmaf');
    expect(engines.engines.find((e) => e.name === 'wasm')?.filters).not.toContain('libvmaf');
  });

  it('VMAF, PSNR and SSIM of a crf-40 encode equal, to 0.01, what the same ffmpeg prints for the documented graph', async () => {
    // rendiff's request shape, as it is.
    const job = await api.analyze({ input: uris.crf40, reference: uris.reference, metrics: ['vmaf', 'psnr', 'ssim'] });
    expect(job).toMatchObject({ engine: 'native' });
    const done = await api.completed(job.id);
    const expected = await byHand(clips.crf40, clips.reference, DOCUMENTED_GRAPH);
    const { vmaf, psnr, ssim } = done.result.metrics;

    close(vmaf?.mean, expected.vmaf);
    close(psnr?.pooled, expected.psnr.average);
    close(psnr?.min, expected.psnr.min);
    close(psnr?.max, expected.psnr.max);
    close(ssim?.mean, expected.ssim);
    // A crf-40 encode of a 160x120 pattern: far from transparent, so a wrong pairing of frames would show.
    expect(expected.vmaf).toBeGreaterThan(20);
    expect(expected.vmaf).toBeLessThan(90);
    expect(done.result).toMatchObject({ frames_compared: 50, vmaf_model: 'vmaf_v0.6.1', warnings: [], alignment: { scaled: null, fps: null } });
    for (const summary of [vmaf!, psnr!, ssim!]) {
      expect(summary.frames).toBe(50);
      expect(summary.min).toBeLessThanOrEqual(summary.p1);
      expect(summary.p1).toBeLessThanOrEqual(summary.p5);
      expect(summary.p5).toBeLessThanOrEqual(summary.p50);
      expect(summary.p50).toBeLessThanOrEqual(summary.p95);
      expect(summary.p95).toBeLessThanOrEqual(summary.max);
    }
    expect(vmaf!.harmonic_mean).toBeLessThanOrEqual(vmaf!.mean);

    // One row per frame with every metric, in the CSV and the JSON alike.
    expect(done.outputs.map((o) => o.name)).toEqual(['frames.csv', 'frames.json']);
    const csv = (await api.text(done, 'frames.csv')).trim().split('\n');
    expect(csv[0]).toBe('frame,time_s,vmaf,psnr,psnr_y,ssim,ssim_y');
    expect(csv).toHaveLength(51);
    const rows = JSON.parse(await api.text(done, 'frames.json')) as { frame: number; vmaf: number; psnr: number; ssim: number }[];
    expect(rows.map((r) => r.frame)).toEqual([...Array(50).keys()]);
    expect(csv[1]).toBe(`0,0,${rows[0]!.vmaf},${Object.values(rows[0]!).slice(3).join(',')}`);
    close(rows.reduce((sum, r) => sum + r.vmaf, 0) / rows.length, expected.vmaf);
  });

  it('scales an input of another size to the reference’s with bicubic, as the documented graph does', async () => {
    const done = await api.completed((await api.analyze({ input: uris.small, reference: uris.reference })).id);
    const expected = await byHand(clips.small, clips.reference, DOCUMENTED_SCALED_GRAPH);
    close(done.result.metrics.vmaf?.mean, expected.vmaf);
    close(done.result.metrics.psnr?.pooled, expected.psnr.average);
    close(done.result.metrics.ssim?.mean, expected.ssim);
    expect(done.result.alignment.scaled).toEqual({ from: '80x60', to: '160x120', flags: 'bicubic' });
    expect(done.result.warnings).toEqual([expect.stringMatching(/scaled from 80x60 to the reference's 160x120/)]);
  });

  it('converts an input at 50 fps to the reference’s 25 fps, as the documented graph does', async () => {
    const done = await api.completed((await api.analyze({ input: uris.fast, reference: uris.reference })).id);
    const expected = await byHand(clips.fast, clips.reference, DOCUMENTED_FPS_GRAPH);
    expect(done.result.frames_compared).toBe(50);
    expect(done.result.alignment.fps).toEqual({ from: 50, to: 25 });
    close(done.result.metrics.vmaf?.mean, expected.vmaf);
    close(done.result.metrics.psnr?.pooled, expected.psnr.average);
    close(done.result.metrics.ssim?.mean, expected.ssim);
  });

  it('compares only the first second when the reference is one second long, and says so', async () => {
    const done = await api.completed((await api.analyze({ input: uris.crf40, reference: uris.short })).id);
    expect(done.result.frames_compared).toBe(25);
    expect(done.result.metrics.vmaf?.frames).toBe(25);
    expect(done.result.metrics.psnr?.frames).toBe(25);
    expect(done.result.alignment.duration.compared_s).toBeCloseTo(1, 1);
    expect(done.result.warnings).toEqual([expect.stringMatching(/^the reference \(1\.00 s\) is shorter than the input \(2\.00 s\)/)]);
  });

  it('compares every Nth frame with subsample, the same frames for every metric', async () => {
    const done = await api.completed((await api.analyze({ input: uris.crf40, reference: uris.reference, subsample: 5 })).id);
    const rows = JSON.parse(await api.text(done, 'frames.json')) as { frame: number; vmaf: number; psnr: number; ssim: number }[];
    expect(rows.map((r) => r.frame)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
    for (const row of rows) for (const metric of ['vmaf', 'psnr', 'ssim'] as const) expect(typeof row[metric]).toBe('number');
    // The frames of the full comparison, picked out: subsampling changes which frames count, not their scores. (With
    // VMAF among the metrics, so that both runs are on the same ffmpeg: 4.1's and 5.1's SSIM differ in the 6th decimal.)
    const full = await api.completed((await api.analyze({ input: uris.crf40, reference: uris.reference })).id);
    const all = JSON.parse(await api.text(full, 'frames.json')) as { frame: number; psnr: number; ssim: number }[];
    for (const row of rows) expect([row.psnr, row.ssim]).toEqual([all[row.frame]!.psnr, all[row.frame]!.ssim]);
  });

  it('uses the phone transform and the 4K model when asked', async () => {
    const [base, phone, uhd] = await Promise.all(
      (['default', 'phone', '4k'] as const).map(async (model) => {
        const job = await api.analyze({ input: uris.crf40, reference: uris.reference, metrics: ['vmaf'], vmaf_model: model });
        return (await api.completed(job.id)).result;
      }),
    );
    expect(phone!.vmaf_model).toBe('vmaf_v0.6.1 (phone)');
    expect(uhd!.vmaf_model).toBe('vmaf_4k_v0.6.1');
    // The phone model rates the same frames higher (a small screen hides artefacts).
    expect(phone!.metrics.vmaf!.mean).toBeGreaterThan(base!.metrics.vmaf!.mean + 5);
    expect(uhd!.metrics.vmaf!.mean).not.toBe(base!.metrics.vmaf!.mean);
  });

  it('refuses, when the job runs, inputs of different sizes if scale is "none"', async () => {
    const job = await api.analyze({ input: uris.small, reference: uris.reference, scale: 'none' });
    const failed = await api.waitFor(job.id, ['failed', 'completed']);
    expect(failed.error).toEqual({ code: 'INVALID_OPTION', message: expect.stringMatching(/80x60 and the reference 160x120/) });
  });
});

describe('analyze without libvmaf (Debian’s ffmpeg and the wasm engine)', () => {
  let server: TestServer;
  let api: ReturnType<typeof analyzer>;
  let input: string;
  let reference: string;
  let expected: ByHand;

  beforeAll(async () => {
    server = await startTestServer({ FFEDGE_POOL_SIZE: '1', FFEDGE_WASM_THREADS: '1', FFEDGE_CONCURRENT_JOBS: '20' });
    api = analyzer(server, await server.key());
    input = await api.upload(clips.crf40, 'crf40.mp4');
    reference = await api.upload(clips.reference, 'reference.mp4');
    expected = await byHand(clips.crf40, clips.reference, DOCUMENTED_GRAPH);
  });
  afterAll(async () => server?.close());

  it('a request for VMAF gets 422 naming libvmaf, and nothing is stored', async () => {
    const res = await api.post({ input, reference, metrics: ['psnr', 'vmaf'] });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { code: string; detail: string; errors: { pointer: string; message: string; suggestion?: string }[] };
    expect(body.code).toBe('ENGINE_INCAPABLE');
    expect(body.detail).toMatch(/libvmaf/);
    expect(body.errors).toContainEqual(expect.objectContaining({ pointer: '/metrics/1', message: 'no filter libvmaf', suggestion: expect.stringMatching(/psnr and ssim/) }));
    // A VMAF model asks for VMAF as well.
    expect((await api.post({ input, reference, vmaf_model: 'phone' })).status).toBe(422);
    expect(await server.platform.db.select().from(jobs).all()).toEqual([]);
  });

  it('without metrics, gets PSNR and SSIM, on Debian’s ffmpeg, equal to the static build’s by hand', async () => {
    const job = await api.analyze({ input, reference });
    const done = await api.completed(job.id);
    expect(done).toMatchObject({ engine: 'native' });
    expect(Object.keys(done.result.metrics)).toEqual(['psnr', 'ssim']);
    const stored = (await server.platform.db.select().from(jobs).all()).find((row) => row.id === job.id)!;
    expect(stored.request).toMatchObject({ metrics: ['psnr', 'ssim'] });
    close(done.result.metrics.psnr?.pooled, expected.psnr.average);
    close(done.result.metrics.ssim?.mean, expected.ssim);
    expect((await api.text(done, 'frames.csv')).split('\n')[0]).toBe('frame,time_s,psnr,psnr_y,ssim,ssim_y');
  });

  it('runs PSNR and SSIM of a small clip on the wasm engine, with the same scores', async () => {
    const job = await api.analyze({ input, reference, options: { engine: 'wasm' } });
    expect(job).toMatchObject({ engine: 'wasm' });
    const done = await api.completed(job.id);
    close(done.result.metrics.psnr?.pooled, expected.psnr.average);
    close(done.result.metrics.psnr?.min, expected.psnr.min);
    close(done.result.metrics.ssim?.mean, expected.ssim);
  });

  it('audit #13: nothing is stored or run for an invalid analyze request', async () => {
    const refused = [
      [{ input, reference, metrics: ['psnr'], vmaf_model: '4k' }, 422, 'INVALID_OPTION', '/vmaf_model'],
      [{ input, reference, subsample: 0 }, 400, 'VALIDATION_FAILED', '/subsample'],
      [{ input, reference, metrics: ['ssim', 'ssim'] }, 400, 'VALIDATION_FAILED', '/metrics/1'],
      [{ input, reference, metrics: ['vmaf'] }, 422, 'ENGINE_INCAPABLE', '/metrics/0'],
      [{ input, reference: 'upload:01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c' }, 422, 'INPUT_NOT_FOUND', '/reference'],
      [{ input, reference, scale: 'lanczos' }, 400, 'VALIDATION_FAILED', '/scale'],
    ] as const;
    const before = (await server.platform.db.select().from(jobs).all()).length;
    for (const [body, status, code, pointer] of refused) {
      const res = await api.post(body);
      expect(res.status).toBe(status);
      const problem = (await res.json()) as { code: string; errors: { pointer: string }[] };
      expect(problem.code).toBe(code);
      expect(problem.errors.map((e) => e.pointer)).toContain(pointer);
    }
    expect(await server.platform.db.select().from(jobs).all()).toHaveLength(before);
    expect(server.platform.pool.running()).toBe(0);
  });
});
