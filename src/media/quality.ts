/**
 * The quality planner: a distorted file, its reference and the metrics asked for become ONE ffmpeg run that decodes
 * each input once, aligns the distorted to the reference, splits both and feeds one pair of copies to each metric
 * filter (libvmaf, psnr, ssim), which writes its per-frame statistics to a file of the run dir. The attempt hands
 * those files back to the kind as text (the pass's `scratch`); quality-frames.ts reads them. Pure: no I/O.
 *
 * Alignment, in the order the filters run on the distorted input (the reference is only normalised):
 *   setpts=PTS-STARTPTS   both inputs start at 0, so framesync pairs frame n with frame n (an encode's delay is not
 *                         a shift of the picture)
 *   fps=<reference's>     when the frame rates differ: the distorted is resampled to the reference's rate, so every
 *                         reference frame is compared with the distorted frame shown at that time
 *   scale=W:H:flags=bicubic  when the sizes differ (Netflix's advice for VMAF: upscale the distorted to the
 *                         reference's size with bicubic); `scale: "none"` refuses different sizes instead
 *   format=yuv420p        both: the metrics compare frames of one pixel format, and VMAF's models are trained on
 *                         8-bit 4:2:0
 * and every metric filter has `shortest=1`: the comparison ends with the shorter input (the result says so).
 * `subsample: N` compares frames 0, N, 2N...: libvmaf's own n_subsample (its motion feature still sees every frame),
 * and `select` of the same frames before psnr and ssim.
 */
import type { ProbeResult, ProbeStream } from '../engine/engine.js';
import { isIndirectInputFormat } from './formats.js';
import { filter, formatNumber, GraphBuilder, renderGraph, type Filter } from './graph.js';
import type { PlanInput } from './inputs.js';
import type { PlanProblem } from './problems.js';
import { BASE_ARGS, type PlanRequirements } from './plan.js';

export const QUALITY_METRICS = ['vmaf', 'psnr', 'ssim'] as const;
export type QualityMetric = (typeof QUALITY_METRICS)[number];

/** `phone` is the default model with libvmaf's phone transform (scores as seen on a small screen). */
export const VMAF_MODELS = ['default', '4k', 'phone'] as const;
export type VmafModel = (typeof VMAF_MODELS)[number];

/** How the distorted is brought to the reference's size; `none` refuses inputs of different sizes. */
export const SCALE_MODES = ['bicubic', 'none'] as const;
export type ScaleMode = (typeof SCALE_MODES)[number];

/** The filter only engines built with libvmaf have. */
export const LIBVMAF = 'libvmaf';

/** The inputs' file names in the run dir; the distorted is ffmpeg's input 0, the reference input 1. */
export const DISTORTED_FILE = 'input';
export const REFERENCE_FILE = 'reference';

/**
 * Where the run finds the VMAF models: a name relative to the run dir that the engine links to its model dir
 * (FFEDGE_VMAF_MODEL_DIR), so no server path is in a plan, a job or a log.
 */
export const VMAF_MODEL_DIR = 'vmaf-models';
/** libvmaf 1.x models (.pkl, with its .pkl.model beside it), by the request's name. */
export const VMAF_MODEL_FILES: Readonly<Record<'default' | '4k', string>> = { default: 'vmaf_v0.6.1.pkl', '4k': 'vmaf_4k_v0.6.1.pkl' };

/** The per-frame statistics each metric filter writes. */
export const STATS_FILES: Readonly<Record<QualityMetric, string>> = { vmaf: 'vmaf.json', psnr: 'psnr.log', ssim: 'ssim.log' };

/**
 * The most frames one job compares. The attempt reads each stats file back as text of at most 16 MiB, and libvmaf's
 * JSON log takes about 270 bytes a frame: past this, a longer input needs `subsample`.
 */
export const MAX_COMPARED_FRAMES = 50_000;

/** The per-frame outputs the kind makes from them. */
export const FRAMES_CSV = 'frames.csv';
export const FRAMES_JSON = 'frames.json';

