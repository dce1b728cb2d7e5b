/**
 * Probes a job input outside a job, for POST /estimate (Node and Deno): the input is streamed into a temp dir through
 * the same openers an attempt uses, at most its first PROBE_PREFIX_BYTES, since the container's header is what ffprobe
 * reads. The temp dir is removed on every path (audit #4).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngineError, type Engine, type ProbeResult } from '../engine/engine.js';
import type { ProbedInput } from '../platform.js';
import { InputUnavailableError, type InputSource } from './inputs.js';

/** Enough for the header of any ordinary file, and for an mp4 whose index is at the end up to this size. */
export const PROBE_PREFIX_BYTES = 64 * 1024 * 1024;
const PROBE_TIMEOUT_MS = 30_000;

/** Formats whose duration ffprobe estimates from the file size and bitrate when the header does not say it. */
const SIZE_TIMED_FORMATS = new Set(['mp3', 'aac', 'mpegts', 'mpeg', 'ac3', 'eac3']);

export interface ProbeInputDeps {
  /** The same sources an attempt reads its inputs from. */
  inputs: InputSource;
  engine: Engine;
  /** Parent of the temp dir. */
  tmpRoot: string;
}

/** Throws InputUnavailableError when the input does not exist (any more) or cannot be read. */
export async function probeInput(deps: ProbeInputDeps, uri: string, signal: AbortSignal): Promise<ProbedInput> {
  const input = await deps.inputs.open(uri).catch(() => {
    throw new InputUnavailableError();
  });
  const dir = await mkdtemp(join(deps.tmpRoot, 'probe-'));
  try {
    const bytes = input.size;
    // Only the head of a large input: every opener answers a range, so nothing is read in full to be probed.
    const partial = bytes > PROBE_PREFIX_BYTES;
    const stream = await input.open({ offset: 0, length: Math.min(bytes, PROBE_PREFIX_BYTES) }).catch(() => {
      throw new InputUnavailableError();
    });
    const body = Readable.fromWeb(stream as import('node:stream/web').ReadableStream);
    await pipeline(body, createWriteStream(join(dir, 'input'), { flags: 'wx' }), { signal });
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
