/** The quality planner: one run, every metric in one graph, the distorted aligned to the reference. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../../src/engine/engine.js';
import {
  defaultMetrics,
  isQualityProblems,
  planQuality,
  validateQuality,
  type QualityPlan,
  type QualityRequest,
} from '../../../src/media/quality.js';
import { AnalyzeRequestSchema } from '../../../src/schemas/analyze.js';
import { parseGraph, parseOptions } from './ffmpeg-syntax.js';
import { HEAD, IN, hd } from './support.js';

const ALL: QualityRequest = { metrics: ['vmaf', 'psnr', 'ssim'], subsample: 1, scale: 'bicubic' };

/** The graph README.md documents (and test/e2e/analyze.test.ts runs by hand) for a pair alike in size, rate and length. */
const DOCUMENTED_GRAPH =
  '[0:0]setpts=expr=PTS-STARTPTS,format=pix_fmts=yuv420p,split=outputs=3[d0][d1][d2];' +
  '[1:0]setpts=expr=PTS-STARTPTS,format=pix_fmts=yuv420p,split=outputs=3[r0][r1][r2];' +
  '[d0][r0]libvmaf=model_path=vmaf-models/vmaf_v0.6.1.pkl:log_path=vmaf.json:log_fmt=json:shortest=1[vmaf];' +
  '[d1][r1]psnr=stats_file=psnr.log:shortest=1[psnr];' +
  '[d2][r2]ssim=stats_file=ssim.log:shortest=1[ssim]';

function video(overrides: Partial<ProbeResult['streams'][number]> = {}, duration = 10): ProbeResult {
  return hd({ duration_s: duration, streams: [{ index: 0, type: 'video', codec: 'h264', width: 1920, height: 1080, fps: 25, duration_s: duration, ...overrides }] });
}

function plan(request: Partial<QualityRequest>, input = video(), reference = video()): QualityPlan {
  const planned = planQuality({ ...ALL, ...request }, [input, reference]);
  if (isQualityProblems(planned)) throw new Error(`unexpected problems: ${JSON.stringify(planned)}`);
  return planned;
}

function graphOf(planned: QualityPlan): string {
  return planned.args[planned.args.indexOf('-filter_complex') + 1]!;
}

function options(graph: string, name: string): Map<string, string> {
  const found = parseGraph(graph).flatMap((chain) => chain.filters).find((f) => f.name === name);
  if (!found) throw new Error(`no ${name} in ${graph}`);
  return new Map(parseOptions(found.args ?? ''));
}

