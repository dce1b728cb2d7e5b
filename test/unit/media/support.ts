/** Probes and helpers shared by the planner's unit tests. */
import { DEFAULT_LIMITS, type Limits } from '../../../src/config.js';
import type { ProbeResult } from '../../../src/engine/engine.js';
import { inputsOf, isPlanProblems, planConvert, validateConvert, type ConvertPlan, type Measurements, type PlanProblem } from '../../../src/media/plan.js';
import { ConvertRequestSchema } from '../../../src/schemas/convert.js';

export const MAIN = 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e';
export const LOGO = 'upload:0190c5a4-7d4e-7c1a-9f5e-00000000000a';
export const CLIP2 = 'upload:0190c5a4-7d4e-7c1a-9f5e-00000000000b';
export const CLIP3 = 'upload:0190c5a4-7d4e-7c1a-9f5e-00000000000c';

export const HEAD = ['-hide_banner', '-nostdin', '-y', '-progress', 'pipe:1', '-nostats'];
export const IN = (file = 'input', ...args: string[]) => ['-protocol_whitelist', 'file', ...args, '-i', file];
export const X264 = ['-c:v', 'libx264', '-crf', '23', '-preset', 'medium', '-pix_fmt', 'yuv420p'];

/** 10 s of 1080p25 H.264 with 48 kHz stereo AAC. */
export function hd(overrides: Partial<ProbeResult> = {}): ProbeResult {
  return {
    format: 'mov,mp4,m4a,3gp,3g2,mj2',
    duration_s: 10,
    size: 10_000_000,
    bit_rate: 8_000_000,
    streams: [
      { index: 0, type: 'video', codec: 'h264', width: 1920, height: 1080, fps: 25, duration_s: 10, bit_rate: 7_800_000 },
      { index: 1, type: 'audio', codec: 'aac', sample_rate: 48000, channels: 2, duration_s: 10, bit_rate: 128_000 },
    ],
    ...overrides,
  };
}

/** A 200x100 PNG. */
export const logo: ProbeResult = {
  format: 'png_pipe',
  duration_s: null,
  size: 5_000,
  bit_rate: null,
  streams: [{ index: 0, type: 'video', codec: 'png', width: 200, height: 100, fps: 25 }],
};

/** 4 s of 720p30 H.264 without sound. */
export const silent720: ProbeResult = {
  format: 'mov,mp4,m4a,3gp,3g2,mj2',
  duration_s: 4,
  size: 1_000_000,
  bit_rate: 2_000_000,
  streams: [{ index: 0, type: 'video', codec: 'h264', width: 1280, height: 720, fps: 30, duration_s: 4 }],
};

/** 6 s of MP3 audio. */
export const song: ProbeResult = {
  format: 'mp3',
  duration_s: 6,
  size: 100_000,
  bit_rate: 128_000,
  streams: [{ index: 0, type: 'audio', codec: 'mp3', sample_rate: 44100, channels: 2, duration_s: 6 }],
};

/** The probes of a request's inputs, by URI (the main input defaults to hd()). */
export function probesFor(body: Record<string, unknown>, byUri: Record<string, ProbeResult> = {}): ProbeResult[] {
  const request = ConvertRequestSchema.parse({ input: MAIN, ...body });
  const known: Record<string, ProbeResult> = { [MAIN]: hd(), [LOGO]: logo, [CLIP2]: silent720, [CLIP3]: song, ...byUri };
  return inputsOf(request).map((input) => {
    const probe = known[input.uri];
    if (!probe) throw new Error(`no probe for ${input.uri}`);
    return probe;
  });
}

export function plan(
  body: Record<string, unknown>,
  options: { probes?: Record<string, ProbeResult>; limits?: Limits; measurements?: Measurements } = {},
): ConvertPlan | PlanProblem[] {
  const request = ConvertRequestSchema.parse({ input: MAIN, ...body });
  return planConvert(request, probesFor(body, options.probes), options.limits ?? DEFAULT_LIMITS, options.measurements ?? {});
}

export function validate(body: Record<string, unknown>, limits: Limits = DEFAULT_LIMITS): PlanProblem[] {
  return validateConvert(ConvertRequestSchema.parse({ input: MAIN, ...body }), limits);
}

export function expectPlan(result: ConvertPlan | PlanProblem[]): ConvertPlan {
  if (isPlanProblems(result)) throw new Error(`expected a plan, got ${JSON.stringify(result)}`);
  return result;
}

export function expectProblems(result: ConvertPlan | PlanProblem[]): PlanProblem[] {
  if (!isPlanProblems(result)) throw new Error(`expected problems, got ${JSON.stringify(result.args)}`);
  return result;
}

/** The arguments after the base flags. */
export function tail(result: ConvertPlan | PlanProblem[]): string[] {
  return expectPlan(result).args.slice(HEAD.length);
}
