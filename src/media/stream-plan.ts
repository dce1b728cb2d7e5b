/**
 * The streaming planner: a stream request and the probes of its inputs become ONE ffmpeg run that decodes the input
 * once, applies the operations, splits the picture into one scaler per rung and encodes every rung with closed,
 * aligned GOPs (a keyframe forced on every segment boundary, no scene-cut keyframes), so that every rung has the
 * same segment boundaries and a player can switch between them at any segment. ffmpeg's hls or dash muxer writes the
 * segments and media playlists into the package's folder; the kind (src/kinds/stream.ts) then writes the master
 * playlist and the MPD's bandwidths from what was really written.
 *
 * Where an argument comes from: the operations' filters, inputs and -protocol_whitelist from plan.ts
 * (composeStreams); split/scale/setsar, encoders, GOP, muxer options and the thumbnail sprite here.
 */
import type { Limits } from '../config.js';
import type { ProbeResult } from '../engine/engine.js';
import type { ConvertRequest } from '../schemas/convert.js';
import type { StreamRequest } from '../schemas/stream.js';
import { BitrateParseError, parseBitrate } from './bitrate.js';
import { NAMED_RESOLUTIONS, type VideoPreset } from './formats.js';
import { filter, formatNumber, renderGraph, type GraphBuilder } from './graph.js';
import { inputsOf, type PlanInput } from './inputs.js';
import { autoLadder } from './ladder.js';
import type { GeneratedFile, PlanOutput, PlanPass, PlanRequirements } from './plan.js';
import { composeStreams } from './plan.js';
import { LIBVMAF } from './quality.js';
import {
  chooseCrf,
  CRF_GRID,
  qualityCap,
  qualityProblems,
  rungConcat,
  sampledSeconds,
  sampleFile,
  sampleLog,
  sampleWindows,
  selectWindows,
  targetOf,
  verifyLog,
  verifySubsample,
  vmafFilter,
  type QualityChoice,
  type QualityMeasurements,
  type SampleWindow,
} from './stream-quality.js';
import type { PlanProblem } from './problems.js';
import {
  h264Level,
  LADDER_ENCODERS,
  packager,
  segmentFormatsFor,
  STREAM_AUDIO_ENCODERS,
  STREAM_OPERATIONS,
  type LadderCodec,
} from './stream-formats.js';

export interface PlannedRung {
  name: string;
  codec: LadderCodec;
  /** Known once the input was probed; 0 before. */
  width: number;
  height: number;
  fps: number | null;
  bitrate: number;
  maxBitrate: number;
  /** H.264: the level asked of libx264, and the CODECS string a TS package names it by. */
  level: string | null;
  profile: 'baseline' | 'main' | 'high' | null;
  /** Constant quality (capped by maxBitrate) in place of the average bitrate: given, or chosen by quality. */
  crf?: number;
  preset?: VideoPreset;
  /** A ladder by quality: the rung's target and the CRF its samples gave; null until they were scored. */
  quality?: QualityChoice | null;
}

export interface StreamPlan {
  inputs: PlanInput[];
  passes: PlanPass[];
  args: string[];
  /** The thumbnail sprite, and the files the planner writes itself (its WebVTT and image playlist). */
  outputs: PlanOutput[];
  files: GeneratedFile[];
  dirs: string[];
  collect: string[];
  expectedDurationS: number | null;
  streamCopy: false;
  requirements: PlanRequirements;
  /** The package's folder under the job: `hls`, `dash` or `cmaf`. */
  folder: string;
  rungs: PlannedRung[];
  audio: { codec: 'aac' | 'opus'; bitrate: number; channels: number } | null;
  thumbnails: { sprite: string; vtt: string; playlist: string; width: number; height: number; columns: number; rows: number; count: number; intervalS: number } | null;
  /** Rungs left out because the input is smaller than they are. */
  warnings: string[];
  /** A ladder by quality: what the verifying run compares of each rung (all of it, or its first segments). */
  verify: { rung: string; partial: boolean; subsample: number }[] | null;
}

const DEFAULT_PRESET: VideoPreset = 'medium';
const MAX_RATE_FACTOR = 1.07;
// SVT-AV1 numbers its presets 0 (slowest) to 13; libvpx's speed is -cpu-used.
const SVT_PRESET: Readonly<Record<VideoPreset, number>> = { ultrafast: 12, superfast: 12, veryfast: 11, faster: 10, fast: 9, medium: 8, slow: 6, slower: 5, veryslow: 4 };
const VPX_CPU_USED: Readonly<Record<VideoPreset, number>> = { ultrafast: 5, superfast: 5, veryfast: 4, faster: 4, fast: 3, medium: 2, slow: 1, slower: 0, veryslow: 0 };

/** Everything that can be checked before the input is read (audit #13). */
export function validateStream(req: StreamRequest, limits: Limits): PlanProblem[] {
  const plan = planStream(req, null, limits);
  return Array.isArray(plan) ? plan : [];
}

