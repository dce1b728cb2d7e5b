/**
 * Probes a job input outside a job, for POST /estimate (Node and Deno). A `local:` file is probed where it is; an
 * upload is streamed into a temp dir, at most its first PROBE_PREFIX_BYTES, since the container's header is what
 * ffprobe reads. The temp dir is removed on every path (audit #4).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';
import { EngineError, type Engine, type ProbeResult } from '../engine/engine.js';
import type { ProbedInput } from '../platform.js';
import type { BlobStore } from '../storage/blob-store.js';
import { resolveLocalPath } from '../storage/local-path.js';
import { parseInputUri } from '../storage/uri.js';
import { InputUnavailableError } from './inputs.js';

/** Enough for the header of any ordinary file, and for an mp4 whose index is at the end up to this size. */
export const PROBE_PREFIX_BYTES = 64 * 1024 * 1024;
const PROBE_TIMEOUT_MS = 30_000;

/** Formats whose duration ffprobe estimates from the file size and bitrate when the header does not say it. */
const SIZE_TIMED_FORMATS = new Set(['mp3', 'aac', 'mpegts', 'mpeg', 'ac3', 'eac3']);

export interface ProbeInputDeps {
  blobs: BlobStore;
  config: Config;
  engine: Engine;
  /** Parent of the temp dir. */
  tmpRoot: string;
}

/** Throws InputUnavailableError when the input does not exist (any more) or cannot be read. */
export async function probeInput(deps: ProbeInputDeps, uri: string, signal: AbortSignal): Promise<ProbedInput> {
  const location = parseInputUri(uri, deps.config.localRoot ? ['upload', 'local'] : ['upload']);
  const dir = await mkdtemp(join(deps.tmpRoot, 'probe-'));
  try {
    let bytes: number;
    let partial = false;
    if (location.kind === 'local') {
      const source = await resolveLocalPath(deps.config.localRoot!, location.path).catch(() => {
        throw new InputUnavailableError();
      });
      bytes = (await stat(source)).size;
      await symlink(source, join(dir, 'input'));
    } else {
      const info = await deps.blobs.head(location.key);
      if (!info) throw new InputUnavailableError();
      bytes = info.size;
      partial = bytes > PROBE_PREFIX_BYTES;
      const blob = await deps.blobs.get(location.key, { offset: 0, length: Math.min(bytes, PROBE_PREFIX_BYTES) });
      if (!blob) throw new InputUnavailableError();
      const body = Readable.fromWeb(blob.body as import('node:stream/web').ReadableStream);
      await pipeline(body, createWriteStream(join(dir, 'input'), { flags: 'wx' }), { signal });
    }
    let probe: ProbeResult | null = null;
    try {
      probe = await deps.engine.probe('input', { cwd: dir, signal, timeoutMs: PROBE_TIMEOUT_MS });
    } catch (error) {
      if (!(error instanceof EngineError) || error.code !== 'PROBE_FAILED') throw error;
    }
    return { probe: probe && partial ? scaleToWhole(probe, bytes) : probe, bytes, partial };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A probe of the first part of a file describes the whole file, except its size and, for formats timed by their
 * size (a headerless mp3 or an MPEG-TS stream), its duration: those are scaled to the whole.
 */
export function scaleToWhole(probe: ProbeResult, bytes: number): ProbeResult {
  const probedBytes = probe.size;
  if (!probedBytes || probedBytes >= bytes) return { ...probe, size: bytes };
  const formats = (probe.format ?? '').split(',');
  const timedBySize =
    formats.some((name) => SIZE_TIMED_FORMATS.has(name)) &&
    probe.duration_s !== null &&
    probe.bit_rate !== null &&
    Math.abs((probe.duration_s * probe.bit_rate) / 8 - probedBytes) < probedBytes * 0.05;
  const factor = bytes / probedBytes;
  return {
    ...probe,
    size: bytes,
    duration_s: timedBySize && probe.duration_s !== null ? Math.round(probe.duration_s * factor * 1000) / 1000 : probe.duration_s,
  };
}
