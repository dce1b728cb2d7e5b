/**
 * The ladder by quality: choosing a CRF from scored samples, where the samples come from, and the passes the planner
 * makes (one libvmaf per run, the samples carried from the first run to the scoring ones, the package's files read by
 * the verifying ones), planned again with what each run left.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { planStream, type StreamPlan } from '../../../src/media/stream-plan.js';
import { chooseCrf, rungConcat, sampleFile, sampleLog, sampleWindows, verifyLog } from '../../../src/media/stream-quality.js';
import { StreamRequestSchema } from '../../../src/schemas/stream.js';
import { parseGraph } from './ffmpeg-syntax.js';
import { hd, MAIN } from './support.js';

/** The filters of a run's -filter_complex, as ffmpeg's parser reads them. */
const filtersOf = (args: readonly string[]) => parseGraph(args[args.indexOf('-filter_complex') + 1]!).flatMap((chain) => chain.filters);

const points = (vmafs: number[], bitrates = [4_000_000, 2_000_000, 1_000_000, 500_000]) =>
  [18, 23, 28, 33].map((crf, k) => ({ crf, bitrate: bitrates[k]!, vmaf: vmafs[k]! }));

describe('chooseCrf', () => {
  it('interpolates between the worst sample that meets the target and the best that does not, towards the better picture', () => {
    const choice = chooseCrf(93, points([99, 96, 92, 85]));
    // 23 + (96 - 93) / (96 - 92) * 5 = 26.75 -> 26
    expect(choice.crf).toBe(26);
    expect(choice.note).toBeNull();
    // The bitrate between the two samples, on the log scale rate falls on with CRF.
    expect(choice.estimatedBitrate).toBe(Math.round(2_000_000 * Math.pow(0.5, 3 / 5)));
  });

  it('keeps the best sample, and says so, when none reaches the target', () => {
    const choice = chooseCrf(99.5, points([99, 96, 92, 85]));
    expect(choice.crf).toBe(18);
    expect(choice.note).toMatch(/no sample reached VMAF 99.5/);
  });

  it('keeps the highest CRF of the grid, and says so, when every sample reaches the target', () => {
    const choice = chooseCrf(60, points([99, 96, 92, 85]));
    expect(choice.crf).toBe(33);
    expect(choice.note).toMatch(/every sample reached/);
  });

  it('an exact hit is kept as it is', () => {
    expect(chooseCrf(92, points([99, 96, 92, 85])).crf).toBe(28);
  });
});

describe('samples', () => {
  it('a short input is sampled whole; a longer one in three windows spread over it', () => {
    expect(sampleWindows(6)).toEqual([{ startS: 0, endS: 6 }]);
    expect(sampleWindows(60)).toEqual([
      { startS: 8.5, endS: 11.5 },
      { startS: 28.5, endS: 31.5 },
      { startS: 48.5, endS: 51.5 },
    ]);
  });

  it('a rung is read as its init segment and media segments in order; a URL too long for the protocol is cut and said to be', () => {
    const files = ['hls/720p/seg_00001.m4s', 'hls/720p/init_0.mp4', 'hls/720p/seg_00000.m4s', 'hls/720p/index.m3u8', 'hls/360p/seg_00000.m4s'];
    expect(rungConcat(files, 'hls/720p/init_0.mp4', 'hls/720p/seg_', '.m4s')).toEqual({
      url: 'concat:hls/720p/init_0.mp4|hls/720p/seg_00000.m4s|hls/720p/seg_00001.m4s',
      files: ['hls/720p/init_0.mp4', 'hls/720p/seg_00000.m4s', 'hls/720p/seg_00001.m4s'],
      partial: false,
    });
    const many = Array.from({ length: 5000 }, (_, k) => `hls/720p/seg_${String(k).padStart(5, '0')}.ts`);
    const cut = rungConcat(many, null, 'hls/720p/seg_', '.ts')!;
    expect(cut.partial).toBe(true);
    expect(cut.url.length).toBeLessThanOrEqual(60_000);
    expect(cut.files[0]).toBe('hls/720p/seg_00000.ts');
  });
});

