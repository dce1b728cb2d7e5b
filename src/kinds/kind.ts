/**
 * A job kind: what a job of that kind asks for and how its attempt runs, as one module (convert.ts, probe.ts). The
 * attempt pipeline (src/jobs/attempt.ts) runs any kind: it fetches the kind's inputs, probes them, asks the kind for
 * a plan (passes of ffmpeg argv from src/media), runs the passes, stores the planned outputs and asks the kind for
 * the job's result. Adding a kind touches its module, its schema and its route, nothing in the runners.
 */
import type { Limits } from '../config.js';
import type { JobKind, JobOutput } from '../db/schema.js';
import type { EngineName, ProbeResult } from '../engine/engine.js';
import type { GeneratedFile, PlanInput, PlanOutput, PlanPass, PlanProblem, PlanRequirements } from '../media/plan.js';
import type { Missing } from '../media/routing.js';

/** What passes measured, by kind: convert's loudness analysis, a quality ladder's samples. */
export type Measurements = Readonly<Record<string, unknown>>;

/** What a pass left, for the kind's `measure`. */
export interface PassRecord {
  /** Its place in the plan's passes. */
  index: number;
  logTail: string;
  /** Its scratch files, by path, as text. */
  scratch: ReadonlyMap<string, string>;
  /** Every file of it the attempt took (kept, carried, scratch), by path, with its size. */
  written: ReadonlyMap<string, number>;
}

/** The runs of one attempt and what they leave. */
export interface KindPlan {
  /** The ffmpeg runs, in order; none for a kind whose result is the probe itself. */
  passes: PlanPass[];
  /** What the job keeps, in order: files the encode pass writes, and the planner's own text files. */
  outputs: PlanOutput[];
  /** Text outputs the planner made itself (a sprite's WebVTT index), stored as they are. */
  files: GeneratedFile[];
  /** Directories the outputs go into, parents first. */
  dirs: string[];
  /**
   * Folders (`hls/`) whose every file the encode pass writes is kept, named by its path in the run dir: a streaming
   * package's playlists and segments, whose number only ffmpeg knows.
   */
  collect: string[];
  requirements: PlanRequirements;
  /** What the speed and memory model reads (src/media/estimate.ts PlanShape). */
  args: string[];
  streamCopy: boolean;
  expectedDurationS: number | null;
}

/**
 * An output a kind makes itself once the passes ran: text (a playlist with measured bandwidths, a per-frame CSV), or
 * a stream (a package as one .zip) made when it is stored.
 */
export type MadeOutput = { name: string; contentType: string } & ({ text: string } | { stream: () => ReadableStream<Uint8Array> });

/** What the attempt saw, for the kind's `finish` and the job's result. */
export interface AttemptRecord<Request, Plan extends KindPlan = KindPlan> {
  request: Request;
  probes: ProbeResult[];
  plan: Plan;
  measurements: Measurements;
  /** The last pass's log tail, scrubbed. */
  logTail: string;
  /** What was stored so far, in the order it was stored. */
  outputs: readonly JobOutput[];
  /** The scratch files of every pass, by path, as text. */
  scratch: ReadonlyMap<string, string>;
  /** A stored output's bytes (a media playlist, an initialisation segment the kind reads back), up to 16 MiB. */
  read(name: string): Promise<Uint8Array>;
  /** A stored output as a stream, whatever its size. */
  open(name: string): Promise<ReadableStream<Uint8Array>>;
}

export interface Kind<Request = unknown, Plan extends KindPlan = KindPlan> {
  readonly name: JobKind;
  /** The storage inputs, in ffmpeg's order, each with the file name it gets in the run dir. */
  inputs(request: Request): PlanInput[];
  /** Everything that can be checked before the inputs are read (audit #13); empty when the request is fine. */
  validate(request: Request, limits: Limits): PlanProblem[];
  /** The plan from the inputs' probes, in `inputs()` order, and what a measuring pass found (empty at first). */
  plan(request: Request, probes: ProbeResult[], limits: Limits, measurements: Measurements): Plan | PlanProblem[];
  /** What a pass (not the last) found, for the next plan: merged into the measurements it gets. */
  measure(pass: PassRecord, measurements: Measurements): Measurements;
  /**
   * After the passes, what the kind makes of what they wrote: outputs (stored as they are, replacing a collected
   * file of the same name) and what it measured, for `result`. Absent for kinds that add nothing.
   */
  finish?(record: AttemptRecord<Request, Plan>, limits: Limits): Promise<{ outputs: MadeOutput[]; measured: Record<string, unknown> }>;
  /** The job's `result`, once every output is stored; `measured` is what `finish` found. */
  result(record: AttemptRecord<Request, Plan>, measured: Record<string, unknown>): Record<string, unknown>;
  /** The engine the request forces (options.engine), or null for automatic. */
  forcedEngine(request: Request): EngineName | null;
  /**
   * For the 422 of a request no engine can run: where in the request a missing capability comes from (undefined:
   * the usual place), and better choices by capability name.
   */
  routeHints?: { pointer?(missing: Missing, request: Request): string | undefined; suggestions?: Readonly<Record<string, string>> };
}
