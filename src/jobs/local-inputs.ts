/**
 * `local:` inputs on Node and Deno: a path under the configured root, canonicalised and confined when the attempt
 * reads it (audit #7), not only at submission, so a link swapped in between cannot lead outside the root. The file
 * is read from a handle opened after that check, and only while the handle's file is still the one at the checked
 * path (same device and inode): a directory swapped for a link between the check and the open is caught too. The
 * input is then copied into the attempt, never linked: ffmpeg would otherwise open the path again, later.
 */
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { resolveLocalPath } from '../storage/local-path.js';
import { JobFailure } from './failures.js';
import type { LocalOpener } from './inputs.js';

const unreadable = () => new JobFailure('INPUT_NOT_FOUND', 'The local input cannot be read.', false);

export function localInputs(root: string): LocalOpener {
  return async (path) => {
    const source = await resolveLocalPath(root, path).catch(() => {
      throw unreadable();
    });
    const first = await stat(source).catch(() => {
      throw unreadable();
    });
    return {
      size: first.size,
      async open(range) {
        const handle = await open(source, 'r').catch(() => {
          throw unreadable();
        });
        const [opened, atPath] = await Promise.all([handle.stat(), stat(source).catch(() => null)]);
        const same = (a: { dev: number; ino: number } | null) => a !== null && a.dev === first.dev && a.ino === first.ino;
        if (!opened.isFile() || !same(opened) || !same(atPath)) {
          await handle.close();
          throw unreadable();
        }
        // The handle closes when the stream ends or is cancelled.
        const bounds = range ? { start: range.offset, ...(range.length === undefined ? {} : { end: range.offset + range.length - 1 }) } : {};
        if (range?.length === 0) {
          await handle.close();
          return new Blob([]).stream();
        }
        return Readable.toWeb(handle.createReadStream(bounds)) as ReadableStream<Uint8Array>;
      },
    };
  };
}
