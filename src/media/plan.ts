/**
 * The convert planner: a validated request and the probes of its inputs become the ffmpeg runs of a job. Every
 * argument is a fixed flag, an enum value or a number checked here, or request text in the one place it may be
 * (a drawtext value escaped by graph.ts, a metadata value as one argv item); nothing else from the request is
 * copied (audit #32). Paths are the fixed names of the job's temp dir, the engine's cwd.
 *
 * Where an argument comes from:
 *   inputs, -protocol_whitelist ............ here (render) and inputs.ts (file names)
 *   -ss/-to/-t before -i ................... ops/trim.ts
 *   every filter ........................... ops/<operation>.ts; output-video.ts (resolution, even sizes); gif palette here
 *   -c:v/-c:a and encoder options .......... encode.ts; `-c copy` here (stream copy)
 *   -r ...................................... output-video.ts
 *   -metadata, -map_metadata ............... ops/metadata.ts
 *   -frames:v, -update, output names ........ here, ops/thumbnails.ts, ops/sprite.ts
 *   -movflags, -loop, -f .................... here (muxerArgs)
 */
import type { Limits } from '../config.js';
import type { ProbeResult } from '../engine/engine.js';
import type { ConvertRequest } from '../schemas/convert.js';
import type { Operation, OperationType } from '../schemas/operations.js';
import { audioEncoding, normaliseOutput, videoEncoding, type NormalisedOutput } from './encode.js';
import { FORMATS, PROBE_CODEC_NAMES, holdsAudio, isAudioOnly, isIndirectInputFormat, isVideoCodec, type FormatSpec, type NamedResolution } from './formats.js';
import { GraphBuilder, StreamPipe, filter, renderFilters, renderGraph } from './graph.js';
import { inputsOf, type PlanInput } from './inputs.js';
import {
  VideoPipe,
  firstStream,
  knownDuration,
  positiveInt,
  type Composer,
  type Measurements,
  type GeneratedFile,
  type OutputTarget,
  type PassMode,
  type PlanInputState,
  type PlanOutput,
  type Stage,
} from './ops/context.js';
import { OPERATIONS, REPEATABLE } from './ops/index.js';
import { applyOutputResolution, evenFrame, outputRateArgs } from './output-video.js';
import { compute as resized } from './ops/resize.js';
import type { PlanProblem } from './problems.js';

export type { PlanProblem, PlanProblemCode } from './problems.js';
export type { GeneratedFile, PlanOutput } from './ops/context.js';
export { INPUT_FILE, inputsOf, type PlanInput } from './inputs.js';
export { measurementsFrom } from './ops/loudnorm.js';
export type { Measurements } from './ops/context.js';
export { MAX_LONG_SIDE, MAX_SHORT_SIDE } from './limits.js';

/** Every ffmpeg run starts like this: no banner, no stdin, machine-readable progress on stdout only. */
export const BASE_ARGS: readonly string[] = ['-hide_banner', '-nostdin', '-y', '-progress', 'pipe:1', '-nostats'];

/** What an engine must have to run a plan: ffmpeg's own names, as `ffmpeg -encoders|-decoders|-filters|-muxers` list them. */
export interface PlanRequirements {
  encoders: string[];
  decoders: string[];
  filters: string[];
  muxers: string[];
}

/**
 * One ffmpeg run of an attempt. Exactly one pass of a plan is `encode`: the one whose files the job keeps. The others
 * measure (loudness, camera motion, the samples of a quality ladder, the VMAF of the result); after every pass but
 * the last the kind measures what it left (src/kinds/kind.ts `measure`) and plans again, so later passes get the
 * measured values.
 */
