/**
 * Why a job attempt failed, in words a client may read (audit #9), and whether another attempt could succeed.
 * Shared by runner.ts (Node, Deno) and edge-runner.ts (the Durable Object that runs jobs on Workers), so it has no
 * node: import.
 */
import { EngineError } from '../engine/engine.js';

/** A failure with a code and a client-safe message; `retryable` says whether another attempt could succeed. */
export class JobFailure extends Error {
  constructor(
    readonly code: string,
    readonly safeMessage: string,
    readonly retryable: boolean,
    readonly logTail = '',
  ) {
    super(safeMessage);
    this.name = 'JobFailure';
  }
}

export function toJobFailure(error: unknown): JobFailure {
  if (error instanceof JobFailure) return error;
  if (error instanceof EngineError) {
    switch (error.code) {
      case 'TIMEOUT':
        return new JobFailure('TIMEOUT', 'The job took longer than its time limit.', false, error.logTail);
      case 'PROBE_FAILED':
        return new JobFailure('INVALID_INPUT', 'The input is not a media file ffmpeg can read.', false, error.logTail);
      case 'ENGINE_UNAVAILABLE':
        return new JobFailure('ENGINE_UNAVAILABLE', 'No engine could run the job.', true, error.logTail);
      case 'RESOURCE_LIMIT':
        // The same input would not fit on a retry either.
        return new JobFailure('RESOURCE_LIMIT', `The job was stopped: ${error.safeMessage}.`, false, error.logTail);
      case 'CANCELLED':
        return new JobFailure('CANCELLED', 'The job was cancelled.', false, error.logTail);
      default:
        return new JobFailure('FFMPEG_FAILED', error.safeMessage, false, error.logTail);
    }
  }
  return new JobFailure('INTERNAL', 'The job failed because of an internal error.', true);
}