export function streamInputs(req: Pick<StreamRequest, 'input' | 'operations'>): PlanInput[] {
  return inputsOf(req);
}

/**
 * The plan from the probes of `streamInputs(req)`, in that order; null probes: validation only. A ladder by quality
 * has four passes (stream-quality.ts), planned again with what each of the first three left (`measurements`).
 */
export function planStream(
  req: StreamRequest,
  probes: readonly ProbeResult[] | null,
  limits: Limits,
  measurements: QualityMeasurements = {},
): StreamPlan | PlanProblem[] {
  const problems: PlanProblem[] = [...qualityProblems(req)];
  const { muxer, folder } = packager(req.format);

  if (req.format !== 'hls' && req.segment_format === 'ts') {
    problems.push({ code: 'INVALID_CODEC_FORMAT', pointer: '/segment_format', message: `${req.format} packages are made of fMP4 segments`, allowed: ['fmp4'] });
  }
  (req.operations ?? []).forEach((op, index) => {
    if (!(STREAM_OPERATIONS as readonly string[]).includes(op.type)) {
      problems.push({
        code: 'INVALID_OPERATION',
        pointer: `/operations/${index}/type`,
        message: `${op.type} does not apply to a streaming package`,
        allowed: [...STREAM_OPERATIONS],
      });
    }
  });
  const audioCodec = req.audio === false ? null : req.audio.codec;
  if (audioCodec && !segmentFormatsFor(audioCodec).includes(req.segment_format)) {
    problems.push({
      code: 'INVALID_CODEC_FORMAT',
      pointer: '/audio/codec',
      message: `${audioCodec} audio needs fMP4 segments`,
      allowed: ['aac'],
      suggestion: 'use segment_format fmp4, or aac audio',
    });
  }
  const audioBitrate = req.audio === false ? 0 : bitrateOf(req.audio.bitrate, limits, '/audio/bitrate', problems);

  // The picture after the operations; the probes (when there are some) say how large it is.
  const composed = composeStreams(pictureOf(req, req.audio !== false), probes, limits);
  // The convert planner speaks of the output; for a package, what is missing is missing from the input.
  for (const problem of composed.problems) problems.push({ ...problem, pointer: problem.pointer.startsWith('/output') ? '/input' : problem.pointer });

  const frame = composed.video?.frame ?? null;
  const rungs = ladderOf(req, frame, limits, problems);
  const warnings: string[] = [];
  let kept = rungs;
  if (probes && frame?.height) {
    kept = rungs.filter((rung) => rung.height <= frame.height!);
    for (const dropped of rungs.filter((rung) => !kept.includes(rung))) {
      warnings.push(`rung ${dropped.name} (${dropped.height}p) is above the input's ${frame.height}p and was left out`);
    }
    if (kept.length === 0 && rungs.length > 0) {
      // Nothing is upscaled: the smallest rung is made at the input's own height.
      const smallest = rungs.reduce((a, b) => (a.height <= b.height ? a : b));
      kept = [{ ...smallest, height: frame.height - (frame.height % 2), name: smallest.name }];
      warnings.push(`every rung is above the input's ${frame.height}p; ${smallest.name} is made at ${kept[0]!.height}p instead`);
    }
    const aspect = frame.width && frame.height ? frame.width / frame.height : 16 / 9;
    for (const rung of kept) {
      rung.width = Math.max(2, Math.round((rung.height * aspect) / 2) * 2);
      rung.fps = frame.fps ?? null;
      if (req.quality) chooseQuality(req, rung, measurements, sampledSeconds(sampleWindows(composed.durationS)));
      if (rung.width * rung.height > limits.outputPixels) {
        problems.push({ code: 'LIMIT_EXCEEDED', pointer: '/ladder', message: `rung ${rung.name} (${rung.width}x${rung.height}) is larger than the limit of ${limits.outputPixels} pixels` });
      }
      if (rung.codec === 'h264') rung.level = h264Level(rung.width, rung.height, rung.fps ?? 30, rung.maxBitrate);
    }
    if (frame.fps !== null && frame.fps > limits.maxFps) {
      problems.push({ code: 'LIMIT_EXCEEDED', pointer: '/input', message: `the input's ${frame.fps} fps is above the limit of ${limits.maxFps}` });
    }
  }
  if (probes && !composed.video && problems.length === 0) {
    problems.push({ code: 'NO_VIDEO_STREAM', pointer: '/input', message: 'the input has no video stream to package' });
  }

  const thumbs = thumbnailsOf(req, folder, composed.durationS, frame, limits, problems);
  if (problems.length > 0) return problems;
  const windows = req.quality ? sampleWindows(composed.durationS) : [];

  const video = composed.video;
  const graph = composed.graph;
  const args = [...composed.inputArgs];
  const filters = new Set(composed.graph.filterNames());
  const encoders = new Set<string>();
  const dirs: string[] = [folder];
  const outputs: PlanOutput[] = [];
  const files: GeneratedFile[] = [];
  const audioPlan = audioCodec ? { codec: audioCodec, bitrate: audioBitrate, channels: req.audio === false ? 2 : req.audio.channels } : null;

  if (video && probes) {
    const from = video.link();
    const branches = kept.map(() => graph.label('r'));
    const thumbBranch = thumbs ? graph.label('r') : null;
    graph.add({ inputs: [from], filters: [filter('split', { outputs: branches.length + (thumbBranch ? 1 : 0) })], outputs: thumbBranch ? [...branches, thumbBranch] : branches });
    // Every rung shows the picture at the input's own aspect ratio, however its width was rounded: players (and
    // DASH adaptation sets, which ffmpeg checks) switch between rungs of one picture shape.
    const dar = aspectOf(frame, kept[0]!);
    const scaled = kept.map((rung, i) => {
      const out = graph.label('s');
      graph.add({ inputs: [branches[i]!], filters: [filter('scale', { w: rung.width, h: rung.height }), filter('setdar', { dar })], outputs: [out] });
      return out;
    });
    let thumbOut: string | null = null;
    if (thumbs && thumbBranch) {
      thumbOut = graph.label('t');
      graph.add({
        inputs: [thumbBranch],
        filters: [
          filter('fps', { fps: `1/${thumbs.intervalS}` }),
          filter('scale', { w: thumbs.width, h: thumbs.height }),
          filter('tile', { layout: `${thumbs.columns}x${thumbs.rows}` }),
        ],
        outputs: [thumbOut],
      });
    }
    for (const f of ['split', 'scale', 'setdar', ...(thumbs ? ['fps', 'tile'] : [])]) filters.add(f);
    // The audio's own filters join the graph before it is written.
    const audio = composed.audio && audioPlan ? composed.audio : null;
    const audioLabel = audio?.link() ?? null;
    for (const name of graph.filterNames()) filters.add(name);
    args.push('-filter_complex', renderGraph(graph.chains));

    for (const out of scaled) args.push('-map', `[${out}]`);
    if (audio && audioLabel) args.push('-map', audio.isSimple ? audioLabel : `[${audioLabel}]`);
    kept.forEach((rung, i) => {
      args.push(...rungArgs(rung, i));
      encoders.add(LADDER_ENCODERS[rung.codec]);
    });
    args.push(...gopArgs(req, kept[0]?.fps ?? null));
    if (audioPlan) {
      args.push('-c:a', STREAM_AUDIO_ENCODERS[audioPlan.codec], '-b:a', String(audioPlan.bitrate), '-ac', String(audioPlan.channels));
      encoders.add(STREAM_AUDIO_ENCODERS[audioPlan.codec]);
    } else {
      args.push('-an');
    }
    args.push(...muxerArgs(req, folder, kept, audioPlan !== null));
    if (muxer === 'hls') {
      for (const rung of kept) dirs.push(`${folder}/${rung.name}`);
      if (audioPlan) dirs.push(`${folder}/audio`);
    }
    if (thumbs && thumbOut) {
      dirs.push(`${folder}/thumbs`);
      args.push('-map', `[${thumbOut}]`, '-c:v', 'mjpeg', '-q:v', '3', '-frames:v', '1', '-update', '1', '-f', 'image2', thumbs.sprite);
      encoders.add('mjpeg');
      outputs.push({ name: thumbs.sprite, file: thumbs.sprite, contentType: 'image/jpeg' });
      outputs.push({ name: thumbs.vtt, file: thumbs.vtt, contentType: 'text/vtt; charset=utf-8' });
      files.push({ file: thumbs.vtt, text: thumbnailVtt(thumbs, composed.durationS) });
      if (muxer === 'hls' || req.format === 'cmaf') {
        outputs.push({ name: thumbs.playlist, file: thumbs.playlist, contentType: 'application/vnd.apple.mpegurl' });
        files.push({ file: thumbs.playlist, text: thumbnailPlaylist(thumbs, composed.durationS) });
      }
    }
  }

  const encode: PlanPass = { kind: 'encode', args, expectedDurationS: composed.durationS, weight: 1 };
  const muxers = [muxer, ...(thumbs ? ['image2'] : [])];
  let passes = [encode];
  let verify: StreamPlan['verify'] = null;
  if (req.quality) {
    const q = qualityPasses(req, probes, limits, kept, windows, measurements, encode, aspectOf(frame, kept[0]!));
    passes = q.passes;
    verify = q.verify;
    for (const name of [LIBVMAF, 'select', 'setpts', 'format', 'split', 'scale', 'concat']) filters.add(name);
    muxers.push('mp4', 'null');
    // The samples are scored where they are decoded again: the decoders of the ladder's codec are needed too.
    for (const rung of kept) composed.decoders.includes(rung.codec) || composed.decoders.push(rung.codec);
  }

  return {
    inputs: streamInputs(req),
    passes,
    args,
    outputs,
    files,
    dirs,
    collect: [`${folder}/`],
    expectedDurationS: composed.durationS,
    streamCopy: false,
    requirements: {
      encoders: [...encoders],
      decoders: composed.decoders,
      filters: [...filters],
      muxers,
    },
    folder,
    rungs: kept,
    audio: audioPlan,
    thumbnails: thumbs,
    warnings,
    verify,
  };
}

