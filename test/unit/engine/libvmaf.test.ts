/**
 * The native engine's VMAF binary: which runs go to it (by the filter names of their graphs, as ffmpeg parses them),
 * what it must answer for libvmaf to be listed, and that a run finds its models by a relative name without them
 * becoming outputs.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { EngineError } from '../../../src/engine/engine.js';
import { listFiles } from '../../../src/engine/files.js';
import { filterNames, isPlannedLibvmaf, usesLibvmaf } from '../../../src/engine/libvmaf.js';
import { createNativeEngine } from '../../../src/engine/native.js';
import { isPlanProblems, planConvert } from '../../../src/media/plan.js';
import { isQualityProblems, planQuality } from '../../../src/media/quality.js';
import { ConvertRequestSchema } from '../../../src/schemas/convert.js';
import { VMAF_FFMPEG, VMAF_MODEL_DIR } from '../../helpers/vmaf.js';
import { parseGraph } from '../media/ffmpeg-syntax.js';
import { MAIN, hd } from '../media/support.js';

const qualityArgs = (metrics: ('vmaf' | 'psnr' | 'ssim')[]) => {
  const planned = planQuality({ metrics, subsample: 1, scale: 'bicubic' }, [hd(), hd()]);
  if (isQualityProblems(planned)) throw new Error('no plan');
  return planned.args;
};

function captioned(text: string): string[] {
  const request = ConvertRequestSchema.parse({ input: MAIN, output: 'mp4', operations: [{ type: 'text', text }, { type: 'crop', width: 640, height: 360 }] });
  const planned = planConvert(request, hd(), DEFAULT_LIMITS);
  if (isPlanProblems(planned)) throw new Error(JSON.stringify(planned));
  return planned.args;
}

describe('which runs need the VMAF binary', () => {
  it('an analyze run with VMAF does; one with PSNR and SSIM only does not', () => {
    expect(usesLibvmaf(qualityArgs(['vmaf', 'psnr']))).toBe(true);
    expect(usesLibvmaf(qualityArgs(['psnr', 'ssim']))).toBe(false);
    expect(usesLibvmaf(['-i', 'a', '-i', 'b', '-lavfi', '[0:v][1:v]libvmaf', '-f', 'null', '-'])).toBe(true);
    expect(usesLibvmaf(['-i', 'a', '-vf', 'scale=2:2,libvmaf=log_path=x', '-f', 'null', '-'])).toBe(true);
  });

  it('a caption that says libvmaf is text, not a filter: the names are the ones ffmpeg’s graph parser reads', () => {
    const hostile = fc.oneof(
      fc.constantFrom('libvmaf', ',libvmaf', ';libvmaf=x', "'libvmaf'", '[x]libvmaf[y]', '\\,libvmaf', 'a:libvmaf=1', "'\\'libvmaf"),
      fc.array(fc.constantFrom('libvmaf', ',', ';', '[', ']', "'", '\\', '=', ':', ' ', 'x'), { minLength: 1, maxLength: 20 }).map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(hostile, (text) => {
        const args = captioned(text);
        expect(usesLibvmaf(args)).toBe(false);
        const graphs = args.filter((_, k) => k > 0 && ['-filter_complex', '-vf'].includes(args[k - 1]!));
        expect(graphs.length).toBeGreaterThan(0);
        for (const graph of graphs) expect(filterNames(graph)).toEqual(parseGraph(graph).flatMap((chain) => chain.filters.map((f) => f.name)));
      }),
      { numRuns: 300 },
    );
  });

  it('lists libvmaf only for a build whose libvmaf takes the options the planner writes (libvmaf 1.x)', () => {
    expect(isPlannedLibvmaf("Unknown filter 'libvmaf'.\n")).toBe(false);
    // libvmaf 2.x in ffmpeg 5+ names its model `model` and has no log_fmt=json with model_path.
    expect(isPlannedLibvmaf('libvmaf AVOptions:\n  model             <string>\n  log_path          <string>\n  n_subsample       <int>\n')).toBe(false);
  });
});

describe('the native engine with a VMAF binary', () => {
  let root: string;
  let jobs = 0;

  const ffmpeg = (args: string[], cwd: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd, stdio: 'ignore' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${code}`))));
    });

  async function runDir(): Promise<string> {
    const dir = join(root, `run-${++jobs}`);
    await mkdir(dir);
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=10:duration=0.5', '-c:v', 'libx264', '-crf', '45', '-pix_fmt', 'yuv420p', '-f', 'mp4', 'input'], dir);
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=10:duration=0.5', '-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv420p', '-f', 'mp4', 'reference'], dir);
    return dir;
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ffedge-vmaf-'));
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  const spec = (cwd: string, args: string[]) => ({ args, cwd, expectedDurationS: 0.5, timeoutMs: 60_000, signal: new AbortController().signal });

  it('lists libvmaf among its filters, and runs VMAF there with the models linked in, not kept', async () => {
    const engine = createNativeEngine({ vmaf: { ffmpegPath: VMAF_FFMPEG, modelDir: VMAF_MODEL_DIR } });
    expect((await engine.capabilities()).filters).toContain('libvmaf');
    const dir = await runDir();
    await engine.run(spec(dir, qualityArgs(['vmaf', 'psnr'])));
    const log = JSON.parse(await readFile(join(dir, 'vmaf.json'), 'utf8')) as { version: string; frames: unknown[] };
    expect(log.version).toBe('1.3.7');
    expect(log.frames).toHaveLength(5);
    const { files } = await listFiles(dir, { followLinks: false });
    expect(files.map((f) => f.path)).toEqual(['input', 'psnr.log', 'reference', 'vmaf.json']);
  });

  it('does not list libvmaf without that binary, or without its models, and refuses a VMAF run it cannot do', async () => {
    const none = createNativeEngine({ vmaf: null });
    expect((await none.capabilities()).filters).not.toContain('libvmaf');
    const empty = join(root, 'no-models');
    await mkdir(empty);
    await writeFile(join(empty, 'vmaf_v0.6.1.pkl'), 'not the model');
    expect((await createNativeEngine({ vmaf: { ffmpegPath: VMAF_FFMPEG, modelDir: empty } }).capabilities()).filters).not.toContain('libvmaf');
    expect((await createNativeEngine({ vmaf: { ffmpegPath: join(root, 'missing'), modelDir: VMAF_MODEL_DIR } }).capabilities()).filters).not.toContain('libvmaf');

    const dir = await runDir();
    const refused = await none.run(spec(dir, qualityArgs(['vmaf']))).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(EngineError);
    expect(refused).toMatchObject({ code: 'ENGINE_UNAVAILABLE', safeMessage: 'this engine has no libvmaf for VMAF scores' });
    // PSNR and SSIM run on the main ffmpeg.
    await none.run(spec(dir, qualityArgs(['psnr', 'ssim'])));
    expect((await readFile(join(dir, 'ssim.log'), 'utf8')).split('\n').filter(Boolean)).toHaveLength(5);
  });
});