describe('the passes of a ladder by quality', () => {
  const request = StreamRequestSchema.parse({ input: MAIN, format: 'hls', ladder: 'auto', quality: { target_vmaf: 93, rungs: { '360p': 88 } }, audio: false });
  const limits = { ...DEFAULT_LIMITS, variants: 3 };
  const plan = planStream(request, [hd()], limits) as StreamPlan;

  it('samples, one scoring run per rung, the encode, one verifying run per rung; weights that sum to 1', () => {
    expect(plan.rungs.map((r) => r.name)).toEqual(['1080p', '720p', '480p']);
    expect(plan.passes.map((p) => p.kind)).toEqual(['measure', 'measure', 'measure', 'measure', 'encode', 'measure', 'measure', 'measure']);
    expect(plan.passes.reduce((sum, p) => sum + p.weight, 0)).toBeCloseTo(1, 6);
    expect(plan.requirements.filters).toContain('libvmaf');
    // The samples are carried to the scoring runs; each scoring run reads its rung's four.
    expect(plan.passes[0]!.carry).toHaveLength(12);
    expect(plan.passes[1]!.reads).toEqual([18, 23, 28, 33].map((crf) => sampleFile('1080p', crf)));
    expect(plan.passes[1]!.scratch).toEqual([sampleLog('1080p')]);
    expect(plan.passes[5]!.scratch).toEqual([verifyLog('1080p')]);
  });

  it('one libvmaf per run (libvmaf 1.x is not safe twice in a process), comparing at the rung size with bicubic', () => {
    for (const pass of plan.passes) {
      const filters = filtersOf(pass.args);
      expect(filters.filter((f) => f.name === 'libvmaf').length).toBe(pass.kind === 'measure' && pass.scratch ? 1 : 0);
    }
    const scoring = filtersOf(plan.passes[2]!.args);
    expect(scoring.find((f) => f.name === 'scale')!.args).toBe('w=1280:h=720:flags=bicubic');
    // The four samples one after the other, against as many copies of the source.
    expect(scoring.filter((f) => f.name === 'concat')).toHaveLength(2);
  });

  it('planned again with the scores, each rung gets its CRF and a cap above its samples rate; the verifying runs read the package as written', () => {
    const frames = (vmafs: number[]) => vmafs.flatMap((v) => Array.from({ length: 250 }, () => v));
    const measured = planStream(request, [hd()], limits, {
      sampleBytes: Object.fromEntries(['1080p', '720p', '480p'].flatMap((rung) => [18, 23, 28, 33].map((crf, k) => [sampleFile(rung, crf), 1_000_000 >> k]))),
      vmafFrames: { [sampleLog('1080p')]: frames([99, 96, 92, 85]), [sampleLog('720p')]: frames([98, 95, 91, 84]), [sampleLog('480p')]: frames([97, 94, 90, 83]) },
      packageFiles: ['hls/1080p/init_0.mp4', 'hls/1080p/seg_00000.m4s', 'hls/1080p/seg_00001.m4s', 'hls/720p/init_1.mp4', 'hls/720p/seg_00000.m4s', 'hls/480p/init_2.mp4', 'hls/480p/seg_00000.m4s'],
    }) as StreamPlan;
    expect(measured.rungs.map((r) => r.crf)).toEqual([26, 25, 24]);
    expect(measured.rungs.map((r) => r.quality?.target)).toEqual([93, 93, 93]);
    const encode = measured.passes[4]!.args;
    expect(encode.slice(encode.indexOf('-crf:v:0'), encode.indexOf('-crf:v:0') + 2)).toEqual(['-crf:v:0', '26']);
    expect(measured.passes[5]!.reads).toEqual(['hls/1080p/init_0.mp4', 'hls/1080p/seg_00000.m4s', 'hls/1080p/seg_00001.m4s']);
    expect(measured.passes[5]!.args).toContain('concat:hls/1080p/init_0.mp4|hls/1080p/seg_00000.m4s|hls/1080p/seg_00001.m4s');
  });

  it('audit #13: a quality target on rungs given by hand, or naming a rung no auto ladder has, is refused before anything runs', () => {
    const explicit = StreamRequestSchema.parse({ input: MAIN, format: 'hls', ladder: [{ height: 360, video: { bitrate: '500k' } }], quality: { target_vmaf: 90 } });
    expect(planStream(explicit, null, limits)).toEqual([expect.objectContaining({ code: 'INVALID_OPTION', pointer: '/quality' })]);
    const unknown = StreamRequestSchema.parse({ input: MAIN, format: 'hls', quality: { target_vmaf: 90, rungs: { '500p': 80 } } });
    expect(planStream(unknown, null, limits)).toEqual([expect.objectContaining({ pointer: '/quality/rungs/500p' })]);
  });
});
