/**
 * The one client of the engine protocol (protocol.ts), used wherever a job runs on an engine it reaches over HTTP:
 * the fleet's native workers (Node), and on Workers the Transcoder container and the wasm Worker. It works on
 * streams: inputs are read from wherever `open()` gets them (a blob's body) straight into the request, and outputs
 * are handed on as streams of exactly their size (into the blob store), so nothing is written to a disk and no file
 * is held whole in memory, and a Durable Object can drive a job with it. Web-standard APIs only.
 *
 * An engine is reached through an EngineEndpoint: one `fetch` function (the Transcoder's, a service binding's, or
 * plain fetch to a worker's URL: httpEndpoint) and the bearer token it wants.
 *
 * What the engine says is checked against the protocol's schemas; its free text never reaches a client: failures
 * become an EngineError with the words of engine.ts (the engine's scrubbed log tail is kept for the job's log).
 * Failures of the engine itself (unreachable, busy, lost mid-run, silent, speaking something else) are
 * ENGINE_UNAVAILABLE, which another attempt may not meet; failures of the job are the engine's own codes.
 */
import { clampTimer, engineError, EngineError, type EngineCapabilities, type EngineName, type ProbeResult, type SafeMessage } from './engine.js';
import {
  FrameReader,
  PROTOCOL_VERSION,
  ProtocolError,
  frameBody,
  parseKnownLine,
  refusalError,
  type FrameSource,
  type ProbeHeader,
  type RunHeader,
} from './protocol.js';
import type { Progress } from '../media/progress-types.js';
import { ProbeResultSchema } from '../schemas/probe.js';

export interface EngineEndpoint {
  name: EngineName;
  /**
   * One HTTP exchange with the engine's service; the URL's path is what matters, the host is the endpoint's.
   * `signal` is the exchange's own (the request's follows it, but only while the Request object lives: undici links
   * them through a weak reference, so a fetch made from a copy must take this one).
   */
  fetch(request: Request, signal: AbortSignal): Promise<Response>;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /**
   * Nothing either way (no request byte sent, no response byte received) for this long, and the run is taken as
   * lost; null for no limit (the wasm Worker cannot speak while ffmpeg runs; the job's time limit bounds it).
   */
  silenceMs: number | null;
  /** Called once the attempt is over, when the engine holds something for this job alone (its container). */
  release?(): Promise<void>;
}

/** A worker reached by URL with the runtime's fetch (the fleet's native workers). */
export function httpEndpoint(options: {
  url: string;
  token: string;
  /** The worker sends a heartbeat every 5 s by default; this much silence means it is gone. Default 30 s. */
  silenceMs?: number;
  fetch?: typeof fetch;
}): EngineEndpoint {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  return {
    name: 'native',
    token: options.token,
    silenceMs: options.silenceMs ?? 30_000,
    fetch: (request, signal) => {
      const { pathname, search } = new URL(request.url);
      return doFetch(`${base}${pathname}${search}`, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
        duplex: 'half',
      } as RequestInit);
    },
  };
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
  /** Directories the outputs go into, parents first. */
  dirs?: string[];
  signal: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /**
   * Called once per output file, in order, with a stream of exactly `size` bytes. The output is fully consumed
   * (or the run fails) before the next one is offered; a consumer that does not want a file must still read it.
   * A consumer's own failure fails the run as itself, not as the engine's.
   */
  onOutput: (output: { path: string; size: number; body: ReadableStream<Uint8Array> }) => Promise<void>;
}

// The engine enforces a run's time limit itself and says TIMEOUT; this margin only covers one that cannot.
const TIMEOUT_MARGIN_MS = 30_000;
const CAPABILITIES_TIMEOUT_MS = 30_000;

/** A consumer's failure, carried through the exchange so that it is not mistaken for the engine's. */
class ConsumerFailure extends Error {
  constructor(readonly reason: unknown) {
    super('the consumer of an output failed');
  }
}

/**
 * One exchange with an engine: the caller's cancel, silence from the engine and the time limit end it, and its
 * failures are told apart afterwards.
 */