/** What the planner reads of an analyze request (src/schemas/analyze.ts); `metrics` resolved at submission. */
export interface QualityRequest {
  metrics: readonly QualityMetric[];
  vmaf_model?: VmafModel | undefined;
  subsample: number;
  scale: ScaleMode;
}

export interface QualityPlan {
  args: string[];
  /** The stats files the run writes, for the kind to read. */
  scratch: string[];
  requirements: PlanRequirements;
  /** Seconds compared (the shorter input); null when unknown. */
  expectedDurationS: number | null;
  alignment: Alignment;
}

/** What was done to compare the two: reported in the job's result. */
export interface Alignment {
  /** The distorted's frame size scaled to the reference's; null when they match (or before the probe). */
  scaled: { from: string; to: string; flags: 'bicubic' } | null;
  /** The distorted's frame rate converted to the reference's; null when they match or one is unknown. */
  fps: { from: number; to: number } | null;
  /** The inputs' durations and what is compared: the shorter. */
  duration: { input_s: number | null; reference_s: number | null; compared_s: number | null };
  /** What a client should know about the comparison (a trimmed input). */
  warnings: string[];
}

export function qualityInputs(request: { input: string; reference: string }): PlanInput[] {
  return [
    { pointer: '/input', uri: request.input, file: DISTORTED_FILE },
    { pointer: '/reference', uri: request.reference, file: REFERENCE_FILE },
  ];
}

/** What can be told from the request alone (audit #13): checked before anything is stored. */
export function validateQuality(request: QualityRequest): PlanProblem[] {
  const problems: PlanProblem[] = [];
  if (request.vmaf_model !== undefined && !request.metrics.includes('vmaf')) {
    problems.push({
      code: 'INVALID_OPTION',
      pointer: '/vmaf_model',
      message: 'vmaf_model applies to VMAF, which is not among the metrics asked for',
      suggestion: 'add "vmaf" to metrics, or leave vmaf_model out',
    });
  }
  return problems;
}

/**
 * The metrics a request that names none gets: all three where an engine here has libvmaf (the forced one, when
 * options.engine names one), else PSNR and SSIM, which every engine has.
 */
export function defaultMetrics(engines: readonly { name: string; capabilities: { filters: readonly string[] } }[], forced: string | null): QualityMetric[] {
  const candidates = forced ? engines.filter((engine) => engine.name === forced) : engines;
  return candidates.some((engine) => engine.capabilities.filters.includes(LIBVMAF)) ? ['vmaf', 'psnr', 'ssim'] : ['psnr', 'ssim'];
}

/**
 * The run, from the probes of [distorted, reference]; with `null` (at submission) only its shape: the requirements,
 * with the aligning filters assumed needed.
 */