export interface PlanPass {
  /** measure: analyses and keeps nothing but what it names below; encode: writes the outputs. */
  kind: 'measure' | 'encode';
  args: string[];
  /** For this run's percentage from ffmpeg's out_time; null when unknown or meaningless (one frame). */
  expectedDurationS: number | null;
  /** Share of the job's processing progress; the weights of a plan sum to 1. */
  weight: number;
  /** Files this pass writes that the kind reads as text: in `measure` after it, and in `finish`. */
  scratch?: string[];
  /** Files this pass writes that later passes read (the samples to measure): kept for the attempt only. */
  carry?: string[];
  /** Files of earlier passes this one reads, by their path in the run dir: carried ones, or kept outputs. */
  reads?: string[];
}

export interface ConvertPlan {
  /** The files the runner fetches into the temp dir, in ffmpeg's input order. */
  inputs: PlanInput[];
  /**
   * The ffmpeg runs, in order. After a `measure` run, the runner reads its log with `measurementsFrom` and plans
   * again with the measurements: the passes stay the same, and the later ones get the measured values.
   */
  passes: PlanPass[];
  /** The last pass's arguments (the run that writes the outputs). */
  args: string[];
  outputs: PlanOutput[];
  /** Text outputs the planner made itself (a sprite's WebVTT index): the runner writes them before uploading. */
  files: GeneratedFile[];
  /** The output duration after concat, trims and speed; null when unknown or zero. */
  expectedDurationS: number | null;
  /** True when every kept stream is copied (`-c copy`): nothing is decoded or encoded. */
  streamCopy: boolean;
  requirements: PlanRequirements;
}

/**
 * A preview of the job (the browser preview page, wasm/browser/): the same runs cut to the first `durationS` seconds
 * of the output, and a video frame brought down to `size` when it is larger. Everything else is the job's argv.
 */
export interface PreviewCut {
  durationS: number;
  size: NamedResolution;
}

export function isPlanProblems(result: ConvertPlan | PlanProblem[]): result is PlanProblem[] {
  return Array.isArray(result);
}

/**
 * Checks what can be checked without the inputs (codecs against the container, the key's limits, every operation's
 * values), so that a request is refused at submission rather than after its inputs were fetched (audit #13).
 */
export function validateConvert(req: ConvertRequest, limits: Limits): PlanProblem[] {
  return compose(req, null, limits, {}, 'final', null, null).problems;
}

/**
 * Plans a job from its request and the probes of `inputsOf(req)`, in that order (one probe for a single input).
 * `measurements` come from the measuring pass of an earlier plan of the same request.
 */
export function planConvert(
  req: ConvertRequest,
  probes: ProbeResult | readonly ProbeResult[],
  limits: Limits,
  measurements: Measurements = {},
  preview: PreviewCut | null = null,
): ConvertPlan | PlanProblem[] {
  const all = Array.isArray(probes) ? (probes as readonly ProbeResult[]) : [probes as ProbeResult];
  const count = inputsOf(req).length;
  if (all.length !== count) throw new Error(`planConvert needs ${count} probes, got ${all.length}`);
  return build(req, all, limits, measurements, preview);
}

/**
 * The plan as far as the request alone tells it, before any input is fetched: the passes, outputs and
 * requirements (every kept stream assumed to need decoding and encoding, so never stream copy), for routing and
 * estimates at submission. Its arguments are not meant to run: stream indexes and frame sizes are unknown.
 */
export function planShape(req: ConvertRequest, limits: Limits): ConvertPlan | PlanProblem[] {
  return build(req, null, limits, {}, null);
}

