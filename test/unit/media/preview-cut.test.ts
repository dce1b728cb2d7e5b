/**
 * The browser preview runs the job's own plan, cut: the same argv with -t before the output and, for a frame larger
 * than the preview's size, one more scale by the resize rule. Nothing else of the job's arguments changes.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { isPlanProblems, planConvert, type ConvertPlan } from '../../../src/media/plan.js';
import { ConvertRequestSchema } from '../../../src/schemas/convert.js';
import { MAIN, hd } from './support.js';

const cut = { durationS: 3, size: '360p' } as const;

function plans(body: Record<string, unknown>): { job: ConvertPlan; preview: ConvertPlan } {
  const request = ConvertRequestSchema.parse({ input: MAIN, ...body });
  const job = planConvert(request, hd(), DEFAULT_LIMITS);
  const preview = planConvert(request, hd(), DEFAULT_LIMITS, {}, cut);
  if (isPlanProblems(job) || isPlanProblems(preview)) throw new Error('unexpected problems');
  return { job, preview };
}

describe('preview cut', () => {
  it('adds -t before the output and a scale to 360p after the operations', () => {
    const { job, preview } = plans({ output: 'webm', operations: [{ type: 'crop', width: 960, height: 1080, x: 0, y: 0 }] });
    const vf = (args: string[]) => args[args.indexOf('-vf') + 1];
    expect(vf(job.args)).toBe('crop=w=960:h=1080:x=0:y=0');
    expect(vf(preview.args)).toBe('crop=w=960:h=1080:x=0:y=0,scale=w=360:h=406');
    const expected = [...job.args];
    expected[expected.indexOf('-vf') + 1] = vf(preview.args)!;
    expected.splice(expected.lastIndexOf('-f'), 0, '-t', '3');
    expect(preview.args).toEqual(expected);
    expect(preview.expectedDurationS).toBe(3);
  });

  it('leaves a frame already small enough alone, and copies what the job copies', () => {
    const { job, preview } = plans({ output: 'mkv', operations: [{ type: 'trim', start: 1, end: 4, mode: 'keyframe' }] });
    expect(job.streamCopy).toBe(true);
    expect(preview.streamCopy).toBe(true);
    expect(preview.args).not.toContain('scale');
  });
});
