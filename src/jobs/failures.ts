/**
 * Why a job attempt failed, in words a client may read (audit #9), and whether another attempt could succeed: the
 * one mapping from what went wrong (an engine's EngineError, a storage error, anything else) to a job's error.
 * No node: import: every runtime runs the attempt pipeline.
 */
import { EngineError } from '../engine/engine.js';
import { StoreUnavailableError } from '../storage/guarded.js';

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

// ffmpeg prints strerror(ENOSPC) / strerror(EDQUOT) when a write fails; so does a worker's ffmpeg.
const NO_SPACE_LOG = /No space left on device|Disk quota exceeded/;

/** A write failed because a disk (the temp dir, the blob store) is full: the server's fault, not the input's. */
export function isNoSpace(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

const storageFull = (logTail = '') =>
  new JobFailure('STORAGE_FULL', 'The server ran out of disk space while running the job; it will be retried.', true, logTail);

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
        if (NO_SPACE_LOG.test(error.logTail)) return storageFull(error.logTail);
        return new JobFailure('FFMPEG_FAILED', error.safeMessage, false, error.logTail);
    }
  }
  if (isNoSpace(error)) return storageFull();
  if (error instanceof StoreUnavailableError) return new JobFailure('STORAGE_UNAVAILABLE', 'The storage was unavailable while running the job; it will be retried.', true);
  return new JobFailure('INTERNAL', 'The job failed because of an internal error.', true);
}
