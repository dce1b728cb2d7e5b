/**
 * A job's inputs as an attempt reads them: a storage URI accepted at submission becomes a size and a stream. Uploads
 * come from the BlobStore on every runtime; `local:` files only where there is a disk (local-inputs.ts). No node:
 * import, so the Workers path uses it too.
 */
import type { BlobStore } from '../storage/blob-store.js';
import { parseInputUri, type InputScheme } from '../storage/uri.js';
import { JobFailure } from './failures.js';

export interface OpenedInput {
  size: number;
  /** A file on this host that holds the input (a `local:` file): a file workspace links it instead of copying. */
  path?: string;
  open(): Promise<ReadableStream<Uint8Array>>;
}

export interface InputSource {
  /** Throws JobFailure INPUT_NOT_FOUND when the input is gone or cannot be read here. */
  open(uri: string): Promise<OpenedInput>;
}

export type LocalOpener = (path: string) => Promise<OpenedInput>;

const gone = () => new JobFailure('INPUT_NOT_FOUND', 'The uploaded input no longer exists.', false);

/** Uploads from `blobs`, and `local:` paths through `local` where the runtime has them. */
export function storageInputs(blobs: BlobStore, local?: LocalOpener): InputSource {
  const schemes: InputScheme[] = local ? ['upload', 'local'] : ['upload'];
  return {
    async open(uri) {
      let location;
      try {
        location = parseInputUri(uri, schemes);
      } catch {
        throw new JobFailure('INPUT_NOT_FOUND', 'The input cannot be read here.', false);
      }
      if (location.kind === 'local') return local!(location.path);
      const key = location.key;
      const info = await blobs.head(key);
      if (!info) throw gone();
      return {
        size: info.size,
        async open() {
          const blob = await blobs.get(key);
          if (!blob) throw gone();
          return blob.body;
        },
      };
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