/** The request as the convert planner reads it: the input and the operations that apply to a package. */
function pictureOf(req: StreamRequest, audio: boolean): ConvertRequest {
  return {
    input: req.input,
    output: { format: 'mp4', video: {}, audio: audio ? {} : false },
    ...(req.operations ? { operations: req.operations.filter((op) => (STREAM_OPERATIONS as readonly string[]).includes(op.type)) } : {}),
    options: { priority: 0, engine: 'auto', stream_copy: 'never' },
  };
}

function ladderOf(req: StreamRequest, frame: { height: number | null; fps: number | null } | null, limits: Limits, problems: PlanProblem[]): PlannedRung[] {
  if (req.ladder === 'auto') {
    // Before the probe the input's height is unknown: the full table stands in, and is cut to the input later.
    const height = frame?.height ?? 2160;
    if (!segmentFormatsFor(req.codec).includes(req.segment_format)) problems.push(codecProblem('/codec', req.codec, req.segment_format));
    return autoLadder(height, frame?.fps ?? null, req.codec, limits.variants).map((rung) =>
      planned(`${rung.height}p`, req.codec, rung.height, rung.bitrate, Math.round(rung.bitrate * MAX_RATE_FACTOR), 'high'),
    );
  }
  if (req.ladder.length > limits.variants) {
    problems.push({ code: 'LIMIT_EXCEEDED', pointer: '/ladder', message: `at most ${limits.variants} rungs per package` });
  }
  const rungs: PlannedRung[] = [];
  const codecs = new Set(req.ladder.map((rung) => rung.video.codec));
  if (codecs.size > 1) {
    problems.push({ code: 'INVALID_LADDER', pointer: '/ladder', message: 'every rung of a package has the same video codec, so players can switch between them', allowed: [...codecs] });
  }
  req.ladder.forEach((rung, index) => {
    const at = (field: string) => `/ladder/${index}/${field}`;
    const height = rung.height ?? NAMED_RESOLUTIONS[rung.resolution!];
    const codec = rung.video.codec;
    if (!segmentFormatsFor(codec).includes(req.segment_format)) problems.push(codecProblem(at('video/codec'), codec, req.segment_format));
    if (rung.video.profile !== undefined && codec !== 'h264') {
      problems.push({ code: 'INVALID_OPTION', pointer: at('video/profile'), message: 'profile applies to h264 rungs only' });
    }
    if (rung.video.crf !== undefined && codec === 'h264' && rung.video.crf > 51) {
      problems.push({ code: 'INVALID_OPTION', pointer: at('video/crf'), message: 'crf for h264 must be between 0 and 51' });
    }
    if (height % 2 !== 0) problems.push({ code: 'INVALID_OPTION', pointer: at('height'), message: 'height must be even' });
    const bitrate = bitrateOf(rung.video.bitrate, limits, at('video/bitrate'), problems);
    const maxBitrate = rung.video.max_bitrate === undefined ? Math.round(bitrate * MAX_RATE_FACTOR) : bitrateOf(rung.video.max_bitrate, limits, at('video/max_bitrate'), problems);
    if (maxBitrate < bitrate) problems.push({ code: 'INVALID_OPTION', pointer: at('video/max_bitrate'), message: 'max_bitrate must be at least bitrate' });
    const name = rung.name ?? `${height}p`;
    const twin = rungs.find((other) => other.height === height && other.codec === codec);
    if (twin) problems.push({ code: 'INVALID_LADDER', pointer: `/ladder/${index}`, message: `rung ${index} repeats the ${height}p ${codec} rung ${twin.name}` });
    else if (rungs.some((other) => other.name === name)) problems.push({ code: 'INVALID_LADDER', pointer: at('name'), message: `two rungs are named ${name}` });
    const entry = planned(name, codec, height, bitrate, maxBitrate, rung.video.profile ?? 'high');
    rungs.push(Object.assign(entry, { crf: rung.video.crf, preset: rung.video.preset }));
  });
  // Largest first, as players list them.
  return rungs.sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
}

