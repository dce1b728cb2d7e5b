/**
 * The wire protocol between an ffedge server and a native worker (container/README.md documents it for operators):
 * one request per run, so a run's whole life — inputs in, progress, outputs out, abort — is one HTTP exchange and
 * its temp dir goes away with it. Web-standard streams only (no node: imports), so a Worker or Durable Object can
 * speak it too.
 *
 *   request body   <header JSON>\n<bytes of inputs[0]><bytes of inputs[1]>...        (sizes declared in the header)
 *   response body  NDJSON lines: started, progress*, heartbeat*, then `done` followed by the bytes of each listed
 *                  output, or `error`; the stream ends after that.
 */
import { z } from 'zod';
import { STAGES, type Progress } from '../media/progress-types.js';
import type { EngineErrorCode } from './engine.js';

export const PROTOCOL_VERSION = 1;
/** The longest header line either side accepts. */
export const MAX_HEADER_BYTES = 256 * 1024;
export const MAX_FILES = 256;

/**
 * A file's place in the run dir: relative, '/'-separated, no '.', '..' or empty segment, portable characters only.
 * Both sides check it before touching the file system, so a peer can never name a path outside the run dir.
 */
export function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > 255) return false;
  const segments = path.split('/');
  if (segments.length > 8) return false;
  return segments.every((segment) => /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(segment) && segment !== '..');
}

const FileEntry = z.strictObject({
  path: z.string().refine(isSafeRelativePath, 'not a safe relative path'),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});
export type FileEntry = z.infer<typeof FileEntry>;

const uniquePaths = (files: FileEntry[]) => new Set(files.map((f) => f.path)).size === files.length;

export const RunHeader = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  args: z.array(z.string().max(64 * 1024)).min(1).max(4096),
  expected_duration_s: z.number().positive().finite().nullable(),
  timeout_ms: z.number().int().min(1).max(48 * 3600_000),
  inputs: z.array(FileEntry).max(MAX_FILES).refine(uniquePaths, 'duplicate path'),
  /** Directories to create before the run (ffmpeg writes into existing ones only); parents come first. */
  dirs: z.array(z.string().refine(isSafeRelativePath, 'not a safe relative path')).max(MAX_FILES).optional(),
});
export type RunHeader = z.infer<typeof RunHeader>;

export const ProbeHeader = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  file: z.string().refine(isSafeRelativePath, 'not a safe relative path'),
  timeout_ms: z.number().int().min(1).max(3600_000),
  inputs: z.array(FileEntry).length(1),
});
export type ProbeHeader = z.infer<typeof ProbeHeader>;

export const ERROR_CODES = ['CANCELLED', 'TIMEOUT', 'FFMPEG_FAILED', 'ENGINE_UNAVAILABLE', 'PROBE_FAILED'] as const satisfies readonly EngineErrorCode[];

const nullableNumber = z.number().finite().nullable();
const ProgressSchema = z.object({
  percentage: nullableNumber,
  stage: z.enum(STAGES),
  fps: nullableNumber,
  speed: nullableNumber,
  out_time_s: nullableNumber,
  eta_s: nullableNumber,
});

/** One line of a run's response. Unknown line types are ignored by clients (a newer worker may add some). */
export const RunLine = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), v: z.number().int() }),
  z.object({ type: z.literal('progress'), progress: ProgressSchema satisfies z.ZodType<Progress> }),
  z.object({ type: z.literal('heartbeat') }),
  z.object({
    type: z.literal('done'),
    log_tail: z.string(),
    outputs: z.array(FileEntry).max(MAX_FILES).refine(uniquePaths, 'duplicate path'),
  }),
  z.object({ type: z.literal('error'), code: z.enum(ERROR_CODES), message: z.string().max(1000), log_tail: z.string() }),
]);
export type RunLine = z.infer<typeof RunLine>;

const encoder = new TextEncoder();

