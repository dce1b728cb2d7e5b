/**
 * The engine protocol between an ffedge server and an engine service (container/README.md documents it for
 * operators): the native worker (container/), the Transcoder container (the same worker) and the wasm Worker
 * (wasm/worker.ts) serve it through protocol-server.ts; protocol-client.ts is its one client. One request per run, so
 * a run's whole life — inputs in, progress, outputs out, abort — is one HTTP exchange and its files go away with it.
 * Web-standard streams only (no node: imports), so a Worker or Durable Object can speak it too.
 *
 *   request body   <header JSON>\n<bytes of inputs[0]><bytes of inputs[1]>...        (sizes declared in the header)
 *   response body  NDJSON lines: started, progress*, heartbeat*, then `done` followed by the bytes of each listed
 *                  output, or `error`; the stream ends after that.
 */
import { z } from 'zod';
import { STAGES, type Progress } from '../media/progress-types.js';
import { ENGINE_ERROR_CODES, engineError, type EngineError, type EngineErrorCode, type SafeMessage } from './engine.js';

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

/** The codes an `error` line or a refusal may carry: the engine's own (RESOURCE_LIMIT since protocol 1.1). */
export const ERROR_CODES = ENGINE_ERROR_CODES;

/** An engine code the protocol knows; any other (a newer engine's) travels as FFMPEG_FAILED, not retried. */
export function wireCode(code: string): EngineErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code) ? (code as EngineErrorCode) : 'FFMPEG_FAILED';
}

/** A refusal's body: any status but 200. */
export interface Refusal {
  code: string;
  message: string;
}

const REFUSAL_CODES = new Set<string>(['PROBE_FAILED', 'TIMEOUT', 'CANCELLED', 'RESOURCE_LIMIT']);

/**
 * What a refusal (a status other than 200, before any run line) means for the job, the same for every client: the
 * job's own fault where the engine says so (too large for it, not media, ffmpeg failed), the engine's otherwise
 * (busy, not reachable, or not speaking this protocol), which another attempt elsewhere may not meet.
 */
export function refusalError(status: number, code: string | null): EngineError {
  if (status === 413 || code === 'INPUT_TOO_LARGE' || code === 'RESOURCE_LIMIT') return engineError('RESOURCE_LIMIT');
  if (status === 422) return engineError(code !== null && REFUSAL_CODES.has(code) ? (code as EngineErrorCode) : 'FFMPEG_FAILED');
  const why: SafeMessage = status === 503 || status === 429 ? 'busy' : status === 400 ? 'protocol' : 'unreachable';
  return engineError('ENGINE_UNAVAILABLE', '', why);
}

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

const LINE_TYPES = new Set(['started', 'progress', 'heartbeat', 'done', 'error']);

/** A line of a known type, or null for a type this version does not know (a newer peer may send more). */
export function parseKnownLine(text: string): RunLine | null {
  let type: unknown;
  try {
    type = (JSON.parse(text) as { type?: unknown }).type;
  } catch {
    throw new ProtocolError('not JSON');
  }
  if (!LINE_TYPES.has(String(type))) return null;
  return parseLine(RunLine, text);
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
