/**
 * `local:` inputs on runtimes with a file system (Node, Deno): a path becomes a file only through resolveLocalPath,
 * which canonicalises first and confines second (audit #7).
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { hasDotDotSegment, unsafeTextReason } from './uri.js';

/** OUTSIDE_ROOT is only ever decided from the text of an absolute path, never from the file system. */
export type LocalPathErrorCode = 'NOT_FOUND' | 'OUTSIDE_ROOT' | 'NOT_A_FILE' | 'INVALID_PATH' | 'ROOT_UNAVAILABLE';

const LOCAL_PATH_MESSAGES: Record<LocalPathErrorCode, string> = {
  NOT_FOUND: 'the local input does not exist under the storage root',
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
 *
 * Nor can a symlink be used to ask: canonicalising a link that leaves the root succeeds when its target exists and
 * fails when it does not, so every failure to canonicalise and every canonical path outside the root get one and the
 * same answer (NOT_FOUND). Only a canonical path inside the root earns a more specific one.
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
    // ENOENT, ENOTDIR, ELOOP, EACCES...: the failure may have happened outside the root (see above), so the client
    // learns only that there is no file it can use there. The path was already bounded in length as text.
    throw new LocalPathError('NOT_FOUND', { cause: error });
  }

  // The root itself included: it is not a file under the root either.
  if (!isInside(canonicalRoot, canonicalTarget)) throw new LocalPathError('NOT_FOUND');

  let isFile: boolean;
  try {
    isFile = (await stat(canonicalTarget)).isFile();
  } catch (error) {
    throw new LocalPathError('NOT_FOUND', { cause: error });
  }
  if (!isFile) throw new LocalPathError('NOT_A_FILE');
  return canonicalTarget;
}