/** The input picture's aspect ratio as a reduced fraction (`16/9`), from its frame (or the top rung's). */
function aspectOf(frame: { width: number | null; height: number | null } | null, top: PlannedRung): string {
  const width = frame?.width ?? top.width;
  const height = frame?.height ?? top.height;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const d = gcd(width, height) || 1;
  return `${width / d}/${height / d}`;
}

function planned(name: string, codec: LadderCodec, height: number, bitrate: number, maxBitrate: number, profile: 'baseline' | 'main' | 'high'): PlannedRung {
  return { name, codec, width: 0, height, fps: null, bitrate, maxBitrate, level: null, profile: codec === 'h264' ? profile : null };
}

function codecProblem(pointer: string, codec: string, segmentFormat: string): PlanProblem {
  return {
    code: 'INVALID_CODEC_FORMAT',
    pointer,
    message: `${codec} video cannot travel in ${segmentFormat} segments`,
    allowed: ['h264'],
    suggestion: codec === 'h265' ? 'use segment_format fmp4 (HEVC in HLS needs fMP4), or h264' : 'use segment_format fmp4',
  };
}

function bitrateOf(value: string | number, limits: Limits, pointer: string, problems: PlanProblem[]): number {
  try {
    return parseBitrate(value, limits.maxBitrate);
  } catch (error) {
    if (!(error instanceof BitrateParseError)) throw error;
    problems.push({ code: error.code, pointer, message: error.message });
    return 0;
  }
}

