/**
 * `local:` inputs on Node and Deno: a path under the configured root, canonicalised and confined when the attempt
 * reads it (audit #7), not only at submission, so a link swapped in between cannot lead outside the root.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { resolveLocalPath } from '../storage/local-path.js';
import { JobFailure } from './failures.js';
import type { LocalOpener } from './inputs.js';

export function localInputs(root: string): LocalOpener {
  return async (path) => {
    const source = await resolveLocalPath(root, path).catch(() => {
      throw new JobFailure('INPUT_NOT_FOUND', 'The local input cannot be read.', false);
    });
    const { size } = await stat(source);
    return { size, path: source, open: async () => Readable.toWeb(createReadStream(source)) as ReadableStream<Uint8Array> };
  };
}