function exchange(endpoint: EngineEndpoint, signal: AbortSignal | undefined, totalMs: number) {
  const controller = new AbortController();
  let reason: 'cancelled' | 'silent' | 'timeout' | null = null;
  let answered = false;
  // The request of the exchange, held until it ends: its signal follows ours only while the Request is alive.
  let held: Request | null = null;
  const stop = (why: 'cancelled' | 'silent' | 'timeout') => {
    reason ??= why;
    controller.abort();
  };
  const onAbort = () => stop('cancelled');
  if (signal?.aborted) stop('cancelled');
  signal?.addEventListener('abort', onAbort, { once: true });
  let idle: ReturnType<typeof setTimeout> | undefined;
  const alive = () => {
    if (endpoint.silenceMs === null) return;
    clearTimeout(idle);
    idle = setTimeout(() => stop('silent'), clampTimer(endpoint.silenceMs));
  };
  alive();
  const total = setTimeout(() => stop('timeout'), clampTimer(totalMs));

  return {
    signal: controller.signal,
    alive,
    /** Sends a request on the exchange; every request byte that leaves counts as the exchange being alive. */
    async send(path: string, body: ReadableStream<Uint8Array> | null): Promise<Response> {
      const tapped = body?.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, sink) {
            alive();
            sink.enqueue(chunk);
          },
        }),
      );
      // The host is never resolved: the endpoint decides where the request goes; only the path matters to the peer.
      const request = new Request(`http://engine${path}`, {
        method: tapped ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${endpoint.token}`, ...(tapped ? { 'content-type': 'application/vnd.ffedge.run' } : {}) },
        body: tapped ?? null,
        signal: controller.signal,
        // A streamed request body (undici requires saying so; workerd ignores it).
        duplex: 'half',
      } as RequestInit);
      held = request;
      const response = await endpoint.fetch(held, controller.signal);
      answered = true;
      alive();
      return response;
    },
    /** The EngineError (or the consumer's own error) for something that went wrong during the exchange. */
    failure(error: unknown): unknown {
      if (error instanceof ConsumerFailure) return error.reason;
      if (reason === 'cancelled') return engineError('CANCELLED');
      if (reason === 'timeout') return engineError('TIMEOUT');
      if (reason === 'silent') return engineError('ENGINE_UNAVAILABLE', '', 'silent');
      if (error instanceof EngineError) return error;
      const why: SafeMessage = !answered ? 'unreachable' : error instanceof ProtocolError && !error.truncated ? 'protocol' : 'lost';
      return engineError('ENGINE_UNAVAILABLE', '', why);
    },
    done() {
      clearTimeout(idle);
      clearTimeout(total);
      signal?.removeEventListener('abort', onAbort);
      // Lets go of a response body nobody will read.
      controller.abort();
      held = null;
    },
  };
}

/** A refusal (any status but 200) as an EngineError; the body's code only, never its words. */
async function refused(response: Response): Promise<EngineError> {
  const body = (await response.json().catch(() => null)) as { code?: unknown } | null;
  return refusalError(response.status, typeof body?.code === 'string' ? body.code : null);
}

/** ffprobe on the engine: the input is streamed in, the probe comes back as JSON. */
export async function probeRemote(
  endpoint: EngineEndpoint,
  input: StreamInput,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<ProbeResult> {
  const header: ProbeHeader = {
    v: PROTOCOL_VERSION,
    file: input.path,
    timeout_ms: Math.max(1, Math.min(3600_000, Math.floor(options.timeoutMs))),
    inputs: [{ path: input.path, size: input.size }],
  };
  const call = exchange(endpoint, options.signal, header.timeout_ms + TIMEOUT_MARGIN_MS);
  try {
    const response = await call.send('/v1/probe', frameBody(header, [input]));
    if (response.status !== 200) throw await refused(response);
    const parsed = ProbeResultSchema.safeParse(await response.json().catch(() => null));
    if (!parsed.success) throw new ProtocolError('not a probe result');
    return parsed.data;
  } catch (error) {
    throw call.failure(error);
  } finally {
    call.done();
  }
}

/**
 * One ffmpeg run on the engine: inputs streamed in, NDJSON progress out, then each output's bytes. Resolves with
 * the log tail once every output was handed to onOutput; rejects with EngineError (CANCELLED when `signal` aborted).
 */
export async function runRemote(endpoint: EngineEndpoint, run: StreamRun): Promise<{ logTail: string }> {
  const header: RunHeader = {
    v: PROTOCOL_VERSION,
    args: run.args,
    expected_duration_s: run.expectedDurationS && run.expectedDurationS > 0 ? run.expectedDurationS : null,
    timeout_ms: Math.max(1, Math.min(48 * 3600_000, Math.floor(run.timeoutMs))),
    inputs: run.inputs.map(({ path, size }) => ({ path, size })),
    ...(run.dirs && run.dirs.length > 0 ? { dirs: run.dirs } : {}),
  };
  const call = exchange(endpoint, run.signal, header.timeout_ms + TIMEOUT_MARGIN_MS);
  let frames: FrameReader | null = null;
  try {
    const response = await call.send('/v1/run', frameBody(header, run.inputs));
    if (response.status !== 200 || !response.body) throw await refused(response);
    frames = new FrameReader(response.body);
    for (;;) {
      const text = await frames.readLine();
      if (text === null) throw new ProtocolError('the stream ended before the run did', true);
      call.alive();
      const line = parseKnownLine(text);
      if (!line) continue;
      switch (line.type) {
        case 'started':
        case 'heartbeat':
          continue;
        case 'progress':
          try {
            run.onProgress?.(line.progress);
          } catch {
            // A failing listener must not end the run; the local engines behave the same.
          }
          continue;
        case 'error':
          throw engineError(line.code, line.log_tail);
        case 'done': {
          const inputs = new Set(run.inputs.map((input) => input.path));
          for (const output of line.outputs) {
            if (inputs.has(output.path)) throw new ProtocolError('an output would replace an input');
            await handOver(frames, output, run.onOutput, call.alive);
          }
          if (!(await frames.atEnd())) throw new ProtocolError('bytes after the last output');
          return { logTail: line.log_tail };
        }
      }
    }
  } catch (error) {
    throw call.failure(error);
  } finally {
    call.done();
    await frames?.cancel();
  }
}

/** What the engine's ffmpeg encodes, decodes, filters and muxes (GET /v1/capabilities). */
export async function capabilitiesOf(endpoint: EngineEndpoint, signal?: AbortSignal): Promise<EngineCapabilities> {
  const call = exchange(endpoint, signal, CAPABILITIES_TIMEOUT_MS);
  try {
    const response = await call.send('/v1/capabilities', null);
    if (response.status !== 200) throw await refused(response);
    const caps = (await response.json().catch(() => null)) as Partial<EngineCapabilities> | null;
    const lists = ['encoders', 'decoders', 'filters', 'muxers'] as const;
    if (!caps || (caps.name !== 'native' && caps.name !== 'wasm') || !lists.every((key) => Array.isArray(caps[key]))) {
      throw new ProtocolError('not capabilities');
    }
    return caps as EngineCapabilities;
  } catch (error) {
    const failure = call.failure(error);
    // Whatever went wrong, capabilities that cannot be read mean an engine that cannot be used now.
    throw failure instanceof EngineError && failure.code === 'ENGINE_UNAVAILABLE' ? failure : engineError('ENGINE_UNAVAILABLE', '', 'unreachable');
  } finally {
    call.done();
  }
}

/** Streams exactly `size` bytes of the response to the consumer; the consumer's failure fails the run as itself. */
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
    throw new ConsumerFailure(error);
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
  // The consumer's failure is the cause when both fail (the pump then only saw the stream it fed go away).
  const [consumer, pump] = await Promise.allSettled([watched, pumped]);
  if (consumer.status === 'rejected') throw consumer.reason;
  if (pump.status === 'rejected') throw pump.reason;
}