/** Closed GOPs of one segment each, a keyframe forced on every boundary and none at scene cuts. */
function gopArgs(req: StreamRequest, fps: number | null): string[] {
  const gop = Math.max(1, Math.round((fps ?? 30) * req.segment_duration_s));
  return [
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(gop),
    '-keyint_min',
    String(gop),
    '-sc_threshold',
    '0',
    '-force_key_frames:v',
    `expr:gte(t,n_forced*${req.segment_duration_s})`,
  ];
}

// ------------------------------------------------------------------------------------------------ by quality

/**
 * A rung of a ladder by quality, once its samples were scored: the CRF that meets its target and a VBV cap above
 * the rate its samples had. Before that (the first plans) it is encoded, as a placeholder no run sees, at the middle
 * of the grid.
 */
function chooseQuality(req: StreamRequest, rung: PlannedRung, m: QualityMeasurements, seconds: number): void {
  const grid = CRF_GRID[rung.codec];
  rung.quality = null;
  rung.crf = grid[Math.floor(grid.length / 2)]!;
  const frames = m.vmafFrames?.[sampleLog(rung.name)];
  if (!frames) return;
  // The rung's samples were scored one after the other, in grid order: as many frames each.
  if (frames.length === 0 || frames.length % grid.length !== 0) throw new Error(`the samples of rung ${rung.name} were not scored frame for frame`);
  const each = frames.length / grid.length;
  const points = grid.map((crf, k) => {
    const bytes = m.sampleBytes?.[sampleFile(rung.name, crf)];
    const scores = frames.slice(k * each, (k + 1) * each);
    return { crf, bitrate: bytes !== undefined && seconds > 0 ? Math.round((bytes * 8) / seconds) : null, vmaf: scores.reduce((a, b) => a + b, 0) / each };
  });
  const choice = chooseCrf(targetOf(req, rung.name), points);
  rung.quality = choice;
  rung.crf = choice.crf;
  rung.maxBitrate = qualityCap(choice, rung.maxBitrate);
  if (choice.estimatedBitrate !== null) rung.bitrate = choice.estimatedBitrate;
}

/**
 * The passes of a ladder by quality around the package's `encode` (stream-quality.ts): the samples; one scoring run
 * per rung; the encode; one verifying run per rung. One libvmaf per run: libvmaf 1.x is not safe to run twice in one
 * process. Each run decodes the input with the same operations, so a sample's reference is the very picture it was
 * encoded from.
 */
