/**
 * The native worker: an HTTP service around the native engine that runs one ffmpeg invocation per request
 * (protocol in README.md here and in src/engine/remote-protocol.ts). A run's temp dir lives exactly as long as its
 * request: it is removed when the response ends, fails, or the client goes away (which also kills ffmpeg).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { EngineError, type Engine } from '../src/engine/engine.js';
import { listFiles, openFile, receiveFile } from '../src/engine/remote-files.js';
import {
  encodeLine,
  ERROR_CODES,
  FrameReader,
  parseLine,
  ProbeHeader,
  PROTOCOL_VERSION,
  ProtocolError,
  RunHeader,
  type FileEntry,
  type RunLine,
} from '../src/engine/remote-protocol.js';
import type { Logger } from '../src/platform.js';

export interface WorkerOptions {
  engine: Engine;
  /** The shared secret callers send as `Authorization: Bearer <token>`. */
  token: string;
  /** Parent of the per-run temp dirs (this process's own). */
  tmpRoot: string;
  /** Runs at once; one more is answered 503 before its body is read. */
  slots: number;
  /** The most input bytes one run may send. */
  inputLimitBytes: number;
  /** A heartbeat line while nothing else is said, so the caller can tell a quiet run from a lost worker. */
  heartbeatMs: number;
  log: Logger;
}

interface RefusalBody {
  code: string;
  message: string;
}