export function planQuality(request: QualityRequest, probes: readonly [ProbeResult, ProbeResult] | null): QualityPlan | PlanProblem[] {
  const problems = validateQuality(request);
  const streams = probes ? probes.map((probe, k) => videoOf(probe, k === 0 ? '/input' : '/reference', problems)) : null;
  if (problems.length > 0) return problems;

  const alignment = probes && streams ? align(request, probes, streams[0]!, streams[1]!, problems) : unknownAlignment();
  if (problems.length > 0) return problems;

  const metrics = QUALITY_METRICS.filter((metric) => request.metrics.includes(metric));
  const graph = new GraphBuilder();
  const copies = metrics.length;
  const distorted: Filter[] = [filter('setpts', { expr: 'PTS-STARTPTS' })];
  if (alignment.fps) distorted.push(filter('fps', { fps: alignment.fps.to }));
  if (alignment.scaled) {
    const [w, h] = alignment.scaled.to.split('x').map(Number);
    distorted.push(filter('scale', { w, h, flags: 'bicubic' }));
  }
  const reference: Filter[] = [filter('setpts', { expr: 'PTS-STARTPTS' })];
  for (const chain of [distorted, reference]) {
    chain.push(filter('format', { pix_fmts: 'yuv420p' }));
    if (copies > 1) chain.push(filter('split', { outputs: copies }));
  }
  const d = metrics.map((_, k) => `d${k}`);
  const r = metrics.map((_, k) => `r${k}`);
  graph.add({ inputs: [`0:${streams?.[0]?.index ?? 0}`], filters: distorted, outputs: d });
  graph.add({ inputs: [`1:${streams?.[1]?.index ?? 0}`], filters: reference, outputs: r });

  const sub = request.subsample;
  const every = filter('select', { expr: `not(mod(n,${sub}))` });
  metrics.forEach((metric, k) => {
    let [main, ref] = [d[k]!, r[k]!];
    if (metric !== 'vmaf' && sub > 1) {
      // libvmaf subsamples itself; psnr and ssim are given the same frames.
      graph.add({ inputs: [main], filters: [every], outputs: [`${main}s`] });
      graph.add({ inputs: [ref], filters: [every], outputs: [`${ref}s`] });
      [main, ref] = [`${main}s`, `${ref}s`];
    }
    graph.add({ inputs: [main, ref], filters: [metricFilter(metric, request)], outputs: [metric] });
  });

  const args = [...BASE_ARGS];
  for (const file of [DISTORTED_FILE, REFERENCE_FILE]) args.push('-protocol_whitelist', 'file', '-i', file);
  args.push('-filter_complex', renderGraph(graph.chains));
  for (const metric of metrics) args.push('-map', `[${metric}]`);
  // The null muxer writes nothing: the stats files are the run's product.
  args.push('-f', 'null', '-');

  const decoders = probes && streams ? [...new Set(streams.map((s) => s?.codec).filter((c): c is string => !!c))] : [];
  const filters = new Set(graph.filterNames());
  if (!probes) for (const name of ['fps', 'scale']) filters.add(name);
  return {
    args,
    scratch: metrics.map((metric) => STATS_FILES[metric]),
    requirements: { encoders: [], decoders, filters: [...filters], muxers: ['null'] },
    expectedDurationS: alignment.duration.compared_s,
    alignment,
  };
}

export function isQualityProblems(result: QualityPlan | PlanProblem[]): result is PlanProblem[] {
  return Array.isArray(result);
}

/** The model's name as the result reports it. */
export function vmafModelName(model: VmafModel | undefined): string {
  if (model === '4k') return 'vmaf_4k_v0.6.1';
  return model === 'phone' ? 'vmaf_v0.6.1 (phone)' : 'vmaf_v0.6.1';
}

function metricFilter(metric: QualityMetric, request: QualityRequest): Filter {
  if (metric === 'vmaf') {
    const model = request.vmaf_model ?? 'default';
    const phone = model === 'phone';
    return filter(LIBVMAF, {
      model_path: `${VMAF_MODEL_DIR}/${VMAF_MODEL_FILES[model === '4k' ? '4k' : 'default']}`,
      log_path: STATS_FILES.vmaf,
      log_fmt: 'json',
      // libvmaf 1.x: the phone model is the default one with its transform applied to the score.
      enable_transform: phone ? 1 : undefined,
      phone_model: phone ? 1 : undefined,
      n_subsample: request.subsample > 1 ? request.subsample : undefined,
      shortest: 1,
    });
  }
  return filter(metric, { stats_file: STATS_FILES[metric], shortest: 1 });
}

function videoOf(probe: ProbeResult, pointer: string, problems: PlanProblem[]): ProbeStream | null {
  if (isIndirectInputFormat(probe.format)) {
    problems.push({ code: 'UNSUPPORTED_INPUT', pointer, message: 'the file must be a single media file, not a playlist or a list of other files' });
    return null;
  }
  const stream = probe.streams.find((s) => s.type === 'video' && Number.isSafeInteger(s.index) && s.index >= 0);
  if (!stream) {
    problems.push({ code: 'NO_VIDEO_STREAM', pointer, message: `the ${pointer === '/input' ? 'input' : 'reference'} has no video stream to compare` });
    return null;
  }
  if (!dimension(stream.width) || !dimension(stream.height)) {
    problems.push({ code: 'UNSUPPORTED_INPUT', pointer, message: 'the frame size of the video stream is unknown' });
    return null;
  }
  return stream;
}