function qualityPasses(
  req: StreamRequest,
  probes: readonly ProbeResult[] | null,
  limits: Limits,
  rungs: readonly PlannedRung[],
  windows: readonly SampleWindow[],
  m: QualityMeasurements,
  encode: PlanPass,
  dar: string,
): { passes: PlanPass[]; verify: NonNullable<StreamPlan['verify']> } {
  const { folder } = packager(req.format);
  const sampledS = sampledSeconds(windows);
  const durationS = encode.expectedDurationS;
  const whole = windows.length === 1 && windows[0]!.startS === 0 && (durationS === null || windows[0]!.endS >= durationS);
  const firstExtra = streamInputs(req).length;
  const samplesOf = (rung: PlannedRung) => CRF_GRID[rung.codec].map((crf) => sampleFile(rung.name, crf));
  const samples = rungs.flatMap((rung) => CRF_GRID[rung.codec].map((crf) => ({ rung, crf, file: sampleFile(rung.name, crf) })));

  // The samples: one decode split into every rung at every CRF.
  const one = composeStreams(pictureOf(req, false), probes, limits);
  const sampleArgs = [...one.inputArgs];
  if (one.video && probes) {
    const picked = selectWindows(one.graph, one.video.link(), windows, whole);
    const outs = splitByRung(one.graph, picked, rungs, dar, (rung) => CRF_GRID[rung.codec].length);
    sampleArgs.push('-filter_complex', renderGraph(one.graph.chains));
    samples.forEach((sample, k) => {
      // Uncapped but for a loose ceiling: the samples say what rate each CRF needs.
      const loose = { ...sample.rung, crf: sample.crf, maxBitrate: sample.rung.maxBitrate * 4 };
      sampleArgs.push('-map', `[${outs[k]!}]`, ...rungArgs(loose, 0), ...gopArgs(req, sample.rung.fps), '-an', '-f', 'mp4', sample.file);
    });
  }

  // Per rung: its samples one after the other, against as many copies of the windows at the rung's size.
  const scoring = rungs.map((rung): PlanPass => {
    const files = samplesOf(rung);
    const run = composeStreams(pictureOf(req, false), probes, limits);
    const args = [...run.inputArgs];
    if (run.video && probes) {
      const picked = selectWindows(run.graph, run.video.link(), windows, whole);
      const [reference] = splitByRung(run.graph, picked, [rung], null, () => 1, files.length);
      for (const file of files) args.push('-protocol_whitelist', 'file', '-i', file);
      const out = compare(run.graph, files.map((_, k) => `${firstExtra + k}:0`), reference!, sampleLog(rung.name), 1);
      args.push('-filter_complex', renderGraph(run.graph.chains), '-map', `[${out}]`, '-f', 'null', '-');
    }
    return { kind: 'measure', args, expectedDurationS: sampledS * files.length, weight: 0, reads: files, scratch: [sampleLog(rung.name)] };
  });

  // Per rung: the rung as written, against the whole source at its size.
  const verify: NonNullable<StreamPlan['verify']> = [];
  const subsample = verifySubsample(durationS, rungs[0]?.fps ?? null);
  const verifying = rungs.map((rung, i): PlanPass => {
    const run = composeStreams(pictureOf(req, false), probes, limits);
    const args = [...run.inputArgs];
    const concat = packageConcat(req, folder, rung, i, m.packageFiles, durationS);
    verify.push({ rung: rung.name, partial: concat.partial, subsample });
    if (run.video && probes) {
      const from = run.graph.label('q');
      run.graph.add({ inputs: [run.video.link()], filters: [filter('setpts', { expr: 'PTS-STARTPTS' })], outputs: [from] });
      const [reference] = splitByRung(run.graph, from, [rung], null, () => 1);
      args.push('-protocol_whitelist', 'concat,file', '-i', concat.url);
      const out = compare(run.graph, [`${firstExtra}:0`], reference!, verifyLog(rung.name), subsample);
      args.push('-filter_complex', renderGraph(run.graph.chains), '-map', `[${out}]`, '-f', 'null', '-');
    }
    return { kind: 'measure', args, expectedDurationS: durationS, weight: 0, reads: concat.files, scratch: [verifyLog(rung.name)] };
  });

  // Shares of the work, in seconds of picture handled: a sample costs about its encode, a score about half of one.
  const full = durationS ?? sampledS;
  const units = [sampledS * samples.length * 0.5, ...scoring.map((p) => p.expectedDurationS! * 0.5), full, ...verifying.map(() => (full * 0.5) / subsample)];
  const total = units.reduce((a, b) => a + b, 0);
  const passes: PlanPass[] = [
    { kind: 'measure' as const, args: sampleArgs, expectedDurationS: sampledS, weight: 0, carry: samples.map((s) => s.file) },
    ...scoring,
    encode,
    ...verifying,
  ].map((pass, k) => ({ ...pass, weight: Math.round((units[k]! / total) * 1000) / 1000 }));
  const encodeAt = 1 + scoring.length;
  passes[encodeAt]!.weight = Math.round((1 - passes.reduce((sum, p, k) => sum + (k === encodeAt ? 0 : p.weight), 0)) * 1000) / 1000;
  return { passes, verify };
}

/**
 * `from` split into `copies(rung)` links per rung, in rung order, each scaled to its rung (swscale's default, bicubic,
 * as the package is); `joined` joins that many copies one after the other into one link instead.
 */
function splitByRung(graph: GraphBuilder, from: string, rungs: readonly PlannedRung[], dar: string | null, copies: (rung: PlannedRung) => number, joined = 1): string[] {
  const branches = rungs.map(() => graph.label('b'));
  if (branches.length > 1) graph.add({ inputs: [from], filters: [filter('split', { outputs: branches.length })], outputs: branches });
  else branches[0] = from;
  return rungs.flatMap((rung, i) => {
    const count = joined > 1 ? joined : copies(rung);
    const outs = Array.from({ length: count }, () => graph.label('c'));
    const scaling = [
      filter('scale', { w: rung.width, h: rung.height, flags: dar ? undefined : 'bicubic' }),
      dar ? filter('setdar', { dar }) : filter('format', { pix_fmts: 'yuv420p' }),
    ];
    graph.add({ inputs: [branches[i]!], filters: [...scaling, ...(count > 1 ? [filter('split', { outputs: count })] : [])], outputs: outs });
    if (joined <= 1) return outs;
    const out = graph.label('j');
    graph.add({ inputs: outs, filters: [filter('concat', { n: joined, v: 1, a: 0 })], outputs: [out] });
    return [out];
  });
}