describe('quality planner', () => {
  it('computes every metric in one run: the documented graph, both inputs decoded once, stats to scratch files', () => {
    const planned = plan({});
    expect(planned.args).toEqual([
      ...HEAD,
      ...IN('input'),
      ...IN('reference'),
      '-filter_complex',
      DOCUMENTED_GRAPH,
      '-map',
      '[vmaf]',
      '-map',
      '[psnr]',
      '-map',
      '[ssim]',
      '-f',
      'null',
      '-',
    ]);
    expect(planned.scratch).toEqual(['vmaf.json', 'psnr.log', 'ssim.log']);
    expect(planned.requirements).toEqual({
      encoders: [],
      decoders: ['h264'],
      filters: ['setpts', 'format', 'split', 'libvmaf', 'psnr', 'ssim'],
      muxers: ['null'],
    });
    expect(planned.expectedDurationS).toBe(10);
    expect(planned.alignment).toEqual({ scaled: null, fps: null, duration: { input_s: 10, reference_s: 10, compared_s: 10 }, warnings: [] });
  });

  it('is the graph README.md documents', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Analyze quality'));
    expect(/-filter_complex '([^']+)'/.exec(section)?.[1]).toBe(DOCUMENTED_GRAPH);
  });

  it('scales a distorted of another size to the reference’s with bicubic, after its frame rate is the reference’s', () => {
    const planned = plan({}, video({ width: 1280, height: 720, fps: 50 }), video());
    const chains = parseGraph(graphOf(planned));
    expect(chains[0]!.filters.map((f) => `${f.name}=${f.args}`)).toEqual([
      'setpts=expr=PTS-STARTPTS',
      'fps=fps=25',
      'scale=w=1920:h=1080:flags=bicubic',
      'format=pix_fmts=yuv420p',
      'split=outputs=3',
    ]);
    // The reference is only normalised.
    expect(chains[1]!.filters.map((f) => f.name)).toEqual(['setpts', 'format', 'split']);
    expect(planned.alignment).toMatchObject({ scaled: { from: '1280x720', to: '1920x1080', flags: 'bicubic' }, fps: { from: 50, to: 25 } });
    expect(planned.alignment.warnings).toHaveLength(2);
  });

  it('refuses inputs of different sizes with scale "none", pointing at scale', () => {
    const problems = planQuality({ ...ALL, scale: 'none' }, [video({ width: 1280, height: 720 }), video()]);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'INVALID_OPTION', pointer: '/scale', allowed: ['bicubic', 'none'], message: expect.stringMatching(/1280x720 and the reference 1920x1080/) }),
    ]);
    expect(isQualityProblems(planQuality({ ...ALL, scale: 'none' }, [video(), video()]))).toBe(false);
  });

  it('compares up to the shorter input and says which was shorter', () => {
    const planned = plan({}, video({}, 10), video({}, 4));
    expect(planned.expectedDurationS).toBe(4);
    expect(planned.alignment.duration).toEqual({ input_s: 10, reference_s: 4, compared_s: 4 });
    expect(planned.alignment.warnings).toEqual(['the reference (4.00 s) is shorter than the input (10.00 s): only the first 4.00 s are compared']);
    // Every metric filter ends with the shorter input.
    for (const name of ['libvmaf', 'psnr', 'ssim']) expect(options(graphOf(planned), name).get('shortest')).toBe('1');
    // Container rounding is not a different length.
    expect(plan({}, video({}, 10.01), video({}, 10)).alignment.warnings).toEqual([]);
  });

  it('refuses more frames than one job compares, suggesting the subsample that fits', () => {
    // Two hours at 25 fps: 180 000 frames.
    const long = video({}, 7200);
    expect(planQuality(ALL, [long, long])).toEqual([
      expect.objectContaining({ code: 'LIMIT_EXCEEDED', pointer: '/subsample', suggestion: 'set subsample to 4: one frame in 4 is compared' }),
    ]);
    expect(isQualityProblems(planQuality({ ...ALL, subsample: 4 }, [long, long]))).toBe(false);
  });

  it('subsamples VMAF with libvmaf’s own n_subsample and selects the same frames for PSNR and SSIM', () => {
    const graph = graphOf(plan({ subsample: 4 }));
    expect(options(graph, 'libvmaf').get('n_subsample')).toBe('4');
    const chains = parseGraph(graph);
    const select = chains.filter((chain) => chain.filters.some((f) => f.name === 'select'));
    // The psnr and ssim copies of both inputs; libvmaf's copies are not selected (its motion feature needs every frame).
    expect(select.map((chain) => chain.inputs[0])).toEqual(['d1', 'r1', 'd2', 'r2']);
    for (const chain of select) expect(new Map(parseOptions(chain.filters[0]!.args!)).get('expr')).toBe('not(mod(n,4))');
    expect(graph).not.toContain('n_subsample=1');
  });

  it('uses the 4K model, or the default one with the phone transform', () => {
    expect(options(graphOf(plan({ vmaf_model: '4k' })), 'libvmaf').get('model_path')).toBe('vmaf-models/vmaf_4k_v0.6.1.pkl');
    const phone = options(graphOf(plan({ vmaf_model: 'phone' })), 'libvmaf');
    expect([phone.get('model_path'), phone.get('enable_transform'), phone.get('phone_model')]).toEqual(['vmaf-models/vmaf_v0.6.1.pkl', '1', '1']);
    expect(options(graphOf(plan({})), 'libvmaf').has('phone_model')).toBe(false);
  });

  it('splits only for more than one metric, and needs libvmaf only for VMAF', () => {
    const single = plan({ metrics: ['psnr'] });
    expect(graphOf(single)).toBe(
      '[0:0]setpts=expr=PTS-STARTPTS,format=pix_fmts=yuv420p[d0];[1:0]setpts=expr=PTS-STARTPTS,format=pix_fmts=yuv420p[r0];[d0][r0]psnr=stats_file=psnr.log:shortest=1[psnr]',
    );
    expect(single.requirements.filters).not.toContain('libvmaf');
    expect(single.scratch).toEqual(['psnr.log']);
  });

  it('maps the first video stream of each input, whatever its index', () => {
    const audioFirst = hd({ streams: [{ index: 0, type: 'audio', codec: 'aac' }, { index: 1, type: 'video', codec: 'vp9', width: 1920, height: 1080, fps: 25 }] });
    const planned = plan({}, audioFirst, video());
    expect(parseGraph(graphOf(planned)).map((chain) => chain.inputs[0])).toContain('0:1');
    expect(planned.requirements.decoders).toEqual(['vp9', 'h264']);
  });

  it('refuses a reference without video, and a playlist as input', () => {
    const silent = hd({ streams: [{ index: 0, type: 'audio', codec: 'aac' }] });
    expect(planQuality(ALL, [video(), silent])).toEqual([expect.objectContaining({ code: 'NO_VIDEO_STREAM', pointer: '/reference' })]);
    expect(planQuality(ALL, [{ ...video(), format: 'hls' }, video()])).toEqual([
      expect.objectContaining({ code: 'UNSUPPORTED_INPUT', pointer: '/input' }),
    ]);
  });

  it('at submission, without probes, knows what the run needs: the metric filters and the aligning ones', () => {
    const shape = planQuality({ ...ALL, metrics: ['vmaf'] }, null);
    if (isQualityProblems(shape)) throw new Error('no shape');
    expect(shape.requirements.filters).toEqual(expect.arrayContaining(['libvmaf', 'fps', 'scale']));
    expect(shape.requirements.encoders).toEqual([]);
  });

  it('refuses a VMAF model without VMAF before anything is stored', () => {
    expect(validateQuality({ ...ALL, metrics: ['psnr'], vmaf_model: 'phone' })).toEqual([expect.objectContaining({ code: 'INVALID_OPTION', pointer: '/vmaf_model' })]);
    expect(validateQuality({ ...ALL, vmaf_model: 'phone' })).toEqual([]);
  });

  it('defaults to every metric an engine can do: VMAF only where one has libvmaf', () => {
    const native = (filters: string[]) => ({ name: 'native', capabilities: { filters } });
    const wasm = { name: 'wasm', capabilities: { filters: ['psnr', 'ssim'] } };
    expect(defaultMetrics([native(['psnr', 'ssim', 'libvmaf']), wasm], null)).toEqual(['vmaf', 'psnr', 'ssim']);
    expect(defaultMetrics([native(['psnr', 'ssim']), wasm], null)).toEqual(['psnr', 'ssim']);
    expect(defaultMetrics([native(['psnr', 'ssim', 'libvmaf']), wasm], 'wasm')).toEqual(['psnr', 'ssim']);
  });

  it('takes rendiff’s request as it is, with the defaults filled in', () => {
    const parsed = AnalyzeRequestSchema.parse({ input: 'upload:a', reference: 'upload:b', metrics: ['vmaf', 'psnr'] });
    expect(parsed).toEqual({ input: 'upload:a', reference: 'upload:b', metrics: ['vmaf', 'psnr'], subsample: 1, scale: 'bicubic', options: { priority: 0, engine: 'auto' } });
    expect(AnalyzeRequestSchema.safeParse({ input: 'upload:a', reference: 'upload:b', metrics: [] }).success).toBe(false);
  });
});
