/**
 * The server side of the engine protocol (protocol.ts), shared by every engine service: the native worker
 * (container/service.ts: files in a temp dir, native ffmpeg) and the wasm Worker (wasm/worker.ts: files in memory,
 * @ffmpeg/core). A service is a web-standard `fetch` handler, so it runs under @hono/node-server, Deno and workerd.
 *
 *   GET  /health            liveness, without a token
 *   GET  /v1/capabilities   what the engine encodes, decodes, filters and muxes
 *   POST /v1/probe          header line + the input's bytes -> ffprobe's result as JSON
 *   POST /v1/run            header line + the inputs' bytes -> NDJSON: started, progress..., heartbeats, then
 *                           `done` and the outputs' bytes, or `error`
 *
 * A run's files live exactly as long as its request: they go when the response ends, fails, or the client goes
 * away (which also stops ffmpeg). A refusal (any status but 200) carries `{ code, message }`, never an engine's text.
 */
import type { Logger } from '../platform.js';
import type { z } from 'zod';
import { EngineError, type EngineCapabilities, type ProbeResult } from './engine.js';
import type { Progress } from '../media/progress-types.js';
import {
  encodeLine,
  FrameReader,
  parseLine,
  ProbeHeader,
  PROTOCOL_VERSION,
  ProtocolError,
  RunHeader,
  wireCode,
  type FileEntry,
  type Refusal,
  type RunLine,
} from './protocol.js';

