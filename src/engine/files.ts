/**
 * A run dir's files under their protocol paths (relative, '/'-separated), for every engine that works on a dir:
 * the native worker (container/service.ts) lists what ffmpeg made and receives framed inputs into it, and the wasm
 * engine on Node (wasm/node-engine.ts) lists what to copy into the core.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { isSafeRelativePath, ProtocolError, type FrameReader } from './protocol.js';

export interface ListedFile {
  /** The protocol path: relative to the dir, '/'-separated. */
  path: string;
  absolute: string;
  size: number;
}

/**
 * Regular files and directories under dir, depth-first in name order (a parent before its children).
 * `followLinks` counts a symlink to a regular file as that file (a job's `local:` input is linked into its dir);
 * without it links are skipped. Names that are not safe
 * protocol paths are returned in `unsafe` so the caller decides.
 */
export async function listFiles(
  dir: string,
  options: { followLinks: boolean },
): Promise<{ files: ListedFile[]; dirs: string[]; unsafe: string[] }> {
  const files: ListedFile[] = [];
  const dirs: string[] = [];
  const unsafe: string[] = [];
  async function walk(current: string, depth: number): Promise<void> {
    const entries = (await readdir(current, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const absolute = join(current, entry.name);
      const path = relative(dir, absolute).split(sep).join('/');
      if (entry.isDirectory()) {
        if (!isSafeRelativePath(path)) unsafe.push(path);
        else dirs.push(path);
        if (depth < 8) await walk(absolute, depth + 1);
        continue;
      }
      const info = entry.isSymbolicLink() ? (options.followLinks ? await stat(absolute).catch(() => null) : null) : await lstat(absolute);
      if (!info?.isFile()) continue;
      if (!isSafeRelativePath(path)) unsafe.push(path);
      else files.push({ path, absolute, size: info.size });
    }
  }
  await walk(dir, 0);
  return { files, dirs, unsafe };
}

export function openFile(absolute: string): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(absolute)) as ReadableStream<Uint8Array>;
}

/** Writes the next `size` bytes of a framed stream to dir/path; never overwrites, never leaves dir. */
export async function receiveFile(frames: FrameReader, dir: string, path: string, size: number, onChunk?: () => void): Promise<void> {
  if (!isSafeRelativePath(path)) throw new ProtocolError('not a safe relative path');
  const target = join(dir, ...path.split('/'));
  await mkdir(join(target, '..'), { recursive: true });
  const file = await open(target, 'wx');
  try {
    await frames.readExactly(size, async (chunk) => {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
      onChunk?.();
    });
  } finally {
    await file.close();
  }
}