function build(
  req: ConvertRequest,
  all: readonly ProbeResult[] | null,
  limits: Limits,
  measurements: Measurements,
  preview: PreviewCut | null,
): ConvertPlan | PlanProblem[] {
  const inputs = inputsOf(req);
  const final = compose(req, all, limits, measurements, 'final', null, preview);
  if (final.problems.length > 0) return final.problems;

  const passes: PlanPass[] = [];
  const encoders = new Set(final.encoders);
  const decoders = new Set(final.decoders);
  const filters = new Set(final.filters);
  const muxers = new Set([final.muxer]);
  if (final.measuring.audio || final.measuring.video) {
    const measure = compose(req, all, limits, measurements, 'measure', final.measuring, preview);
    // Measuring video decodes and filters every frame; measuring loudness only the audio.
    const weight = final.measuring.video ? 0.4 : 0.15;
    passes.push({ kind: 'measure', args: measure.args, expectedDurationS: measure.measuring.durationS, weight });
    for (const name of measure.decoders) decoders.add(name);
    for (const name of measure.filters) filters.add(name);
    muxers.add(measure.muxer);
  }
  const measured = passes.reduce((sum, pass) => sum + pass.weight, 0);
  passes.push({ kind: 'encode', args: final.args, expectedDurationS: final.expectedDurationS, weight: Math.round((1 - measured) * 1000) / 1000 });

  return {
    inputs,
    passes,
    args: final.args,
    outputs: final.outputs,
    files: final.files,
    expectedDurationS: final.expectedDurationS,
    streamCopy: final.streamCopy,
    requirements: { encoders: [...encoders], decoders: [...decoders], filters: [...filters], muxers: [...muxers] },
  };
}

// ------------------------------------------------------------------------------------------------- compose

interface Composition {
  problems: PlanProblem[];
  args: string[];
  outputs: PlanOutput[];
  files: GeneratedFile[];
  expectedDurationS: number | null;
  streamCopy: boolean;
  encoders: string[];
  decoders: string[];
  filters: string[];
  muxer: string;
  measuring: { audio: boolean; video: boolean; durationS: number | null };
}

const STAGES: readonly Stage[] = ['select', 'source', 'cut', 'edit', 'finish', 'tags'];

/**
 * One ffmpeg run of the job. `measure` builds the analysing run: only the streams in `only`, each ending at its
 * measuring filter, written to the null muxer.
 */
function compose(
  req: ConvertRequest,
  probes: readonly ProbeResult[] | null,
  limits: Limits,
  measurements: Measurements,
  mode: PassMode,
  only: { audio: boolean; video: boolean } | null,
  preview: PreviewCut | null,
): Composition {
  const { c, problems, output } = composeStages(req, probes, limits, measurements, mode, only);
  if (mode === 'measure') return renderMeasure(c, problems, preview);
  return finishFinal(c, req, output, problems, preview);
}

/** The state after every operation of a request was applied to its streams, for planners that render it their way. */
export interface ComposedStreams {
  problems: PlanProblem[];
  /** BASE_ARGS and every input with its options. */
  inputArgs: string[];
  graph: GraphBuilder;
  video: VideoPipe | null;
  audio: StreamPipe | null;
  /** Seconds of the timeline after the operations; null when unknown or zero. */
  durationS: number | null;
  decoders: string[];
}

/**
 * The operations of a request applied to its main input's video and audio, not rendered: the streaming planner
 * (stream-plan.ts) splits the video into its ladder from here. `req.output` only says which streams are kept.
 */
export function composeStreams(req: ConvertRequest, probes: readonly ProbeResult[] | null, limits: Limits): ComposedStreams {
  const { c, problems } = composeStages(req, probes, limits, {}, 'final', null);
  for (const pipe of [c.video, c.audio]) {
    const codec = pipe ? firstStream(c.inputs[0]!.probe, pipe.kind)?.codec : null;
    if (codec) c.decoders.add(codec);
  }
  return { problems, inputArgs: renderInputs(c), graph: c.graph, video: c.video, audio: c.audio, durationS: c.duration, decoders: [...c.decoders] };
}

