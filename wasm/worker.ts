/**
 * The wasm Worker (wasm/wrangler.toml): ffmpeg.wasm (@ffmpeg/core, imported as a compiled module) behind the native
 * worker's HTTP protocol (src/engine/remote-protocol.ts), so the JobCoordinator drives it exactly as it drives the
 * Transcoder container. It is a Worker of its own because the core is 32 MB (10 MB gzipped): the API Worker, bound
 * to this one as WASM, stays small.
 *
 *   GET  /health            liveness
 *   GET  /v1/capabilities   what the core encodes, decodes, filters and muxes (without what it cannot really run)
 *   POST /v1/probe          header line + the input's bytes -> ffprobe's result as JSON
 *   POST /v1/run            header line + the inputs' bytes -> NDJSON: started, progress..., done + the outputs'
 *                           bytes, or error
 *
 * Everything a job touches is in memory (a Worker has no disk): the declared input sizes are checked against the
 * engine's memory limit before a byte is read (413 otherwise), and a run's outputs are held until they are sent.
 * ffmpeg runs synchronously, so its progress lines go out when the run ends, and a cancel (the caller closing the
 * connection) is seen then; the run is bounded by the job's time limit, which the core checks between frames, and
 * by the Worker's CPU limit. Only reachable through the service binding (workers_dev = false, no route); with
 * FFEDGE_WORKER_TOKEN set it also wants the token, like the native worker.
 */
import wasmModule from '@ffmpeg/core/wasm';
import type { z } from 'zod';
import { EngineError, type EngineErrorCode } from '../src/engine/engine.js';
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
import { createWorkerdWasm } from './workerd.js';

interface Env {
  FFEDGE_WORKER_TOKEN?: string;
}

const engine = createWorkerdWasm({ module: wasmModule });

const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
const refuse = (status: number, code: string, message: string) => json({ code, message }, status);

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (request.method === 'GET' && pathname === '/health') return json({ status: 'ok', protocol: PROTOCOL_VERSION });
    if (!pathname.startsWith('/v1/')) return refuse(404, 'NOT_FOUND', 'No such route.');
    if (!(await authorised(request, env))) return refuse(401, 'UNAUTHORIZED', 'A valid worker token is required.');
    try {
      if (request.method === 'GET' && pathname === '/v1/capabilities') return json(await engine.capabilities());
      if (request.method === 'POST' && pathname === '/v1/probe') return await probe(request);
      if (request.method === 'POST' && pathname === '/v1/run') return await run(request);
      return refuse(404, 'NOT_FOUND', 'No such route.');
    } catch (error) {
      if (error instanceof EngineError) return refuse(error.code === 'RESOURCE_LIMIT' ? 413 : 422, error.code, error.safeMessage);
      console.error(JSON.stringify({ level: 'error', message: 'wasm worker failed', error: error instanceof Error ? error.message : String(error) }));
      return refuse(500, 'INTERNAL', 'The worker failed.');
    }
  },
} satisfies ExportedHandler<Env>;

async function authorised(request: Request, env: Env): Promise<boolean> {
  const expected = env.FFEDGE_WORKER_TOKEN;
  if (!expected) return true;
  const match = /^Bearer (\S{1,512})$/.exec(request.headers.get('authorization') ?? '');
  if (!match) return false;
  // Digests have equal lengths, so the comparison takes the same time whatever was sent.
  const digest = async (text: string) => crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  const [a, b] = await Promise.all([digest(match[1]!), digest(expected)]);
  return (crypto.subtle as unknown as { timingSafeEqual(a: ArrayBuffer, b: ArrayBuffer): boolean }).timingSafeEqual(a, b);
}

/** The header line and the declared files, into memory; a refusal Response when they cannot be accepted. */
async function receive<T extends { inputs: FileEntry[] }>(
  request: Request,
  schema: z.ZodType<T>,
): Promise<{ header: T; files: Map<string, Uint8Array> } | Response> {
  if (!request.body) return refuse(400, 'BAD_REQUEST', 'The request has no body.');
  const frames = new FrameReader(request.body);
  try {
    const line = await frames.readLine();
    if (line === null) return refuse(400, 'BAD_REQUEST', 'The request has no header line.');
    const header = parseLine(schema, line);
    const total = header.inputs.reduce((sum, file) => sum + file.size, 0);
    if (total > engine.memoryLimitBytes) {
      return refuse(413, 'INPUT_TOO_LARGE', `The inputs exceed what the wasm engine can hold (${engine.memoryLimitBytes} bytes).`);
    }
    const files = new Map<string, Uint8Array>();
    for (const file of header.inputs) {
      const bytes = new Uint8Array(file.size);
      let offset = 0;
      await frames.readExactly(file.size, (chunk) => {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      });
      files.set(file.path, bytes);
    }
    if (!(await frames.atEnd())) return refuse(400, 'BAD_REQUEST', 'The body is longer than its declared files.');
    return { header, files };
  } catch (error) {
    if (error instanceof ProtocolError) return refuse(400, 'BAD_REQUEST', `The request is not valid: ${error.message}.`);
    throw error;
  } finally {
    await frames.cancel();
  }
}

async function probe(request: Request): Promise<Response> {
  const received = await receive<ProbeHeader>(request, ProbeHeader);
  if (received instanceof Response) return received;
  const bytes = received.files.get(received.header.file);
  if (!bytes) return refuse(400, 'BAD_REQUEST', 'The probed file is not among the inputs.');
  return json(await engine.probe(received.header.file, bytes));
}

async function run(request: Request): Promise<Response> {
  const received = await receive<RunHeader>(request, RunHeader);
  if (received instanceof Response) return received;
  const { header, files } = received;
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  // A write fails once the caller is gone; nothing is left to tell it then.
  const send = (line: RunLine) => writer.write(encodeLine(line)).catch(() => undefined);

  const work = (async () => {
    await send({ type: 'started', v: PROTOCOL_VERSION });
    let result: Awaited<ReturnType<typeof engine.run>>;
    try {
      result = await engine.run({
        args: header.args,
        files,
        dirs: header.dirs ?? [],
        expectedDurationS: header.expected_duration_s,
        timeoutMs: header.timeout_ms,
        onProgress: (progress) => void send({ type: 'progress', progress }),
      });
    } catch (error) {
      const failure =
        error instanceof EngineError
          ? { code: wireCode(error.code), message: error.safeMessage, log_tail: error.logTail }
          : { code: 'FFMPEG_FAILED' as const, message: 'ffmpeg could not process the input', log_tail: '' };
      await send({ type: 'error', ...failure });
      await writer.close().catch(() => undefined);
      return;
    }
    files.clear();
    const outputs = [...result.outputs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await writer.write(encodeLine({ type: 'done', log_tail: result.logTail, outputs: outputs.map(([path, bytes]) => ({ path, size: bytes.byteLength })) }));
    for (const [path, bytes] of outputs) {
      await writer.write(bytes);
      result.outputs.delete(path);
    }
    await writer.close();
  })().catch(async (error: unknown) => {
    await writer.abort(error).catch(() => undefined);
  });
  void work;

  return new Response(readable, { status: 200, headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' } });
}

/** A code the protocol knows; any other travels as FFMPEG_FAILED (not retried). */
function wireCode(code: EngineErrorCode): (typeof ERROR_CODES)[number] {
  return (ERROR_CODES as readonly string[]).includes(code) ? (code as (typeof ERROR_CODES)[number]) : 'FFMPEG_FAILED';
}
