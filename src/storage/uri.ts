/**
 * Job input URIs, parsed per scheme into typed locations. Nothing downstream concatenates a URI into a key or a
 * path: an `upload:` becomes a blob key built by keys.ts, a `local:` becomes a path only through resolveLocalPath.
 * Values are never percent-decoded, so an encoded `..` stays a refused literal instead of becoming one later.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { isUuid, uploadKey } from './keys.js';

export type InputScheme = 'upload' | 'local';

export type InputLocation =
  | { kind: 'upload'; id: string; key: string }
  | { kind: 'local'; path: string };

export const MAX_INPUT_URI_LENGTH = 2048;
const DEFAULT_SCHEMES: readonly InputScheme[] = ['upload', 'local'];

export type StorageUriErrorCode = 'UNSUPPORTED_SCHEME' | 'INVALID_URI';

/** A URI the client sent cannot be used. The message is safe to return to the client: it never echoes the input. */
export class StorageUriError extends Error {
  constructor(
    readonly code: StorageUriErrorCode,
    message: string,
    /** The schemes this deployment accepts, spelled as a client writes them (`upload:`). */
    readonly allowedSchemes: readonly string[],
  ) {
    super(message);
    this.name = 'StorageUriError';
  }
}

export type LocalPathErrorCode = 'NOT_FOUND' | 'OUTSIDE_ROOT' | 'NOT_A_FILE' | 'INVALID_PATH' | 'ROOT_UNAVAILABLE';

const LOCAL_PATH_MESSAGES: Record<LocalPathErrorCode, string> = {
  NOT_FOUND: 'the local input does not exist',
  OUTSIDE_ROOT: 'the local input is outside the storage root',
  NOT_A_FILE: 'the local input is not a regular file',
  INVALID_PATH: 'the local input path is not allowed',
  ROOT_UNAVAILABLE: 'local inputs are unavailable',
};

/**
 * A `local:` path cannot be used. The message is fixed per code and never holds a server path; the underlying
 * file-system error, when there is one, is kept as `cause` for server logs only.
 */
export class LocalPathError extends Error {
  constructor(
    readonly code: LocalPathErrorCode,
    options?: { cause?: unknown },
  ) {
    super(LOCAL_PATH_MESSAGES[code], options);
    this.name = 'LocalPathError';
  }
}

// Cc covers C0, DEL and C1; the rest are invisible reorderings that make a path read differently than it resolves.
const CONTROL_OR_BIDI = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029]/u;
const PERCENT_ENCODED = /%[0-9A-Fa-f]{2}/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Problems any value must not have, whatever its scheme; null when clean. */
function unsafeTextReason(value: string): string | null {
  if (value.length > MAX_INPUT_URI_LENGTH) return `longer than ${MAX_INPUT_URI_LENGTH} characters`;
  if (CONTROL_OR_BIDI.test(value)) return 'contains control characters';
  if (value.includes('\\')) return 'contains a backslash';
  if (PERCENT_ENCODED.test(value)) return 'contains percent-encoded characters';
  return null;
}

function hasDotDotSegment(path: string): boolean {
  return path.split('/').some((segment) => segment === '..');
}

/**
 * Parses a job input URI. `upload:<uuid>` names a finished upload; `local:<path>` names a file under the
 * configured local root (relative to it, or absolute inside it; confinement is checked by resolveLocalPath).
 * `schemes` narrows what this deployment accepts (without a local root, only `upload`).
 */
export function parseInputUri(uri: string, schemes: readonly InputScheme[] = DEFAULT_SCHEMES): InputLocation {
  const allowed = schemes.map((scheme) => `${scheme}:`);
  const invalid = (message: string): StorageUriError => new StorageUriError('INVALID_URI', message, allowed);
  if (typeof uri !== 'string' || uri.length === 0) throw invalid('input URI is empty');
  const textProblem = unsafeTextReason(uri);
  if (textProblem) throw invalid(`input URI ${textProblem}`);

  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined || !(schemes as readonly string[]).includes(scheme)) {
    throw new StorageUriError('UNSUPPORTED_SCHEME', `input URI scheme is not supported; allowed: ${allowed.join(', ')}`, allowed);
  }
  const rest = uri.slice(scheme.length + 1);

  if (scheme === 'upload') {
    if (!isUuid(rest)) throw invalid('upload: must be followed by an upload id (a UUID)');
    const id = rest.toLowerCase();
    return { kind: 'upload', id, key: uploadKey(id) };
  }

  if (rest.length === 0) throw invalid('local: must be followed by a path');
  // `local://host/...` would read as an authority to anything that treats this as a URL.
  if (rest.startsWith('//')) throw invalid('local: path must not start with //');
  if (hasDotDotSegment(rest)) throw invalid('local: path must not contain .. segments');
  return { kind: 'local', path: rest };
}

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Turns a `local:` path into the canonical path of a regular file strictly inside root.
 *
 * Canonicalisation comes first: realpath of the root and of the target resolve every symlink and `.`, and only the
 * canonical target is confined to the canonical root. A symlink inside the root that points outside it is refused,
 * as is the root itself and anything that is not a regular file. Absolute paths are refused before touching the
 * file system unless they lie under the root, so the answer cannot reveal whether a file exists elsewhere.
 */
export async function resolveLocalPath(root: string, path: string): Promise<string> {
  if (typeof path !== 'string' || path.length === 0 || unsafeTextReason(path) !== null || hasDotDotSegment(path)) {
    throw new LocalPathError('INVALID_PATH');
  }

  let canonicalRoot: string;
  try {
    canonicalRoot = await realpath(root);
  } catch (error) {
    throw new LocalPathError('ROOT_UNAVAILABLE', { cause: error });
  }

  if (isAbsolute(path)) {
    const lexical = resolve(path);
    const underRoot = isInside(resolve(root), lexical) || isInside(canonicalRoot, lexical);
    if (!underRoot) throw new LocalPathError('OUTSIDE_ROOT');
  }

  let canonicalTarget: string;
  try {
    canonicalTarget = await realpath(resolve(canonicalRoot, path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENAMETOOLONG') throw new LocalPathError('INVALID_PATH', { cause: error });
    // ENOENT, ENOTDIR, EACCES...: to the client all mean the same, there is no file it can use there.
    throw new LocalPathError('NOT_FOUND', { cause: error });
  }

  if (!isInside(canonicalRoot, canonicalTarget)) throw new LocalPathError('OUTSIDE_ROOT');

  let isFile: boolean;
  try {
    isFile = (await stat(canonicalTarget)).isFile();
  } catch (error) {
    throw new LocalPathError('NOT_FOUND', { cause: error });
  }
  if (!isFile) throw new LocalPathError('NOT_A_FILE');
  return canonicalTarget;
}