function composeStages(
  req: ConvertRequest,
  probes: readonly ProbeResult[] | null,
  limits: Limits,
  measurements: Measurements,
  mode: PassMode,
  only: { audio: boolean; video: boolean } | null,
): { c: Composer; problems: PlanProblem[]; output: NormalisedOutput } {
  const problems: PlanProblem[] = [];
  const output = normaliseOutput(req.output);
  const format = FORMATS[output.format];
  const operations = req.operations ?? [];
  const graph = new GraphBuilder();
  const inputs: PlanInputState[] = inputsOf(req).map((input, k) => ({ ...input, probe: probes?.[k] ?? null, args: [] }));
  if (probes) for (const input of inputs) checkInput(input, limits, problems);

  const c: Composer = {
    mode,
    limits,
    format,
    measurements,
    probed: probes !== null,
    graph,
    inputs,
    keep: { video: !isAudioOnly(format.name) && output.video !== false, audio: holdsAudio(format.name) && output.audio !== false },
    video: null,
    audio: null,
    duration: null,
    measuring: { audio: false, video: false, durationS: null },
    audioRate: null,
    joined: false,
    cut: 'none',
    output: defaultTarget(format),
    outputArgs: [],
    files: [],
    decoders: new Set(),
    problem: (problem) => problems.push(problem),
    input(uri) {
      const found = inputs.find((input) => input.uri === uri);
      if (!found) throw new Error('an operation named an input that inputsOf did not list');
      return found;
    },
  };

  if (operations.length > limits.operations) {
    problems.push({ code: 'LIMIT_EXCEEDED', pointer: '/operations', message: `at most ${limits.operations} operations per job` });
  }
  const applicable = checkOperationSet(operations, output, problems);
  const byStage = (stage: Stage) => applicable.filter(({ op }) => OPERATIONS[op.type].stage === stage);

  for (const { op, index } of byStage('select')) applyOperation(op, index, c);
  if (only) {
    c.keep.video &&= only.video;
    c.keep.audio &&= only.audio;
  }
  selectStreams(c, output, format, problems, req.preset !== undefined);
  c.duration = knownDuration(inputs[0]!.probe);
  if (c.audio) c.audioRate = positiveInt(firstStream(inputs[0]!.probe, 'audio')?.sample_rate) ?? null;

  for (const stage of STAGES.slice(1)) {
    for (const { op, index } of byStage(stage)) {
      const needs = OPERATIONS[op.type].needs;
      const pipe = needs === 'video' ? c.video : needs === 'audio' ? c.audio : undefined;
      if (pipe === null) {
        if (mode === 'final' && problems.length === 0) {
          problems.push({ code: 'INVALID_OPERATION', pointer: `/operations/${index}`, message: `the output has no ${needs} for ${op.type} to work on` });
        }
        continue;
      }
      if (pipe?.closed) continue;
      applyOperation(op, index, c);
    }
  }

  return { c, problems, output };
}

function applyOperation(op: Operation, index: number, c: Composer): void {
  const at = (field?: string) => (field ? `/operations/${index}/${field}` : `/operations/${index}`);
  // The registry pairs each type with its module; TypeScript cannot see through the lookup.
  (OPERATIONS[op.type] as { apply(op: Operation, at: (field?: string) => string, c: Composer): void }).apply(op, at, c);
}

/** Refuses repeats of one-of operations and combinations that contradict each other; returns what may be applied. */
function checkOperationSet(operations: readonly Operation[], output: NormalisedOutput, problems: PlanProblem[]): { op: Operation; index: number }[] {
  const seen = new Set<OperationType>();
  const applicable: { op: Operation; index: number }[] = [];
  const refuse = (index: number, message: string, code: PlanProblem['code'] = 'INVALID_OPERATION') =>
    problems.push({ code, pointer: `/operations/${index}`, message });
  const videoOptions = output.video || undefined;
  operations.forEach((op, index) => {
    if (seen.has(op.type) && !REPEATABLE.has(op.type)) {
      refuse(index, `only one ${op.type} operation is supported`, op.type === 'trim' ? 'INVALID_TRIM' : 'INVALID_OPERATION');
      return;
    }
    seen.add(op.type);
    if (op.type === 'sprite' && seen.has('thumbnails')) return refuse(index, 'give thumbnails or sprite, not both');
    if (op.type === 'thumbnails' && seen.has('sprite')) return refuse(index, 'give thumbnails or sprite, not both');
    if (op.type === 'resize' && videoOptions?.resolution !== undefined) {
      return refuse(index, 'give the size either as a resize operation or as output.video.resolution');
    }
    if (op.type === 'sprite' && videoOptions?.resolution !== undefined) {
      // Scaling the sheet would move every tile away from the coordinates its WebVTT index gives.
      return refuse(index, 'a sprite sheet is sized by tile_width and columns, not output.video.resolution');
    }
    if (op.type === 'fps' && videoOptions?.fps !== undefined) return refuse(index, 'give the frame rate either as an fps operation or as output.video.fps');
    if (op.type === 'remove_audio' && (typeof output.audio === 'object' || seen.has('extract_audio'))) {
      return refuse(index, 'remove_audio contradicts the audio settings or extract_audio of this request');
    }
    if (op.type === 'extract_audio' && (typeof output.video === 'object' || seen.has('remove_audio'))) {
      return refuse(index, 'extract_audio contradicts the video settings or remove_audio of this request');
    }
    applicable.push({ op, index });
  });
  return applicable;
}

