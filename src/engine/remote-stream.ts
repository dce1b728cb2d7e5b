/**
 * A client of the native worker's protocol (remote-protocol.ts) that works on streams instead of files: inputs are
 * read from wherever `open()` gets them (an R2 object's body) straight into the request, and outputs are handed on
 * as streams of exactly their size (into R2). Nothing is written to a disk and no file is held whole in memory, so
 * a Durable Object can drive a job with it. Web-standard APIs only.
 *
 * The peer is reached through one `fetch` function: on Workers that is the Transcoder container's `fetch` or the
 * wasm Worker's service binding, which speak the same protocol.
 *
 * What the peer says is checked against the protocol's schemas; its free text never reaches a client: failures
 * become an EngineError with this module's own words (the peer's scrubbed log tail is kept for the job's log).
 */
import { z } from 'zod';
import { EngineError, type EngineErrorCode, type ProbeResult } from './engine.js';
import {
  FrameReader,
  PROTOCOL_VERSION,
  ProtocolError,
  RunLine,
  frameBody,
  parseLine,
  type FrameSource,
  type ProbeHeader,
  type RunHeader,
} from './remote-protocol.js';
import type { Progress } from '../media/progress-types.js';

export interface StreamEndpoint {
  /** One HTTP exchange with the engine's service. */
  fetch(request: Request): Promise<Response>;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
}

export interface StreamInput extends FrameSource {
  /** The input's protocol path in the run dir (the planner's file name). */
  path: string;
}

export interface StreamRun {
  args: string[];
  expectedDurationS: number | null;
  timeoutMs: number;
  inputs: StreamInput[];
  signal: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** Every line the engine sends (progress, heartbeat): it is alive. */
  onAlive?: () => void;
  /**
   * Called once per output file, in order, with a stream of exactly `size` bytes. The output is fully consumed
   * (or the run fails) before the next one is offered; a consumer that does not want a file must still read it.
   */
  onOutput: (output: { path: string; size: number; body: ReadableStream<Uint8Array> }) => Promise<void>;
  /** Fail as lost when the engine says nothing for this long; null for no limit (a peer that cannot speak while it works). */
  silenceMs: number | null;
}

const SAFE: Record<EngineErrorCode, string> = {
  CANCELLED: 'the job was cancelled',
  TIMEOUT: 'ffmpeg did not finish within the time limit',
  FFMPEG_FAILED: 'ffmpeg could not process the input',
  ENGINE_UNAVAILABLE: 'the engine is not available',
  PROBE_FAILED: 'the input could not be read as a media file',
  RESOURCE_LIMIT: 'the job needs more resources than the engine may use',
};

const engineError = (code: EngineErrorCode, logTail = '') => new EngineError(code, SAFE[code], logTail);

const Refusal = z.object({ code: z.string().max(64), message: z.string().max(1000) }).passthrough();

const ProbeStreamSchema = z.object({
  index: z.number().int(),
  type: z.enum(['video', 'audio', 'subtitle', 'data', 'attachment']),
  codec: z.string().nullable(),
  width: z.number().optional(),
  height: z.number().optional(),
  fps: z.number().nullable().optional(),
  sample_rate: z.number().optional(),
  channels: z.number().optional(),
  duration_s: z.number().nullable().optional(),
  bit_rate: z.number().nullable().optional(),
});
const ProbeResultSchema = z.object({
  format: z.string().nullable(),
  duration_s: z.number().nullable(),
  size: z.number().nullable(),
  bit_rate: z.number().nullable(),
  streams: z.array(ProbeStreamSchema).max(1024),
}) satisfies z.ZodType<ProbeResult>;

/** An engine's refusal (any status but 200) as an EngineError. */
async function refusal(response: Response): Promise<EngineError> {
  const parsed = Refusal.safeParse(await response.json().catch(() => null));
  const code = parsed.success ? parsed.data.code : '';
  if (response.status === 413 || code === 'INPUT_TOO_LARGE' || code === 'RESOURCE_LIMIT') return engineError('RESOURCE_LIMIT');
  if (response.status === 422 && (code === 'PROBE_FAILED' || code === 'TIMEOUT' || code === 'CANCELLED')) return engineError(code);
  if (response.status === 422) return engineError('FFMPEG_FAILED');
  // 401 (a token mismatch), 503 (busy, or no container instance yet), 500 (the container did not start): another
  // attempt may find it working.
  return engineError('ENGINE_UNAVAILABLE');
}

function request(endpoint: StreamEndpoint, path: string, body: ReadableStream<Uint8Array>, signal: AbortSignal): Request {
  // The host is never resolved: the binding decides where the request goes; only the path matters to the peer.
  return new Request(`http://engine${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${endpoint.token}`, 'content-type': 'application/octet-stream' },
    body,
    signal,
  });
}

async function send(endpoint: StreamEndpoint, req: Request, signal: AbortSignal): Promise<Response> {
  try {
    return await endpoint.fetch(req);
  } catch (error) {
    if (signal.aborted) throw engineError('CANCELLED');
    if (error instanceof ProtocolError) throw error;
    throw engineError('ENGINE_UNAVAILABLE');
  }
}