/** libvmaf of the video of the inputs `distorted` (one after the other) against the link `reference`; returns its output. */
function compare(graph: GraphBuilder, distorted: readonly string[], reference: string, log: string, subsample: number): string {
  const parts = distorted.map((input) => {
    const part = graph.label('d');
    graph.add({ inputs: [input], filters: [filter('setpts', { expr: 'PTS-STARTPTS' }), filter('format', { pix_fmts: 'yuv420p' })], outputs: [part] });
    return part;
  });
  let main = parts[0]!;
  if (parts.length > 1) {
    main = graph.label('j');
    graph.add({ inputs: parts, filters: [filter('concat', { n: parts.length, v: 1, a: 0 })], outputs: [main] });
  }
  const out = graph.label('m');
  graph.add({ inputs: [main, reference], filters: [vmafFilter(log, subsample)], outputs: [out] });
  return out;
}

/**
 * Rung `i` of the package as one concat: input: its files as written (once the encode ran), else as the muxer will
 * name them (the plan's placeholder, which no run sees).
 */
function packageConcat(req: StreamRequest, folder: string, rung: PlannedRung, i: number, written: readonly string[] | undefined, durationS: number | null) {
  const fmp4 = req.format !== 'hls' || req.segment_format === 'fmp4';
  // ffmpeg's hls muxer names a rung's init segment after its stream (init_0.mp4): found among the files written.
  const layout =
    req.format === 'hls'
      ? { init: fmp4 ? `${folder}/${rung.name}/init_${i}.mp4` : null, initPrefix: `${folder}/${rung.name}/init`, prefix: `${folder}/${rung.name}/seg_`, suffix: fmp4 ? '.m4s' : '.ts', first: 0 }
      : { init: `${folder}/init-${i}.m4s`, initPrefix: `${folder}/init-${i}.`, prefix: `${folder}/seg-${i}-`, suffix: '.m4s', first: 1 };
  const expected = () => {
    const count = Math.max(1, Math.ceil((durationS ?? req.segment_duration_s) / req.segment_duration_s));
    const names = Array.from({ length: count }, (_, k) => `${layout.prefix}${String(layout.first + k).padStart(5, '0')}${layout.suffix}`);
    return layout.init ? [layout.init, ...names] : names;
  };
  const files = written ?? expected();
  const init = layout.init ? (files.find((file) => file.startsWith(layout.initPrefix) && !file.slice(layout.initPrefix.length).includes('/')) ?? layout.init) : null;
  const found = rungConcat(files, init, layout.prefix, layout.suffix);
  if (!found) throw new Error(`the package has no segments of rung ${rung.name}`);
  return found;
}

/** The encoder and rate control of rung `i` (the i-th video stream of the package). */
function rungArgs(rung: PlannedRung, i: number): string[] {
  const v = `v:${i}`;
  const preset = rung.preset ?? DEFAULT_PRESET;
  const rate = rung.crf !== undefined ? [`-crf:${v}`, String(rung.crf)] : [`-b:${v}`, String(rung.bitrate)];
  // The VBV caps every rung's peak, which the playlists announce and players budget for.
  const vbv = [`-maxrate:${v}`, String(rung.maxBitrate), `-bufsize:${v}`, String(rung.maxBitrate * 2)];
  switch (rung.codec) {
    case 'h264':
      return [`-c:${v}`, 'libx264', `-profile:${v}`, rung.profile!, `-level:${v}`, rung.level ?? '4.0', `-preset:${v}`, preset, ...rate, ...vbv];
    case 'h265':
      // Apple players take HEVC in fMP4 under the hvc1 tag only.
      return [`-c:${v}`, 'libx265', `-tag:${v}`, 'hvc1', `-preset:${v}`, preset, ...rate, ...vbv, `-x265-params:${v}`, 'scenecut=0:open-gop=0:log-level=error'];
    case 'vp9':
      return [
        `-c:${v}`,
        'libvpx-vp9',
        ...(rung.crf !== undefined ? [`-crf:${v}`, String(rung.crf), `-b:${v}`, String(rung.maxBitrate)] : [`-b:${v}`, String(rung.bitrate)]),
        `-maxrate:${v}`,
        String(rung.maxBitrate),
        `-bufsize:${v}`,
        String(rung.maxBitrate * 2),
        `-deadline:${v}`,
        'good',
        `-cpu-used:${v}`,
        String(VPX_CPU_USED[preset]),
        `-row-mt:${v}`,
        '1',
      ];
    case 'av1':
      return [`-c:${v}`, 'libsvtav1', `-preset:${v}`, String(SVT_PRESET[preset]), ...rate];
  }
}