function checkInput(input: PlanInputState, limits: Limits, problems: PlanProblem[]): void {
  const probe = input.probe!;
  if (isIndirectInputFormat(probe.format)) {
    problems.push({ code: 'UNSUPPORTED_INPUT', pointer: input.pointer, message: 'the input must be a single media file, not a playlist or a list of other files' });
  }
  const duration = knownDuration(probe);
  if (duration !== null && duration > limits.inputDurationS) {
    problems.push({
      code: 'LIMIT_EXCEEDED',
      pointer: input.pointer,
      message: `the input lasts ${Math.ceil(duration)} s, more than the limit of ${limits.inputDurationS} s`,
    });
  }
}

/** The main input's first video and audio streams, as the output keeps them. */
function selectStreams(c: Composer, output: NormalisedOutput, format: FormatSpec, problems: PlanProblem[], fromPreset: boolean): void {
  const main = c.inputs[0]!.probe;
  const report = c.mode === 'final';
  if (output.video !== undefined && output.video !== false && isAudioOnly(format.name)) {
    if (report) {
      problems.push({
        code: 'INVALID_CODEC_FORMAT',
        pointer: '/output/video',
        message: `${format.name} is an audio format and holds no video`,
        allowed: [],
        suggestion: suggestionFor(format, 'video'),
      });
    }
  } else if (c.keep.video) {
    const stream = firstStream(main, 'video');
    if (stream) {
      c.video = new VideoPipe(c.graph, `0:${stream.index}`, { width: positiveInt(stream.width), height: positiveInt(stream.height), fps: stream.fps ?? null });
    } else if (report) {
      problems.push({
        code: 'NO_VIDEO_STREAM',
        pointer: output.video !== undefined ? '/output/video' : '/output',
        message: 'the input has no video stream',
        suggestion: 'set output.video to false, or choose an audio format such as m4a or mp3',
      });
    }
  }

  if (output.audio !== undefined && output.audio !== false && !holdsAudio(format.name)) {
    if (report) {
      problems.push({
        code: 'INVALID_CODEC_FORMAT',
        pointer: '/output/audio',
        message: `${format.name} holds no audio`,
        allowed: [],
        suggestion: suggestionFor(format, 'audio'),
      });
    }
  } else if (c.keep.audio) {
    const stream = firstStream(main, 'audio');
    if (stream) {
      c.audio = new StreamPipe('audio', c.graph, `0:${stream.index}`);
    } else if (report && ((output.audio !== undefined && !fromPreset) || isAudioOnly(format.name))) {
      // A silent video stays a video; only an explicit or audio-only request needs the sound. A preset's audio
      // settings are for inputs that have sound, so a silent input under a video preset stays silent.
      problems.push({
        code: 'NO_AUDIO_STREAM',
        pointer: output.audio !== undefined ? '/output/audio' : '/output',
        message: 'the input has no audio stream',
        ...(isAudioOnly(format.name) ? {} : { suggestion: 'set output.audio to false' }),
      });
    }
  }
}