export function encodeLine(value: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(value)}\n`);
}

export interface FrameSource {
  size: number;
  open(): ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>;
}

export class ProtocolError extends Error {
  constructor(
    message: string,
    /** The peer's stream ended early (a lost connection), as opposed to the peer saying something wrong. */
    readonly truncated = false,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/**
 * The header line, then each file's bytes in order. A file that yields more or fewer bytes than declared errors
 * the stream (the peer would otherwise misread every frame after it).
 */
export function frameBody(header: unknown, files: readonly FrameSource[]): ReadableStream<Uint8Array> {
  let index = -1;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let left = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (index === -1) {
        index = 0;
        controller.enqueue(encodeLine(header));
        return;
      }
      for (;;) {
        if (!reader) {
          const file = files[index];
          if (!file) {
            controller.close();
            return;
          }
          reader = (await file.open()).getReader();
          left = file.size;
        }
        const { value, done } = await reader.read();
        if (done) {
          if (left !== 0) throw new ProtocolError('a file ended before its declared size');
          reader = null;
          index += 1;
          continue;
        }
        if (value.byteLength > left) {
          await reader.cancel().catch(() => undefined);
          throw new ProtocolError('a file is longer than its declared size');
        }
        left -= value.byteLength;
        if (value.byteLength > 0) {
          controller.enqueue(value);
          return;
        }
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason).catch(() => undefined);
    },
  });
}

/** Reads a framed stream: lines up to a bound, and exact byte counts handed to a sink. */
export class FrameReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private buffer: Uint8Array = new Uint8Array(0);
  private ended = false;
  private readonly decoder = new TextDecoder();

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const { value, done } = await this.reader.read();
    if (done) {
      this.ended = true;
      return false;
    }
    if (this.buffer.byteLength === 0) this.buffer = value;
    else {
      const joined = new Uint8Array(this.buffer.byteLength + value.byteLength);
      joined.set(this.buffer);
      joined.set(value, this.buffer.byteLength);
      this.buffer = joined;
    }
    return true;
  }

  /** The next line without its newline; null at a clean end of stream. Throws past maxBytes or on a cut line. */
  async readLine(maxBytes = MAX_HEADER_BYTES): Promise<string | null> {
    let searched = 0;
    for (;;) {
      const newline = this.buffer.indexOf(10, searched);
      if (newline >= 0) {
        if (newline > maxBytes) throw new ProtocolError('line too long');
        const line = this.decoder.decode(this.buffer.subarray(0, newline));
        this.buffer = this.buffer.subarray(newline + 1);
        return line;
      }
      searched = this.buffer.byteLength;
      if (searched > maxBytes) throw new ProtocolError('line too long');
      if (!(await this.fill())) {
        if (this.buffer.byteLength === 0) return null;
        throw new ProtocolError('the stream ended inside a line', true);
      }
    }
  }

  /** Hands exactly `size` bytes to `write`, in order; throws if the stream ends first. */
  async readExactly(size: number, write: (chunk: Uint8Array) => Promise<void> | void): Promise<void> {
    let left = size;
    while (left > 0) {
      if (this.buffer.byteLength === 0 && !(await this.fill())) throw new ProtocolError('the stream ended inside a file', true);
      const take = Math.min(left, this.buffer.byteLength);
      const chunk = this.buffer.subarray(0, take);
      this.buffer = this.buffer.subarray(take);
      left -= take;
      await write(chunk);
    }
  }

  /** True when nothing follows. */
  async atEnd(): Promise<boolean> {
    return this.buffer.byteLength === 0 && !(await this.fill());
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.reader.cancel(reason).catch(() => undefined);
  }
}

/** Parses one JSON line with a schema; a ProtocolError names only the schema's complaint, never the peer's text. */
export function parseLine<T>(schema: z.ZodType<T>, line: string): T {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new ProtocolError('not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProtocolError(`invalid ${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