/** One run's files: on a disk, or in memory. */
export interface RunFiles {
  /** Takes the next `size` bytes of the request as the file `path` (a safe relative path); never replaces a file. */
  receive(path: string, size: number, frames: FrameReader): Promise<void>;
  /** Directories the outputs go into, parents first. */
  makeDirs(dirs: string[]): Promise<void>;
  run(header: RunHeader, signal: AbortSignal, onProgress: (progress: Progress) => void): Promise<{ logTail: string }>;
  probe(file: string, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult>;
  /** The files the run made (not its inputs), in path order, each readable once at its listed size. */
  outputs(inputs: ReadonlySet<string>): Promise<{ path: string; size: number; open(): ReadableStream<Uint8Array> }[]>;
  /** Removes every file; called once, on every path. */
  close(): Promise<void>;
}

export interface EngineBackend {
  capabilities(): Promise<EngineCapabilities>;
  /** A place for one run's files; `kind` names it for operators (run-..., probe-...). */
  open(kind: 'run' | 'probe'): Promise<RunFiles>;
  /** The most input bytes one run may send: more is refused with 413 before a byte of it is read. */
  inputLimitBytes: number;
}

export interface EngineServiceOptions {
  backend: EngineBackend;
  /** The shared secret callers send as `Authorization: Bearer <token>`; null: none (reachable through a binding only). */
  token: string | null;
  /** Runs and probes at once; one more is answered 503 before its body is read. */
  slots: number;
  /** A heartbeat line while nothing else is said, so the caller can tell a quiet run from a lost engine. */
  heartbeatMs: number;
  log: Logger;
}

export interface EngineService {
  fetch(request: Request): Promise<Response>;
  /** Runs and probes in progress. */
  running(): number;
}

const encoder = new TextEncoder();

export function createEngineService(options: EngineServiceOptions): EngineService {
  const { backend, log } = options;
  let running = 0;
  let expected: Promise<Uint8Array> | null = null;

  async function authorised(request: Request): Promise<boolean> {
    if (options.token === null) return true;
    const match = /^Bearer (\S{1,512})$/.exec(request.headers.get('authorization') ?? '');
    if (!match) return false;
    expected ??= digest(options.token);
    // Digests have equal lengths, so the comparison takes the same time whatever was sent.
    const [given, wanted] = await Promise.all([digest(match[1]!), expected]);
    let difference = 0;
    for (let i = 0; i < wanted.length; i++) difference |= given[i]! ^ wanted[i]!;
    return difference === 0;
  }

  /** Reserves a slot; the release function is idempotent. Null when every slot is taken. */
  function take(): (() => void) | null {
    if (running >= options.slots) return null;
    running += 1;
    let released = false;
    return () => {
      if (!released) running -= 1;
      released = true;
    };
  }

  /** Reads the header line and the declared inputs into `files`; a refusal Response when they are not acceptable. */
  async function receive<T extends { inputs: FileEntry[] }>(request: Request, files: RunFiles, schema: z.ZodType<T>): Promise<T | Response> {
    if (!request.body) return refuse(400, 'BAD_REQUEST', 'The request has no body.');
    const frames = new FrameReader(request.body);
    try {
      const line = await frames.readLine();
      if (line === null) return refuse(400, 'BAD_REQUEST', 'The request has no header line.');
      const header = parseLine(schema, line);
      const total = header.inputs.reduce((sum, file) => sum + file.size, 0);
      if (total > backend.inputLimitBytes) {
        return refuse(413, 'INPUT_TOO_LARGE', `The inputs exceed the limit of ${backend.inputLimitBytes} bytes.`);
      }
      for (const file of header.inputs) await files.receive(file.path, file.size, frames);
      if (!(await frames.atEnd())) return refuse(400, 'BAD_REQUEST', 'The body is longer than its declared files.');
      return header;
    } catch (error) {
      if (error instanceof ProtocolError) return refuse(400, 'BAD_REQUEST', `The request is not valid: ${error.message}.`);
      if (request.signal.aborted) return refuse(400, 'BAD_REQUEST', 'The request was aborted.');
      throw error;
    } finally {
      await frames.cancel();
    }
  }

  async function probe(request: Request): Promise<Response> {
    const release = take();
    if (!release) return busy();
    let files: RunFiles | null = null;
    try {
      files = await backend.open('probe');
      const header = await receive(request, files, ProbeHeader);
      if (header instanceof Response) return header;
      if (!header.inputs.some((input) => input.path === header.file)) return refuse(400, 'BAD_REQUEST', 'The probed file is not among the inputs.');
      return Response.json(await files.probe(header.file, header.timeout_ms, request.signal));
    } catch (error) {
      return failed(error, 'probe');
    } finally {
      await files?.close();
      release();
    }
  }

  async function run(request: Request): Promise<Response> {
    const release = take();
    if (!release) return busy();
    let files: RunFiles | null = null;
    let streaming = false;
    try {
      files = await backend.open('run');
      const header = await receive(request, files, RunHeader);
      if (header instanceof Response) return header;
      await files.makeDirs(header.dirs ?? []);
      streaming = true;
      return new Response(respond(request.signal, files, header, release), {
        status: 200,
        headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' },
      });
    } catch (error) {
      return failed(error, 'run');
    } finally {
      if (!streaming) {
        await files?.close();
        release();
      }
    }
  }

  /** The NDJSON response of a run: ffmpeg starts when the client starts reading. */
  function respond(clientGone: AbortSignal, files: RunFiles, header: RunHeader, release: () => void): ReadableStream<Uint8Array> {
    const stop = new AbortController();
    const onGone = () => stop.abort();
    clientGone.addEventListener('abort', onGone, { once: true });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    // A write fails once the client is gone; that failure is the signal to stop, so it must not go unhandled.
    let quiet = Date.now();
    const send = (line: RunLine) => {
      quiet = Date.now();
      return writer.write(encodeLine(line)).catch(() => stop.abort());
    };

    void (async () => {
      const heartbeat = setInterval(() => {
        if (Date.now() - quiet >= options.heartbeatMs) void send({ type: 'heartbeat' });
      }, Math.max(50, Math.floor(options.heartbeatMs / 2)));
      try {
        await send({ type: 'started', v: PROTOCOL_VERSION });
        let logTail: string;
        try {
          ({ logTail } = await files.run(header, stop.signal, (progress) => void send({ type: 'progress', progress })));
        } catch (error) {
          clearInterval(heartbeat);
          if (!(error instanceof EngineError)) log.error('run failed unexpectedly', { error: error instanceof Error ? error.message : String(error) });
          const failure =
            error instanceof EngineError
              ? { code: wireCode(error.code), message: error.safeMessage, log_tail: error.logTail }
              : { code: 'FFMPEG_FAILED' as const, message: 'ffmpeg could not process the input', log_tail: '' };
          await send({ type: 'error', ...failure });
          await writer.close().catch(() => undefined);
          return;
        }
        clearInterval(heartbeat);
        if (stop.signal.aborted) return;
        const inputs = new Set(header.inputs.map((file) => file.path));
        const outputs = await files.outputs(inputs);
        await writer.write(encodeLine({ type: 'done', log_tail: logTail, outputs: outputs.map(({ path, size }) => ({ path, size })) }));
        for (const output of outputs) {
          // Exactly the announced size, even if the file were to change under us.
          let left = output.size;
          const reader = output.open().getReader();
          try {
            while (left > 0) {
              const { value, done } = await reader.read();
              if (done) throw new Error('an output shrank while it was sent');
              const chunk = value.byteLength > left ? value.subarray(0, left) : value;
              left -= chunk.byteLength;
              await writer.write(chunk);
            }
          } finally {
            await reader.cancel().catch(() => undefined);
          }
        }
        await writer.close();
      } catch (error) {
        // The client went away (or an output could not be read): the response ends cut, which the client reads as
        // a lost run.
        stop.abort();
        await writer.abort(error).catch(() => undefined);
      } finally {
        clearInterval(heartbeat);
        clientGone.removeEventListener('abort', onGone);
        await files.close().catch((error: unknown) => log.warn('run files not removed', { error: String(error) }));
        release();
      }
    })();

    return readable;
  }

  function failed(error: unknown, what: string): Response {
    if (error instanceof EngineError) return refuse(error.code === 'RESOURCE_LIMIT' ? 413 : 422, error.code, error.safeMessage);
    log.error(`${what} failed unexpectedly`, { error: error instanceof Error ? error.message : String(error) });
    return refuse(500, 'INTERNAL', 'The engine failed.');
  }

  return {
    running: () => running,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (request.method === 'GET' && pathname === '/health') {
        return Response.json({ status: 'ok', protocol: PROTOCOL_VERSION, slots: options.slots, running });
      }
      if (!pathname.startsWith('/v1/')) return refuse(404, 'NOT_FOUND', 'No such route.');
      if (!(await authorised(request))) {
        const response = refuse(401, 'UNAUTHORIZED', 'A valid engine token is required.');
        response.headers.set('www-authenticate', 'Bearer realm="ffedge-engine"');
        return response;
      }
      try {
        if (request.method === 'GET' && pathname === '/v1/capabilities') {
          return await backend.capabilities().then(
            (capabilities) => Response.json(capabilities),
            () => refuse(503, 'ENGINE_UNAVAILABLE', 'ffmpeg is not available on this engine.'),
          );
        }
        if (request.method === 'POST' && pathname === '/v1/probe') return await probe(request);
        if (request.method === 'POST' && pathname === '/v1/run') return await run(request);
        return refuse(404, 'NOT_FOUND', 'No such route.');
      } catch (error) {
        log.error('engine service failed', { error: error instanceof Error ? error.message : String(error) });
        return refuse(500, 'INTERNAL', 'The engine failed.');
      }
    },
  };
}

function refuse(status: number, code: string, message: string): Response {
  return Response.json({ code, message } satisfies Refusal, { status });
}

function busy(): Response {
  const response = refuse(503, 'BUSY', 'Every slot of this engine is taken.');
  response.headers.set('retry-after', '1');
  return response;
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}