function align(request: QualityRequest, probes: readonly ProbeResult[], d: ProbeStream, r: ProbeStream, problems: PlanProblem[]): Alignment {
  const warnings: string[] = [];
  const from = `${d.width}x${d.height}`;
  const to = `${r.width}x${r.height}`;
  let scaled: Alignment['scaled'] = null;
  if (from !== to) {
    if (request.scale === 'none') {
      problems.push({
        code: 'INVALID_OPTION',
        pointer: '/scale',
        message: `the input is ${from} and the reference ${to}; with scale "none" only frames of one size are compared`,
        allowed: [...SCALE_MODES],
        suggestion: 'use scale "bicubic" to scale the input to the reference size',
      });
    }
    scaled = { from, to, flags: 'bicubic' };
  }
  const fpsOf = (s: ProbeStream) => (s.fps && Number.isFinite(s.fps) && s.fps > 0 ? Number(formatNumber(s.fps)) : null);
  const [dFps, rFps] = [fpsOf(d), fpsOf(r)];
  const fps = dFps !== null && rFps !== null && Math.abs(dFps - rFps) > 1e-3 ? { from: dFps, to: rFps } : null;

  const durationOf = (probe: ProbeResult, s: ProbeStream) => positive(s.duration_s) ?? positive(probe.duration_s);
  const [inputS, referenceS] = [durationOf(probes[0]!, d), durationOf(probes[1]!, r)];
  const comparedS = inputS !== null && referenceS !== null ? Math.min(inputS, referenceS) : (inputS ?? referenceS);
  const frames = comparedS !== null && rFps !== null ? Math.ceil((comparedS * rFps) / request.subsample) : null;
  if (frames !== null && frames > MAX_COMPARED_FRAMES) {
    const subsample = Math.ceil((comparedS! * rFps!) / MAX_COMPARED_FRAMES);
    problems.push({
      code: 'LIMIT_EXCEEDED',
      pointer: '/subsample',
      message: `about ${frames} frames would be compared, more than the ${MAX_COMPARED_FRAMES} one job compares`,
      suggestion: subsample <= 100 ? `set subsample to ${subsample}: one frame in ${subsample} is compared` : 'compare a shorter part of the input',
    });
  }
  // Half a frame (or 20 ms) is container rounding, not a different length.
  const slack = Math.max(0.02, rFps ? 0.5 / rFps : 0);
  if (inputS !== null && referenceS !== null && Math.abs(inputS - referenceS) > slack) {
    const [shorter, longer] = inputS < referenceS ? ['input', 'reference'] : ['reference', 'input'];
    warnings.push(`the ${shorter} (${seconds(Math.min(inputS, referenceS))}) is shorter than the ${longer} (${seconds(Math.max(inputS, referenceS))}): only the first ${seconds(comparedS!)} are compared`);
  }
  if (fps) warnings.push(`the input's ${fps.from} fps are converted to the reference's ${fps.to} fps before comparing`);
  if (scaled) warnings.push(`the input is scaled from ${from} to the reference's ${to} (bicubic) before comparing`);
  return { scaled, fps, duration: { input_s: inputS, reference_s: referenceS, compared_s: comparedS }, warnings };
}

function unknownAlignment(): Alignment {
  return { scaled: null, fps: null, duration: { input_s: null, reference_s: null, compared_s: null }, warnings: [] };
}

function dimension(value: number | undefined): boolean {
  return value !== undefined && Number.isSafeInteger(value) && value > 0;
}

function positive(value: number | null | undefined): number | null {
  return value !== undefined && value !== null && Number.isFinite(value) && value > 0 ? value : null;
}

function seconds(value: number): string {
  return `${value.toFixed(2)} s`;
}