function suggestionFor(format: FormatSpec, kind: 'video' | 'audio'): string {
  return kind === 'video'
    ? `${format.name} is audio only: drop the video settings or use a video format such as mp4 or webm`
    : `${format.name} holds no audio: set output.audio to false or use a format such as mp4 or webm`;
}

function defaultTarget(format: FormatSpec): OutputTarget {
  const file = `output.${format.extension}`;
  // The name is also the download's file name, so it carries the extension.
  const files = [{ name: file, file, contentType: format.contentType }];
  if (format.name === 'png' || format.name === 'jpg') return { target: file, files, args: ['-frames:v', '1', '-update', '1'], stills: true, timed: false };
  return { target: file, files, args: [], stills: false, timed: true };
}

// -------------------------------------------------------------------------------------------- final run

function finishFinal(c: Composer, req: ConvertRequest, output: NormalisedOutput, problems: PlanProblem[], preview: PreviewCut | null): Composition {
  const format = c.format;
  const video = c.video;
  const audio = c.audio;
  const main = c.inputs[0]!.probe;
  const videoEncoder = video ? videoEncoding(output, format, c.limits, c.output.stills, problems) : null;
  const audioEncoder = audio ? audioEncoding(output, format, c.limits, problems) : null;
  const frameOk = video ? applyOutputResolution(c, video, output) : true;

  if (problems.length === 0 && !video && !audio) {
    problems.push({
      code: 'INVALID_OPTION',
      pointer: '/output',
      message: 'the output would contain no stream',
      suggestion: 'keep audio or video enabled, and check that the input has that kind of stream',
    });
  }
  if (c.output.files.length > c.limits.outputs) {
    problems.push({ code: 'LIMIT_EXCEEDED', pointer: '/operations', message: `at most ${c.limits.outputs} outputs per job` });
  }
  const inputTooLong = problems.some((p) => p.code === 'LIMIT_EXCEEDED' && c.inputs.some((input) => input.pointer === p.pointer));
  if (c.duration !== null && c.duration > c.limits.inputDurationS && !inputTooLong) {
    problems.push({
      code: 'LIMIT_EXCEEDED',
      pointer: '/operations',
      message: `the output would last ${Math.ceil(c.duration)} s, more than the limit of ${c.limits.inputDurationS} s`,
    });
  }

  // Stream copy: a stream nothing changes, in a codec the container holds, is copied instead of re-encoded.
  const copyable = req.options?.stream_copy !== 'never' && format.kind === 'media' && !c.joined && c.cut !== 'exact';
  const videoCopy =
    video !== null &&
    videoEncoder !== null &&
    frameOk &&
    copyable &&
    untouched(video) &&
    !videoEncoder.tuned &&
    outputRateArgs(output).length === 0 &&
    copiesInto(firstStream(main, 'video')?.codec, output.video ? output.video.codec : undefined, format.videoCodecs);
  const audioCopy =
    audio !== null &&
    audioEncoder !== null &&
    copyable &&
    untouched(audio) &&
    !audioEncoder.tuned &&
    copiesInto(firstStream(main, 'audio')?.codec, output.audio ? output.audio.codec : undefined, format.audioCodecs);

  if (video && !videoCopy) {
    const mainVideo = firstStream(main, 'video');
    if (mainVideo?.codec) c.decoders.add(mainVideo.codec);
    if (preview) shrinkForPreview(video, preview);
    if (videoEncoder && isVideoCodec(videoEncoder.codec)) evenFrame(video);
    if (format.name === 'gif') gifPalette(c, video);
  }
  if (audio && !audioCopy) {
    const mainAudio = firstStream(main, 'audio');
    if (mainAudio?.codec) c.decoders.add(mainAudio.codec);
  }

  const empty: Composition = {
    problems,
    args: [],
    outputs: [],
    files: [],
    expectedDurationS: null,
    streamCopy: false,
    encoders: [],
    decoders: [],
    filters: [],
    muxer: format.muxer,
    measuring: c.measuring,
  };
  if (problems.length > 0) return empty;

  const allCopy = (video === null || videoCopy) && (audio === null || audioCopy);
  const streams = renderStreams(c);
  const args = [...renderInputs(c), ...streams.head, ...streams.maps];
  if (allCopy) args.push('-c', 'copy');
  if (video) {
    if (!videoCopy) args.push(...videoEncoder!.args);
    else if (!allCopy) args.push('-c:v', 'copy');
    if (videoCopy && firstStream(main, 'video')?.codec === 'hevc' && (format.muxer === 'mp4' || format.muxer === 'mov')) args.push('-tag:v', 'hvc1');
    if (streams.videoFilters) args.push('-vf', streams.videoFilters);
    args.push(...outputRateArgs(output));
  } else {
    args.push('-vn');
  }
  if (audio) {
    if (!audioCopy) args.push(...audioEncoder!.args);
    else if (!allCopy) args.push('-c:a', 'copy');
    if (streams.audioFilters) args.push('-af', streams.audioFilters);
  } else {
    args.push('-an');
  }
  // A keyframe cut copied from before its start point would otherwise begin at a negative time.
  if (c.cut === 'keyframe' && (videoCopy || audioCopy)) args.push('-avoid_negative_ts', 'make_zero');
  args.push(...c.outputArgs);
  if (preview) args.push(...previewDurationArgs(preview));
  const muxer = c.output.stills ? 'image2' : format.muxer;
  args.push(...muxerArgs(muxer), ...c.output.args, '-f', muxer, c.output.target);

  return {
    problems,
    args,
    outputs: c.output.files,
    files: c.files,
    expectedDurationS: c.output.timed ? previewDuration(c.duration, preview) : null,
    streamCopy: allCopy,
    encoders: [videoCopy ? null : videoEncoder?.encoder, audioCopy ? null : audioEncoder?.encoder].filter((name): name is string => !!name),
    decoders: [...c.decoders],
    filters: streams.filterNames,
    muxer,
    measuring: c.measuring,
  };
}