export function createWorkerApp(options: WorkerOptions) {
  const { engine, log } = options;
  const expected = digest(options.token);
  let running = 0;
  const app = new Hono();

  app.get('/health', (c) => c.json({ status: 'ok', protocol: PROTOCOL_VERSION, slots: options.slots, running }));

  app.use('/v1/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer (\S{1,512})$/.exec(header);
    // Digests have equal lengths, so the comparison takes the same time whatever was sent.
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      c.header('WWW-Authenticate', 'Bearer realm="ffedge-worker"');
      return refuse(c, 401, 'UNAUTHORIZED', 'A valid worker token is required.');
    }
    await next();
  });

  app.get('/v1/capabilities', async (c) => {
    try {
      return c.json(await engine.capabilities());
    } catch {
      return refuse(c, 503, 'ENGINE_UNAVAILABLE', 'ffmpeg is not available on this worker.');
    }
  });

  app.post('/v1/probe', async (c) => {
    const slot = take(c);
    if (slot instanceof Response) return slot;
    const dir = await mkdtemp(join(options.tmpRoot, 'probe-'));
    try {
      const received = await receive(c, dir, ProbeHeader);
      if (received instanceof Response) return received;
      const result = await engine.probe(received.file, { cwd: dir, signal: c.req.raw.signal, timeoutMs: received.timeout_ms });
      return c.json(result);
    } catch (error) {
      if (error instanceof EngineError) return refuse(c, 422, error.code, error.safeMessage);
      log.error('probe failed unexpectedly', { error: error instanceof Error ? error.message : String(error) });
      return refuse(c, 500, 'INTERNAL', 'The worker failed.');
    } finally {
      await rm(dir, { recursive: true, force: true });
      slot();
    }
  });

  app.post('/v1/run', async (c) => {
    const slot = take(c);
    if (slot instanceof Response) return slot;
    let dir: string | null = null;
    let streaming = false;
    try {
      dir = await mkdtemp(join(options.tmpRoot, 'run-'));
      const header = await receive(c, dir, RunHeader);
      if (header instanceof Response) return header;
      for (const path of header.dirs ?? []) await mkdir(join(dir, ...path.split('/')), { recursive: true });
      streaming = true;
      return c.body(stream(c.req.raw.signal, dir, header, slot), 200, {
        'content-type': 'application/x-ndjson',
        'cache-control': 'no-store',
      });
    } finally {
      if (!streaming) {
        if (dir) await rm(dir, { recursive: true, force: true });
        slot();
      }
    }
  });

  app.notFound((c) => refuse(c, 404, 'NOT_FOUND', 'No such route.'));
  app.onError((error, c) => {
    log.error('unhandled error', { error: error instanceof Error ? error.message : String(error) });
    return refuse(c, 500, 'INTERNAL', 'The worker failed.');
  });

  /** Reserves a slot, or answers 503 without reading the body. The release function is idempotent. */
  function take(c: Context): (() => void) | Response {
    if (running >= options.slots) {
      c.header('Retry-After', '1');
      return refuse(c, 503, 'BUSY', 'Every slot of this worker is taken.');
    }
    running += 1;
    let released = false;
    return () => {
      if (!released) running -= 1;
      released = true;
    };
  }

  /** Reads the header line and the declared input files into dir; a refusal Response when they are not acceptable. */
  async function receive<T extends { inputs: FileEntry[] }>(c: Context, dir: string, schema: z.ZodType<T>): Promise<T | Response> {
    const body = c.req.raw.body;
    if (!body) return refuse(c, 400, 'BAD_REQUEST', 'The request has no body.');
    const frames = new FrameReader(body);
    try {
      const line = await frames.readLine();
      if (line === null) return refuse(c, 400, 'BAD_REQUEST', 'The request has no header line.');
      const header = parseLine(schema, line);
      const total = header.inputs.reduce((sum, file) => sum + file.size, 0);
      if (total > options.inputLimitBytes) {
        return refuse(c, 413, 'INPUT_TOO_LARGE', `The inputs exceed the limit of ${options.inputLimitBytes} bytes.`);
      }
      for (const file of header.inputs) await receiveFile(frames, dir, file.path, file.size);
      if (!(await frames.atEnd())) return refuse(c, 400, 'BAD_REQUEST', 'The body is longer than its declared files.');
      return header;
    } catch (error) {
      if (error instanceof ProtocolError) return refuse(c, 400, 'BAD_REQUEST', `The request is not valid: ${error.message}.`);
      if (c.req.raw.signal.aborted) return refuse(c, 400, 'BAD_REQUEST', 'The request was aborted.');
      throw error;
    } finally {
      await frames.cancel();
    }
  }

  /** The NDJSON response of a run: ffmpeg starts when the client starts reading. */
  function stream(clientGone: AbortSignal, dir: string, header: RunHeader, release: () => void): ReadableStream<Uint8Array> {
    const stop = new AbortController();
    const onGone = () => stop.abort();
    clientGone.addEventListener('abort', onGone, { once: true });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    // A write fails once the client is gone; that failure is the signal to stop, so it must not go unhandled.
    const send = (line: RunLine) => writer.write(encodeLine(line)).catch(() => stop.abort());

    void (async () => {
      let quiet = Date.now();
      const heartbeat = setInterval(() => {
        if (Date.now() - quiet < options.heartbeatMs) return;
        quiet = Date.now();
        void send({ type: 'heartbeat' });
      }, Math.max(50, Math.floor(options.heartbeatMs / 2)));
      try {
        await send({ type: 'started', v: PROTOCOL_VERSION });
        let logTail: string;
        try {
          ({ logTail } = await engine.run({
            args: header.args,
            cwd: dir,
            expectedDurationS: header.expected_duration_s,
            timeoutMs: header.timeout_ms,
            signal: stop.signal,
            onProgress: (progress) => {
              quiet = Date.now();
              void send({ type: 'progress', progress });
            },
          }));
        } catch (error) {
          clearInterval(heartbeat);
          const failure =
            error instanceof EngineError
              ? { code: wireCode(error.code), message: error.safeMessage, log_tail: error.logTail }
              : { code: 'FFMPEG_FAILED' as const, message: 'ffmpeg could not process the input', log_tail: '' };
          if (!(error instanceof EngineError)) log.error('run failed unexpectedly', { error: error instanceof Error ? error.message : String(error) });
          await send({ type: 'error', ...failure });
          await writer.close().catch(() => undefined);
          return;
        }
        clearInterval(heartbeat);
        if (stop.signal.aborted) return;
        const inputs = new Set(header.inputs.map((file) => file.path));
        const outputs = (await listFiles(dir, { followLinks: false })).files.filter((file) => !inputs.has(file.path));
        await writer.write(encodeLine({ type: 'done', log_tail: logTail, outputs: outputs.map(({ path, size }) => ({ path, size })) }));
        for (const output of outputs) {
          // Exactly the announced size, even if the file were to change under us.
          let left = output.size;
          const reader = openFile(output.absolute).getReader();
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
        await rm(dir, { recursive: true, force: true });
        release();
      }
    })();

    return readable;
  }

  return { app, running: () => running };
}

export type WorkerApp = ReturnType<typeof createWorkerApp>;

function refuse(c: Context, status: 400 | 401 | 404 | 413 | 422 | 500 | 503, code: string, message: string): Response {
  return c.json({ code, message } satisfies RefusalBody, status);
}

/** An engine code the protocol knows; any other (a newer engine's) travels as FFMPEG_FAILED, not retried. */
function wireCode(code: string): (typeof ERROR_CODES)[number] {
  return (ERROR_CODES as readonly string[]).includes(code) ? (code as (typeof ERROR_CODES)[number]) : 'FFMPEG_FAILED';
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