/** ffprobe on the engine: the input is streamed in, the probe comes back as JSON. */
export async function probeRemote(
  endpoint: StreamEndpoint,
  input: StreamInput,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<ProbeResult> {
  const header: ProbeHeader = {
    v: PROTOCOL_VERSION,
    file: input.path,
    timeout_ms: Math.max(1, Math.min(3600_000, Math.floor(options.timeoutMs))),
    inputs: [{ path: input.path, size: input.size }],
  };
  const response = await send(endpoint, request(endpoint, '/v1/probe', frameBody(header, [input]), options.signal), options.signal);
  if (response.status !== 200) throw await refusal(response);
  const parsed = ProbeResultSchema.safeParse(await response.json().catch(() => null));
  if (!parsed.success) throw engineError('ENGINE_UNAVAILABLE');
  return parsed.data;
}

/**
 * One ffmpeg run on the engine: inputs streamed in, NDJSON progress out, then each output's bytes. Resolves with
 * the log tail once every output was handed to onOutput; rejects with EngineError (CANCELLED when `signal` aborted).
 */
export async function runRemote(endpoint: StreamEndpoint, run: StreamRun): Promise<{ logTail: string }> {
  const header: RunHeader = {
    v: PROTOCOL_VERSION,
    args: run.args,
    expected_duration_s: run.expectedDurationS && run.expectedDurationS > 0 ? run.expectedDurationS : null,
    timeout_ms: Math.max(1, Math.min(48 * 3600_000, Math.floor(run.timeoutMs))),
    inputs: run.inputs.map(({ path, size }) => ({ path, size })),
  };
  // One controller for the exchange: the caller's cancel, or silence from the engine, ends it.
  const exchange = new AbortController();
  const onAbort = () => exchange.abort();
  run.signal.addEventListener('abort', onAbort, { once: true });
  let silent: ReturnType<typeof setTimeout> | undefined;
  let lost = false;
  const alive = () => {
    if (run.silenceMs === null) return;
    clearTimeout(silent);
    silent = setTimeout(() => {
      lost = true;
      exchange.abort();
    }, run.silenceMs);
  };
  const fail = (error: unknown): never => {
    if (run.signal.aborted) throw engineError('CANCELLED');
    if (lost) throw engineError('ENGINE_UNAVAILABLE');
    if (error instanceof EngineError) throw error;
    // A cut or malformed response: the engine (or the connection to it) was lost; another attempt may work.
    throw engineError('ENGINE_UNAVAILABLE');
  };

  let frames: FrameReader | null = null;
  try {
    alive();
    const response = await send(endpoint, request(endpoint, '/v1/run', frameBody(header, run.inputs), exchange.signal), exchange.signal);
    if (response.status !== 200 || !response.body) throw await refusal(response);
    frames = new FrameReader(response.body);
    for (;;) {
      const text = await frames.readLine();
      if (text === null) throw new ProtocolError('the run ended without a result');
      alive();
      const line = parseLineLenient(text);
      if (!line) continue;
      run.onAlive?.();
      switch (line.type) {
        case 'started':
        case 'heartbeat':
          continue;
        case 'progress':
          run.onProgress?.(line.progress);
          continue;
        case 'error':
          throw new EngineError(line.code, SAFE[line.code], line.log_tail);
        case 'done': {
          for (const output of line.outputs) {
            await handOver(frames, output, run.onOutput, alive);
          }
          if (!(await frames.atEnd())) throw new ProtocolError('bytes after the last output');
          return { logTail: line.log_tail };
        }
      }
    }
  } catch (error) {
    return fail(error);
  } finally {
    clearTimeout(silent);
    run.signal.removeEventListener('abort', onAbort);
    exchange.abort();
    await frames?.cancel();
  }
}

/** A line of a known type, or null for a type this client does not know (a newer peer's); throws when malformed. */
function parseLineLenient(text: string): RunLine | null {
  try {
    return parseLine(RunLine, text);
  } catch (error) {
    const type = (() => {
      try {
        return (JSON.parse(text) as { type?: unknown }).type;
      } catch {
        return undefined;
      }
    })();
    if (typeof type === 'string' && !['started', 'progress', 'heartbeat', 'done', 'error'].includes(type)) return null;
    throw error;
  }
}

/** Streams exactly `size` bytes of the response to the consumer; the consumer's failure fails the run. */
async function handOver(
  frames: FrameReader,
  output: { path: string; size: number },
  consume: StreamRun['onOutput'],
  alive: () => void,
): Promise<void> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const consumed = consume({ path: output.path, size: output.size, body: readable });
  // If the consumer gives up, the pump's next write fails instead of waiting for a reader that is gone.
  const watched = consumed.catch(async (error: unknown) => {
    await writer.abort(error).catch(() => undefined);
    throw error;
  });
  const pumped = (async () => {
    try {
      await frames.readExactly(output.size, async (chunk) => {
        alive();
        await writer.write(chunk);
      });
      await writer.close();
    } catch (error) {
      await writer.abort(error).catch(() => undefined);
      throw error;
    }
  })();
  await Promise.all([watched, pumped]);
}