/** A stream with no filter on it: still the input stream as it was. */
function untouched(pipe: StreamPipe): boolean {
  return pipe.isSimple && pipe.filters.length === 0;
}

/** Whether an input stream of `probeCodec` can be copied: its codec is the one asked for, or the container takes it. */
function copiesInto(probeCodec: string | null | undefined, requested: string | undefined, holds: readonly string[]): boolean {
  const codec = probeCodec ? PROBE_CODEC_NAMES[probeCodec] : undefined;
  if (codec === undefined) return false;
  return requested !== undefined ? requested === codec : holds.includes(codec);
}

/** GIF's 256 colours, chosen per frame (a palette for the whole clip would need every frame in memory first). */
function gifPalette(c: Composer, video: VideoPipe): void {
  const from = video.link();
  const [a, b, palette, out] = [c.graph.label('g'), c.graph.label('g'), c.graph.label('pal'), c.graph.label('v')];
  c.graph.add({ inputs: [from], filters: [filter('split', { outputs: 2 })], outputs: [a, b] });
  c.graph.add({ inputs: [a], filters: [filter('palettegen', { stats_mode: 'single' })], outputs: [palette] });
  c.graph.add({ inputs: [b, palette], filters: [filter('paletteuse', { new: 1 })], outputs: [out] });
  video.continueFrom(out);
}

/** The preview's smaller frame, by the resize operation's own rule (never larger than the frame it gets). */
function shrinkForPreview(video: VideoPipe, preview: PreviewCut): void {
  const { width, height } = video.frame;
  if (width === null || height === null) return;
  const smaller = resized({ type: 'resize', size: preview.size }, width, height);
  if (smaller.filters.length === 0) return;
  video.add(...smaller.filters);
  video.frame = { ...video.frame, width: smaller.width, height: smaller.height };
}

