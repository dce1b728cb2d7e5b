/**
 * Storage URIs, parsed per scheme into typed locations (audit #34). Nothing downstream concatenates a URI into a key,
 * a path or a URL of another backend: an `upload:` becomes a blob key built by keys.ts, a `local:` becomes a path only
 * through resolveLocalPath (local-path.ts, Node and Deno only: this module stays free of file-system imports for
 * Workers), a bucket location becomes an object name only inside its profile's store (profiles.ts), under the
 * profile's prefix, and an `https:` location stays a URL for the SSRF-guarded client. Values are never
 * percent-decoded, so an encoded `..` stays a refused literal instead of becoming one later.
 */
import { isUuid, uploadKey } from './keys.js';

export type InputScheme = 'upload' | 'local' | 's3' | 'r2' | 'https';
export type BucketScheme = 's3' | 'r2';

export type InputLocation =
  | { kind: 'upload'; id: string; key: string }
  | { kind: 'local'; path: string }
  /** An object of an operator's storage profile; `key` is relative to the profile's prefix, checked by bucketKey. */
  | { kind: 'bucket'; scheme: BucketScheme; profile: string; key: string }
  | { kind: 'https'; url: URL };

/** Where a job writes its outputs instead of the built-in store: a folder of a storage profile. */
export interface Destination {
  scheme: BucketScheme;
  profile: string;
  /** '' (the profile's root) or segments ending with '/'; held to the same rules as a bucket key. */
  prefix: string;
}

export const MAX_INPUT_URI_LENGTH = 2048;
const DEFAULT_SCHEMES: readonly InputScheme[] = ['upload', 'local'];

export type StorageUriErrorCode = 'UNSUPPORTED_SCHEME' | 'INVALID_URI';

