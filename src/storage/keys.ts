/**
 * Blob keys. ffedge makes every key itself from ids it generated; nothing a client sends becomes a key.
 * The same key string is valid for every backend (a file path under the local root, an R2 or S3 object name),
 * so the rules are the intersection of what all of them accept safely.
 */

/** R2 and S3 cap object names at 1024 bytes; keys are ASCII, so characters are bytes. */
export const MAX_BLOB_KEY_LENGTH = 1024;
/** Most file systems cap one path component at 255 bytes. */
export const MAX_BLOB_KEY_SEGMENT_LENGTH = 255;
const MAX_BLOB_KEY_SEGMENTS = 16;

const SEGMENT = /^[A-Za-z0-9._-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_ATTEMPT = 1000;

export class InvalidBlobKeyError extends Error {
  readonly code = 'INVALID_BLOB_KEY';
  constructor(reason: string) {
    // The key itself is left out: it may hold the very bytes that made it invalid.
    super(`invalid blob key: ${reason}`);
    this.name = 'InvalidBlobKeyError';
  }
}

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * Throws unless key is `segment(/segment)*` with every segment made of `[A-Za-z0-9._-]`, none empty, `.` or `..`.
 * Every BlobStore calls this before touching its backend, so a malformed key can never become a path.
 */
export function assertBlobKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError('empty');
  if (key.length > MAX_BLOB_KEY_LENGTH) throw new InvalidBlobKeyError(`longer than ${MAX_BLOB_KEY_LENGTH} characters`);
  const segments = key.split('/');
  if (segments.length > MAX_BLOB_KEY_SEGMENTS) throw new InvalidBlobKeyError(`more than ${MAX_BLOB_KEY_SEGMENTS} segments`);
  for (const segment of segments) {
    if (segment === '') throw new InvalidBlobKeyError('empty segment');
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError('relative segment');
    if (segment.length > MAX_BLOB_KEY_SEGMENT_LENGTH) {
      throw new InvalidBlobKeyError(`segment longer than ${MAX_BLOB_KEY_SEGMENT_LENGTH} characters`);
    }
    if (!SEGMENT.test(segment)) throw new InvalidBlobKeyError('segment outside [A-Za-z0-9._-]');
  }
}

function checked(key: string): string {
  assertBlobKey(key);
  return key;
}

function uuidSegment(value: string, what: string): string {
  if (!isUuid(value)) throw new InvalidBlobKeyError(`${what} is not a UUID`);
  // One spelling per id, so `upload:ABC…` and `upload:abc…` name the same object on case-sensitive backends.
  return value.toLowerCase();
}

function attemptSegment(attempt: number): string {
  if (!Number.isSafeInteger(attempt) || attempt < 1 || attempt > MAX_ATTEMPT) {
    throw new InvalidBlobKeyError(`attempt must be a whole number from 1 to ${MAX_ATTEMPT}`);
  }
  return String(attempt);
}

/** `uploads/<uuid>`: the bytes of one client upload. */
export function uploadKey(id: string): string {
  return checked(`uploads/${uuidSegment(id, 'upload id')}`);
}

/**
 * `outputs/<jobId>/<attempt>/<name>`: outputs live under the attempt that made them, so a retried job never
 * overwrites or mixes with a previous attempt's files. `name` may have several segments (a streaming ladder's
 * `720p/segment_001.m4s`); each is held to the key rules.
 */
export function outputKey(jobId: string, attempt: number, name: string): string {
  return checked(`outputs/${uuidSegment(jobId, 'job id')}/${attemptSegment(attempt)}/${name}`);
}

/**
 * `work/<jobId>/<attempt>/<path>`: a file one pass of an attempt hands to a later one (a quality ladder's samples),
 * deleted when the attempt ends.
 */
export function workKey(jobId: string, attempt: number, path: string): string {
  return checked(`work/${uuidSegment(jobId, 'job id')}/${attemptSegment(attempt)}/${path}`);
}

/** `logs/<jobId>/<attempt>.log`: the engine log of one attempt, kept for operators. */
export function logKey(jobId: string, attempt: number): string {
  return checked(`logs/${uuidSegment(jobId, 'job id')}/${attemptSegment(attempt)}.log`);
}

/** `.health/<uuid>`: readiness probes write here, apart from every real object. */
export function healthProbeKey(): string {
  return checked(`.health/${crypto.randomUUID()}`);
}
