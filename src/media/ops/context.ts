/**
 * What an operation module sees and changes while the planner composes one ffmpeg run (plan.ts): the streams of the
 * output as filter chains, the frame and timeline as they are at this point, the inputs, output arguments and
 * problems. An operation validates its own values against this state and adds its filters; nothing else.
 */
import type { Limits } from '../../config.js';
import type { ProbeResult, ProbeStream } from '../../engine/engine.js';
import type { Operation, OperationType } from '../../schemas/operations.js';
import type { FormatSpec } from '../formats.js';
import { GraphBuilder, StreamPipe } from '../graph.js';
import type { PlanProblem } from '../problems.js';

export interface LoudnormMeasurement {
  input_i: number;
  input_tp: number;
  input_lra: number;
  input_thresh: number;
  target_offset: number;
}

/** What measuring runs found; passed back to the planner for the final run. */
export interface Measurements {
  loudnorm?: LoudnormMeasurement | null;
}

export interface Frame {
  /** null while unknown: before the probe, or when the probe did not say. */
  width: number | null;
  height: number | null;
  fps: number | null;
}

export class VideoPipe extends StreamPipe {
  constructor(
    graph: GraphBuilder,
    source: string,
    public frame: Frame,
  ) {
    super('video', graph, source);
  }
}

export interface PlanInputState {
  /** File name inside the job's temp dir. */
  file: string;
  uri: string;
  /** JSON pointer of the URI in the request. */
  pointer: string;
  /** null while validating before the probe. */
  probe: ProbeResult | null;
  /** Input options placed before this input's -i (trim seeks). */
  args: string[];
}

export interface PlanOutput {
  /** Shown to clients, used in the output's URL and as its download file name. */
  name: string;
  /** Relative to the job's temp dir. */
  file: string;
  contentType: string;
}

/** Where the final run writes, and the options that go with it. */
export interface OutputTarget {
  /** The file ffmpeg writes, or a %03d pattern for numbered frames. */
  target: string;
  /** What the job stores, in order. */
  files: PlanOutput[];
  /** Options placed just before -f (frame counts, -update). */
  args: string[];
  /** True when the video becomes still images (thumbnails, a sprite sheet) rather than a moving picture. */
  stills: boolean;
  /** Whether progress can be told from ffmpeg's out_time (false for a single frame). */
  timed: boolean;
}

/** A text file the planner writes itself (a sprite's WebVTT index); the runner stores it in the temp dir. */
export interface GeneratedFile {
  file: string;
  text: string;
}

export type PassMode = 'final' | 'measure';

export interface Composer {
  /** `measure` builds the analysing run of a two-pass job: only measured streams, ending at the measuring filter. */
  readonly mode: PassMode;
  readonly limits: Limits;
  readonly format: FormatSpec;
  readonly measurements: Measurements;
  /** False while validating at submission, before any input was fetched. */
  readonly probed: boolean;
  readonly graph: GraphBuilder;
  readonly inputs: PlanInputState[];
  /** Which streams the output keeps; the `select` stage may drop one. */
  readonly keep: { video: boolean; audio: boolean };
  /** The output's video and audio; null when the output has none. */
  video: VideoPipe | null;
  audio: StreamPipe | null;
  /** Seconds of the timeline at this point (after concat, trim, speed); null when unknown or zero. */
  duration: number | null;
  /** What the measuring run analyses, set by the operations that need one (loudnorm, stabilize). */
  readonly measuring: { audio: boolean; video: boolean; durationS: number | null };
  /** The audio's sample rate at this point, when known (loudnorm resamples back to it). */
  audioRate: number | null;
  /** True once a concat made the timeline from several inputs (a trim then needs filters). */
  joined: boolean;
  /** How the timeline was cut: an exact cut needs decoding; a keyframe cut allows stream copy. */
  cut: 'none' | 'exact' | 'keyframe';
  output: OutputTarget;
  /** Options after the maps and codecs (-metadata, -map_metadata). */
  readonly outputArgs: string[];
  readonly files: GeneratedFile[];
  /** Codecs of the input streams the run decodes (ffmpeg names its decoders after them). */
  readonly decoders: Set<string>;
  problem(problem: PlanProblem): void;
  /** The state of the input holding `uri`. */
  input(uri: string): PlanInputState;
}

/** A JSON pointer into the operation, e.g. `/operations/2/width`. */
export type At = (field?: string) => string;

/** The order operations apply in; within `edit`, the order of the request. */
export type Stage =
  /** Decide which streams the output has (remove_audio, extract_audio). */
  | 'select'
  /** Make the source timeline (concat). */
  | 'source'
  /** Cut the timeline (trim): times are on the input's timeline, whatever the order of the request. */
  | 'cut'
  /** Everything else, in the order of the request. */
  | 'edit'
  /** Turn the video into still images (thumbnails, sprite). */
  | 'finish'
  /** Output arguments (metadata). */
  | 'tags';

export interface OperationModule<T extends OperationType> {
  readonly stage: Stage;
  /** The stream it works on; the planner refuses it when the output has no such stream. */
  readonly needs: 'video' | 'audio' | null;
  apply(op: Extract<Operation, { type: T }>, at: At, c: Composer): void;
}

/** The first usable stream of a kind in a probe. Before the probe, every stream is assumed present. */
export function firstStream(probe: ProbeResult | null, type: 'video' | 'audio'): ProbeStream | undefined {
  if (probe === null) return { index: 0, type, codec: null };
  return probe.streams.find((stream) => stream.type === type && Number.isSafeInteger(stream.index) && stream.index >= 0);
}

export function knownDuration(probe: ProbeResult | null): number | null {
  const duration = probe?.duration_s ?? null;
  return duration !== null && Number.isFinite(duration) && duration > 0 ? duration : null;
}

export function positiveInt(value: number | undefined | null): number | null {
  return value !== undefined && value !== null && Number.isSafeInteger(value) && value > 0 ? value : null;
}

export function evenFloor(value: number): number {
  return Math.max(2, Math.floor(value) - (Math.floor(value) % 2));
}

export function evenRound(value: number): number {
  return Math.max(2, Math.round(value / 2) * 2);
}

export function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
