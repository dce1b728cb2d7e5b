/**
 * A job's inputs as an attempt reads them: a storage URI accepted at submission becomes a size and a stream. Uploads
 * come from the BlobStore on every runtime; `local:` files only where there is a disk (local-inputs.ts). No node:
 * import, so the Workers path uses it too.
 */
import type { BlobStore, ByteRange } from '../storage/blob-store.js';
import type { StorageProfiles } from '../storage/profiles.js';
import { parseInputUri, type InputScheme } from '../storage/uri.js';
import { JobFailure } from './failures.js';

export interface OpenedInput {
  size: number;
  /** A file on this host that holds the input (a `local:` file, checked by its opener). */
  path?: string;
  /** The bytes, or only `range` of them (a probe reads the head of a large input). */
  open(range?: ByteRange): Promise<ReadableStream<Uint8Array>>;
}

export interface InputSource {
  /**
   * Throws JobFailure INPUT_NOT_FOUND when the input is gone or cannot be read here, INPUT_TOO_LARGE when it is known
   * to be larger than `limit` (the bytes the job's inputs may still take).
   */
  open(uri: string, limit?: number): Promise<OpenedInput>;
}

export type LocalOpener = (path: string) => Promise<OpenedInput>;
/** `https:` inputs through the SSRF-guarded client; `limit` is the most bytes the job's inputs may still take. */
export type UrlOpener = (url: URL, limit: number) => Promise<OpenedInput>;

/** Where each scheme's inputs come from, besides uploads (always from the service's own store). */
export interface InputOpeners {
  local?: LocalOpener;
  url?: UrlOpener;
  profiles?: StorageProfiles;
}

const gone = (what = 'The uploaded input') => new JobFailure('INPUT_NOT_FOUND', `${what} no longer exists.`, false);

/** The schemes a deployment with these openers accepts, in the order problems list them. */
export function inputSchemes(openers: { local?: unknown; url?: unknown; profiles?: StorageProfiles | undefined }): InputScheme[] {
  return [
    'upload',
    ...(openers.local ? (['local'] as const) : []),
    ...(openers.profiles?.schemes ?? []),
    ...(openers.url ? (['https'] as const) : []),
  ];
}

/** An object of a store as an input: its size now, its bytes when the workspace asks. */
export function blobInput(store: BlobStore, key: string, size: number, what?: string): OpenedInput {
  return {
    size,
    async open(range) {
      const blob = await store.get(key, range);
      if (!blob) throw gone(what);
      return blob.body;
    },
  };
}

/** Uploads from `blobs`; `local:` paths, bucket objects and URLs through their openers where the runtime has them. */
export function storageInputs(blobs: BlobStore, openers: InputOpeners = {}): InputSource {
  const schemes = inputSchemes(openers);
  return {
    async open(uri, limit = Number.MAX_SAFE_INTEGER) {
      let location;
      try {
        location = parseInputUri(uri, schemes);
      } catch {
        throw new JobFailure('INPUT_NOT_FOUND', 'The input cannot be read here.', false);
      }
      if (location.kind === 'local') return openers.local!(location.path);
      if (location.kind === 'https') return openers.url!(location.url, limit);
      if (location.kind === 'bucket') {
        const profile = openers.profiles?.get(location.scheme, location.profile);
        if (!profile) throw new JobFailure('INPUT_NOT_FOUND', 'The storage profile of the input is not configured here.', false);
        const key = profile.objectKey(location.key);
        const info = await profile.store.head(key);
        if (!info) throw gone('The input object');
        return blobInput(profile.store, key, info.size, 'The input object');
      }
      const info = await blobs.head(location.key);
      if (!info) throw gone();
      return blobInput(blobs, location.key, info.size);
    },
  };
}

export const inputTooLarge = (limit: number) =>
  new JobFailure('INPUT_TOO_LARGE', `The inputs exceed the limit of ${limit} bytes.`, false);

/** An input named at submission cannot be read (any more) outside a job: for the probes of estimates. */
export class InputUnavailableError extends Error {
  constructor() {
    super('the input cannot be read');
    this.name = 'InputUnavailableError';
  }
}