/** An output option: ffmpeg stops writing after this much of the output's timeline. */
function previewDurationArgs(preview: PreviewCut): string[] {
  return ['-t', String(preview.durationS)];
}

function previewDuration(durationS: number | null, preview: PreviewCut | null): number | null {
  if (!preview || durationS === null) return durationS;
  return Math.min(durationS, preview.durationS);
}

function muxerArgs(muxer: string): string[] {
  // Moves the index to the front so players can start before the whole file has arrived.
  if (muxer === 'mp4' || muxer === 'mov' || muxer === 'ipod') return ['-movflags', '+faststart'];
  // Animated images loop forever, as browsers show them.
  if (muxer === 'gif' || muxer === 'webp') return ['-loop', '0'];
  return [];
}

// ------------------------------------------------------------------------------------------ measuring run

function renderMeasure(c: Composer, problems: PlanProblem[], preview: PreviewCut | null): Composition {
  const streams = renderStreams(c);
  const args = [...renderInputs(c), ...streams.head, ...streams.maps];
  if (streams.videoFilters) args.push('-vf', streams.videoFilters);
  if (!c.video) args.push('-vn');
  if (streams.audioFilters) args.push('-af', streams.audioFilters);
  if (!c.audio) args.push('-an');
  // A preview measures the part it plays, which is all the preview's encode gets to hear or see.
  if (preview) args.push(...previewDurationArgs(preview));
  // The null muxer writes nothing (it opens no file), so '-' is only a placeholder name.
  args.push('-f', 'null', '-');
  for (const pipe of [c.video, c.audio]) {
    const codec = pipe ? firstStream(c.inputs[0]!.probe, pipe.kind)?.codec : null;
    if (codec) c.decoders.add(codec);
  }
  return {
    problems,
    args,
    outputs: [],
    files: [],
    expectedDurationS: null,
    streamCopy: false,
    encoders: [],
    decoders: [...c.decoders],
    filters: streams.filterNames,
    muxer: 'null',
    measuring: c.measuring,
  };
}

// ---------------------------------------------------------------------------------------------- rendering

function renderInputs(c: Composer): string[] {
  const args = [...BASE_ARGS];
  for (const input of c.inputs) {
    // Per input: only plain files, so a crafted input cannot make ffmpeg fetch URLs or other files (SSRF).
    args.push('-protocol_whitelist', 'file', ...input.args, '-i', input.file);
  }
  return args;
}

interface RenderedStreams {
  /** -filter_complex and its graph, when the streams need one. */
  head: string[];
  maps: string[];
  /** -vf / -af chains when each stream is a simple chain from its input. */
  videoFilters: string | null;
  audioFilters: string | null;
  filterNames: string[];
}

/**
 * Simple chains from one input stream each go in -vf/-af; anything joining streams (overlay, concat, palettes) makes
 * a -filter_complex graph, and then every filtered stream is linked into it and mapped by its label.
 */
function renderStreams(c: Composer): RenderedStreams {
  const pipes = [c.video, c.audio].filter((pipe): pipe is StreamPipe => pipe !== null);
  const names = new Set<string>();
  if (c.graph.chains.length === 0) {
    const maps = pipes.flatMap((pipe) => ['-map', pipe.source]);
    for (const pipe of pipes) for (const f of pipe.filters) names.add(f.name);
    const chain = (pipe: StreamPipe | null) => (pipe && pipe.filters.length > 0 ? renderFilters(pipe.filters) : null);
    return { head: [], maps, videoFilters: chain(c.video), audioFilters: chain(c.audio), filterNames: [...names] };
  }
  const maps = pipes.flatMap((pipe) => {
    const label = pipe.link();
    // A stream still straight from its input is mapped by its specifier, a filter output by its label.
    return ['-map', pipe.isSimple ? label : `[${label}]`];
  });
  for (const name of c.graph.filterNames()) names.add(name);
  return { head: ['-filter_complex', renderGraph(c.graph.chains)], maps, videoFilters: null, audioFilters: null, filterNames: [...names] };
}