/** A URI the client sent cannot be used. The message is safe to return to the client: it never echoes the input. */
export class StorageUriError extends Error {
  constructor(
    readonly code: StorageUriErrorCode,
    message: string,
    /** The schemes this deployment accepts, spelled as a client writes them (`upload:`, `s3://`). */
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
/** Characters that look like a slash or a dot to a reader (or to a backend that folds them) but are not one. */
const LOOKALIKE = /[\u2024\u2025\u2026\u2044\u2215\u2216\u29F5\u29F8\u29F9\uFE52\uFE68\uFF0E\uFF0F\uFF3C\u00B7\u02D9]/u;
/** Profile names as the operator's variables spell them (FFEDGE_STORAGE_<NAME>_*), in lower case. */
const PROFILE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
/** S3 and R2 cap object names at 1024 bytes of UTF-8; the profile's prefix is counted by the store. */
export const MAX_BUCKET_KEY_BYTES = 1024;

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

export function schemeLabel(scheme: InputScheme): string {
  return scheme === 's3' || scheme === 'r2' || scheme === 'https' ? `${scheme}://` : `${scheme}:`;
}

export function isProfileName(name: string): boolean {
  return PROFILE_NAME.test(name);
}

/**
 * Why `key` cannot name an object under a profile's prefix, or null. One spelling per object: no leading slash, no
 * empty, `.` or `..` segment, nothing a backend or a reader would fold into another name (backslashes, encoded
 * bytes, compatibility forms that NFKC turns into `.` or `/`, slash and dot lookalikes, text not in NFC).
 * `folder` allows the trailing slash of a destination prefix.
 */
export function bucketKeyProblem(key: string, folder = false): string | null {
  const text = unsafeTextReason(key);
  if (text) return text;
  if (key.normalize('NFKC') !== key) return 'is not in normalised (NFKC) form';
  if (LOOKALIKE.test(key)) return 'contains a character that looks like a slash or a dot';
  if (new TextEncoder().encode(key).byteLength > MAX_BUCKET_KEY_BYTES) return `longer than ${MAX_BUCKET_KEY_BYTES} bytes`;
  if (key.startsWith('/')) return 'starts with /';
  const body = folder && key.endsWith('/') ? key.slice(0, -1) : key;
  if (body.length === 0) return folder ? null : 'is empty';
  for (const segment of body.split('/')) {
    if (segment === '') return 'contains an empty segment (//)';
    if (segment === '.' || segment === '..') return 'contains a . or .. segment';
  }
  return null;
}

function bucketLocation(scheme: BucketScheme, rest: string, folder: boolean, invalid: (message: string) => StorageUriError) {
  if (!rest.startsWith('//')) throw invalid(`${scheme}: must be followed by //<profile>/<key>`);
  const slash = rest.indexOf('/', 2);
  const profile = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
  if (!isProfileName(profile)) throw invalid(`${scheme}:// must name a storage profile (lower-case letters, digits, -)`);
  const key = slash < 0 ? '' : rest.slice(slash + 1);
  const problem = bucketKeyProblem(key, folder);
  if (problem) throw invalid(`${scheme}:// key ${problem}`);
  return { profile, key };
}

/**
 * Parses a job input URI. `upload:<uuid>` names a finished upload; `local:<path>` names a file under the configured
 * local root (confinement is checked by resolveLocalPath); `s3://<profile>/<key>` and `r2://<profile>/<key>` name an
 * object of a storage profile; `https://...` a URL fetched through the SSRF guard. `schemes` narrows what this
 * deployment accepts.
 */
export function parseInputUri(uri: string, schemes: readonly InputScheme[] = DEFAULT_SCHEMES): InputLocation {
  const allowed = schemes.map(schemeLabel);
  const invalid = (message: string): StorageUriError => new StorageUriError('INVALID_URI', message, allowed);
  if (typeof uri !== 'string' || uri.length === 0) throw invalid('input URI is empty');
  if (uri.length > MAX_INPUT_URI_LENGTH) throw invalid(`input URI is longer than ${MAX_INPUT_URI_LENGTH} characters`);
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  // A URL keeps its percent-encoding (the server it names decodes it); every other scheme refuses it.
  const textProblem = scheme === 'https' ? (CONTROL_OR_BIDI.test(uri) || /\s/.test(uri) ? 'contains control characters or spaces' : null) : unsafeTextReason(uri);
  if (textProblem) throw invalid(`input URI ${textProblem}`);
  if (scheme === undefined || !(schemes as readonly string[]).includes(scheme)) {
    throw new StorageUriError('UNSUPPORTED_SCHEME', `input URI scheme is not supported; allowed: ${allowed.join(', ')}`, allowed);
  }
  const rest = uri.slice(scheme.length + 1);

  if (scheme === 'upload') {
    if (!isUuid(rest)) throw invalid('upload: must be followed by an upload id (a UUID)');
    const id = rest.toLowerCase();
    return { kind: 'upload', id, key: uploadKey(id) };
  }
  if (scheme === 's3' || scheme === 'r2') {
    const { profile, key } = bucketLocation(scheme, rest, false, invalid);
    return { kind: 'bucket', scheme, profile, key };
  }
  if (scheme === 'https') {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw invalid('https: input is not a valid URL');
    }
    if (url.username || url.password) throw invalid('https: input must not carry credentials');
    url.hash = '';
    return { kind: 'https', url };
  }

  if (rest.length === 0) throw invalid('local: must be followed by a path');
  // `local://host/...` would read as an authority to anything that treats this as a URL.
  if (rest.startsWith('//')) throw invalid('local: path must not start with //');
  if (hasDotDotSegment(rest)) throw invalid('local: path must not contain .. segments');
  return { kind: 'local', path: rest };
}

/** Parses `output.destination`: `s3://<profile>/` or `s3://<profile>/<folder>/` (r2:// on Workers). */
export function parseDestination(uri: string, schemes: readonly BucketScheme[]): Destination {
  const allowed = schemes.map(schemeLabel);
  const invalid = (message: string): StorageUriError => new StorageUriError('INVALID_URI', message, allowed);
  if (typeof uri !== 'string' || uri.length === 0) throw invalid('destination is empty');
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if ((scheme !== 's3' && scheme !== 'r2') || !schemes.includes(scheme)) {
    const listed = allowed.join(', ') || 'none (no storage profile is configured)';
    throw new StorageUriError('UNSUPPORTED_SCHEME', `destination scheme is not supported; allowed: ${listed}`, allowed);
  }
  const textProblem = unsafeTextReason(uri);
  if (textProblem) throw invalid(`destination ${textProblem}`);
  const { profile, key } = bucketLocation(scheme, uri.slice(scheme.length + 1), true, invalid);
  if (key !== '' && !key.endsWith('/')) throw invalid('destination must be a folder: end it with /');
  return { scheme, profile, prefix: key };
}