function muxerArgs(req: StreamRequest, folder: string, rungs: readonly PlannedRung[], audio: boolean): string[] {
  const seg = String(req.segment_duration_s);
  if (req.format === 'hls') {
    const fmp4 = req.segment_format === 'fmp4';
    const map = rungs.map((rung, i) => `v:${i},${audio ? 'agroup:audio,' : ''}name:${rung.name}`);
    if (audio) map.push('a:0,agroup:audio,name:audio');
    return [
      '-f',
      'hls',
      '-hls_time',
      seg,
      '-hls_playlist_type',
      'vod',
      '-hls_flags',
      'independent_segments',
      '-hls_segment_type',
      fmp4 ? 'fmp4' : 'mpegts',
      ...(fmp4 ? ['-hls_fmp4_init_filename', 'init.mp4'] : []),
      '-var_stream_map',
      map.join(' '),
      '-hls_segment_filename',
      `${folder}/%v/seg_%05d.${fmp4 ? 'm4s' : 'ts'}`,
      `${folder}/%v/index.m3u8`,
    ];
  }
  return [
    '-f',
    'dash',
    // fMP4 for every codec (the muxer would write VP9 and Opus as WebM), as CMAF and HLS players read it.
    '-dash_segment_type',
    'mp4',
    '-seg_duration',
    seg,
    '-use_template',
    '1',
    '-use_timeline',
    '0',
    '-adaptation_sets',
    audio ? 'id=0,streams=v id=1,streams=a' : 'id=0,streams=v',
    '-init_seg_name',
    'init-$RepresentationID$.m4s',
    '-media_seg_name',
    'seg-$RepresentationID$-$Number%05d$.m4s',
    ...(req.format === 'cmaf' ? ['-hls_playlist', '1', '-hls_master_name', 'master.m3u8'] : []),
    `${folder}/manifest.mpd`,
  ];
}

// ------------------------------------------------------------------------------------------------ thumbnails

function thumbnailsOf(
  req: StreamRequest,
  folder: string,
  durationS: number | null,
  frame: { width: number | null; height: number | null } | null,
  limits: Limits,
  problems: PlanProblem[],
): StreamPlan['thumbnails'] {
  if (req.thumbnails === false) return null;
  const { interval_s: intervalS, columns, tile_width: width } = req.thumbnails;
  const aspect = frame?.width && frame.height ? frame.width / frame.height : 16 / 9;
  const height = Math.max(2, Math.round(width / aspect / 2) * 2);
  const count = durationS ? Math.max(1, Math.ceil(durationS / intervalS)) : 1;
  const rows = Math.ceil(count / columns);
  if (width * columns * height * rows > limits.outputPixels) {
    problems.push({ code: 'LIMIT_EXCEEDED', pointer: '/thumbnails', message: `the thumbnail sprite would be larger than the limit of ${limits.outputPixels} pixels; use a longer interval_s or a smaller tile_width` });
  }
  return {
    sprite: `${folder}/thumbs/sprite.jpg`,
    vtt: `${folder}/thumbs/thumbs.vtt`,
    playlist: `${folder}/thumbs/index.m3u8`,
    width,
    height,
    columns,
    rows,
    count,
    intervalS,
  };
}

const vttTime = (seconds: number) => {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
};

/** WebVTT cues naming each tile of the sprite (`sprite.jpg#xywh=x,y,w,h`), as players' thumbnail tracks read them. */
function thumbnailVtt(t: NonNullable<StreamPlan['thumbnails']>, durationS: number | null): string {
  const lines = ['WEBVTT', ''];
  const end = durationS ?? t.count * t.intervalS;
  for (let k = 0; k < t.count; k++) {
    const x = (k % t.columns) * t.width;
    const y = Math.floor(k / t.columns) * t.height;
    lines.push(`${vttTime(k * t.intervalS)} --> ${vttTime(Math.min(end, (k + 1) * t.intervalS))}`, `sprite.jpg#xywh=${x},${y},${t.width},${t.height}`, '');
  }
  return lines.join('\n');
}

/** An HLS image media playlist (EXT-X-IMAGES-ONLY with EXT-X-TILES) over the one sprite, for trick play. */
function thumbnailPlaylist(t: NonNullable<StreamPlan['thumbnails']>, durationS: number | null): string {
  const total = durationS ?? t.count * t.intervalS;
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.ceil(total)}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-IMAGES-ONLY',
    `#EXTINF:${formatNumber(total)},`,
    `#EXT-X-TILES:RESOLUTION=${t.width}x${t.height},LAYOUT=${t.columns}x${t.rows},DURATION=${t.intervalS}`,
    'sprite.jpg',
    '#EXT-X-ENDLIST',
    '',
  ].join('\n');
}

