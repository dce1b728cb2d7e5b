import type { Progress } from '../media/progress-types.js';

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

export interface ProbeStream {
  index: number;
  type: 'video' | 'audio' | 'subtitle' | 'data' | 'attachment';
  codec: string | null;
  width?: number;
  height?: number;
  fps?: number | null;
  sample_rate?: number;
  channels?: number;
  duration_s?: number | null;
  bit_rate?: number | null;
}

export interface ProbeResult {
  format: string | null;
  duration_s: number | null;
  size: number | null;
  bit_rate: number | null;
  streams: ProbeStream[];
}

export interface EngineCapabilities {
  name: 'native' | 'wasm';
  version: string;
  encoders: string[];
  decoders: string[];
  filters: string[];
  muxers: string[];
}

export interface Engine {
  readonly name: 'native' | 'wasm';
  /** Runs ffmpeg; rejects with EngineError (code CANCELLED, TIMEOUT or FFMPEG_FAILED) and always kills the process. */
  run(spec: RunSpec): Promise<RunResult>;
  probe(file: string, options: { cwd: string; signal?: AbortSignal; timeoutMs?: number }): Promise<ProbeResult>;
  capabilities(): Promise<EngineCapabilities>;
}

export type EngineErrorCode =
  | 'CANCELLED'
  | 'TIMEOUT'
  | 'FFMPEG_FAILED'
  | 'ENGINE_UNAVAILABLE'
  | 'PROBE_FAILED'
  /** The job needs more memory than the engine may use (the wasm engine holds every file in memory). */
  | 'RESOURCE_LIMIT';

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
