/**
 * What every engine is and says. An Engine runs ffmpeg on files of a directory (native ffmpeg, the wasm engine on
 * Node); engines elsewhere (a native worker, the Transcoder container, the wasm Worker) are reached over the engine
 * protocol (protocol.ts) and say the same things: the codes and the safe messages below are the only words an
 * engine's failure ever reaches a client with (audit #9).
 */
import type { Progress } from '../media/progress-types.js';
import type { ProbeResult } from '../schemas/probe.js';

export type { ProbeResult, ProbeStream } from '../schemas/probe.js';

export type EngineName = 'native' | 'wasm';

/** What an engine needs to run one ffmpeg invocation. Paths in args are relative to cwd (the job's temp dir). */
export interface RunSpec {
  args: string[];
  cwd: string;
  /** Expected output duration in seconds, for the percentage; null when unknown or zero. */
  expectedDurationS: number | null;
  timeoutMs: number;
  signal: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface RunResult {
  /** Last lines of ffmpeg's log with server paths removed. */
  logTail: string;
}

export interface EngineCapabilities {
  name: EngineName;
  version: string;
  encoders: string[];
  decoders: string[];
  filters: string[];
  muxers: string[];
}

export interface Engine {
  readonly name: EngineName;
  /** Runs ffmpeg; rejects with EngineError (code CANCELLED, TIMEOUT or FFMPEG_FAILED) and always kills the process. */
  run(spec: RunSpec): Promise<RunResult>;
  probe(file: string, options: { cwd: string; signal?: AbortSignal; timeoutMs?: number }): Promise<ProbeResult>;
  capabilities(): Promise<EngineCapabilities>;
}

export const ENGINE_ERROR_CODES = [
  'CANCELLED',
  'TIMEOUT',
  'FFMPEG_FAILED',
  'ENGINE_UNAVAILABLE',
  'PROBE_FAILED',
  /** The job needs more memory or input than the engine may take (the wasm engine holds every file in memory). */
  'RESOURCE_LIMIT',
] as const;
export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

/**
 * The one table of what an engine's failures say, by code, and for an engine that is unavailable, by why. Nothing
 * an engine prints and nothing a peer sends is shown instead.
 */
export const SAFE_MESSAGES = {
  CANCELLED: 'the job was cancelled',
  TIMEOUT: 'ffmpeg did not finish within the time limit',
  FFMPEG_FAILED: 'ffmpeg could not process the input',
  ENGINE_UNAVAILABLE: 'the engine is not available',
  PROBE_FAILED: 'the input could not be read as a media file',
  RESOURCE_LIMIT: 'the job needs more resources than the engine may use',
  // Why an engine is unavailable.
  missing: 'ffmpeg is not available on this server',
  crashed: 'the engine failed on this job',
  unreachable: 'the worker could not be reached',
  busy: 'the worker has no free slot',
  lost: 'the worker was lost during the run',
  silent: 'the worker stopped responding',
  protocol: 'the worker answered in an unknown way',
  indirect: 'the input must be a single media file, not a playlist or a file list',
  no_libvmaf: 'this engine has no libvmaf for VMAF scores',
} as const satisfies Record<EngineErrorCode, string> & Record<string, string>;

export type SafeMessage = keyof typeof SAFE_MESSAGES;

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    /** Safe to show a client: no paths, no raw ffmpeg text. */
    readonly safeMessage: string,
    readonly logTail = '',
  ) {
    super(safeMessage);
    this.name = 'EngineError';
  }
}

/** An EngineError with its words from the table: the code's own, or a more precise one (`unavailable('busy')`). */
export function engineError(code: EngineErrorCode, logTail = '', message: SafeMessage = code): EngineError {
  return new EngineError(code, SAFE_MESSAGES[message], logTail);
}

// setTimeout fires at once for delays above 2^31-1 ms.
const MAX_TIMER_MS = 2_147_483_647;

/** A delay setTimeout honours: whole, at least 1 ms, at most its 2^31-1 ms. */
export function clampTimer(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(ms))) : MAX_TIMER_MS;
}
