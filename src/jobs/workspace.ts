/**
 * Where an attempt's files are and how its engine is reached: the seam between the attempt pipeline (attempt.ts),
 * which knows jobs, and the runtimes, which know disks, processes and connections. Two kinds:
 *
 *   file workspace (file-workspace.ts, Node/Deno)  a per-attempt temp dir and a local engine (native or wasm)
 *   stream workspace (stream-workspace.ts)         no disk: inputs stream from the BlobStore into the engine
 *                                                  protocol, outputs stream back (Workers, and the Node fleet)
 */
import type { Job } from '../db/schema.js';
import type { EngineName, ProbeResult } from '../engine/engine.js';
import type { Progress } from '../media/progress-types.js';
import type { EngineProfile } from '../media/routing.js';
import type { OpenedInput } from './inputs.js';

export interface Workspace {
  /** The engines this workspace can run a job on, for routing a job that was not routed at submission. */
  profiles(): Promise<EngineProfile[]>;
  /** Where to probe inputs of this many bytes when the job has no engine yet. */
  probeEngine(profiles: readonly EngineProfile[], inputBytes: number): EngineName;
  /** A place for one attempt of `job`; closed by the pipeline on every path. */
  open(job: Job, signal: AbortSignal): Promise<AttemptSpace>;
}

export interface PassRun {
  args: string[];
  expectedDurationS: number | null;
  timeoutMs: number;
  signal: AbortSignal;
  onProgress(progress: Progress): void;
  /** Directories the outputs go into, parents first. */
  dirs: string[];
  /**
   * Files of earlier passes this run reads, by their path in the run dir. A file workspace has them in its dir
   * already; a stream workspace sends them with the inputs.
   */
  reads: readonly (OpenedInput & { path: string })[];
  /** Whether the attempt takes the file the run wrote at `path` (relative, '/'-separated); the rest is dropped. */
  want(path: string): boolean;
  /** Hands over one wanted file; `size` when the workspace knows it (the pipeline then checks what it got). */
  store(path: string, body: ReadableStream<Uint8Array>, size: number | null): Promise<void>;
}

export interface AttemptSpace {
  /**
   * Makes an input (a storage URI accepted at submission) available to the engine as `file`. Returns its size;
   * throws INPUT_TOO_LARGE (JobFailure) past `budget`, the bytes the job's inputs may still take.
   */
  addInput(input: { uri: string; file: string }, budget: number, limit: number): Promise<number>;
  probe(file: string, engine: EngineName, signal: AbortSignal): Promise<ProbeResult>;
  /** One ffmpeg run on `engine`; every wanted file it wrote is handed to `run.store` before it resolves. */
  run(engine: EngineName, run: PassRun): Promise<{ logTail: string }>;
  /** Frees everything of the attempt (temp dir, the engine's container); never rejects. */
  close(): Promise<void>;
}
