/**
 * Job input URIs, parsed per scheme into typed locations. Nothing downstream concatenates a URI into a key or a
 * path: an `upload:` becomes a blob key built by keys.ts, a `local:` becomes a path only through
 * resolveLocalPath (local-path.ts, Node and Deno only: this module stays free of file-system imports for Workers).
 * Values are never percent-decoded, so an encoded `..` stays a refused literal instead of becoming one later.
 */
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

// Cc covers C0, DEL and C1; the rest are invisible reorderings that make a path read differently than it resolves.
const CONTROL_OR_BIDI = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029]/u;
const PERCENT_ENCODED = /%[0-9A-Fa-f]{2}/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Problems any value must not have, whatever its scheme; null when clean. */
export function unsafeTextReason(value: string): string | null {
  if (value.length > MAX_INPUT_URI_LENGTH) return `longer than ${MAX_INPUT_URI_LENGTH} characters`;
  if (CONTROL_OR_BIDI.test(value)) return 'contains control characters';
  if (value.includes('\\')) return 'contains a backslash';
  if (PERCENT_ENCODED.test(value)) return 'contains percent-encoded characters';
  return null;
}

export function hasDotDotSegment(path: string): boolean {
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
