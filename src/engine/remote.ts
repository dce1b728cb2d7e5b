/**
 * An Engine that runs ffmpeg on a native worker (container/) over HTTP, keeping the file-based Engine interface:
 * run() sends every file of the job's dir as the run's inputs, relays the worker's progress, and writes the files
 * the run produced back into the dir. One request per run; aborting it kills the remote ffmpeg.
 *
 * Failures of the worker itself (unreachable, busy, lost mid-run, silent past the idle limit, speaking something
 * else) are ENGINE_UNAVAILABLE, which the runner retries on another attempt; failures of the job are the worker's
 * own codes (FFMPEG_FAILED, TIMEOUT...).
 */
import { cachedUntilFailure } from './cached.js';
import {
  EngineError,
  type Engine,
  type EngineCapabilities,
  type ProbeResult,
  type RunResult,
  type RunSpec,
} from './engine.js';
import { listFiles, openFile, receiveFile, type ListedFile } from './remote-files.js';
import { frameBody, FrameReader, parseLine, PROTOCOL_VERSION, ProtocolError, RunLine, type ProbeHeader, type RunHeader } from './remote-protocol.js';

export interface RemoteEngineOptions {
  /** The worker's base URL, e.g. http://10.0.0.7:8788. */
  url: string;
  token: string;
  /** A worker that says nothing (no line, no byte) this long is taken as lost. Its heartbeat is 5 s by default. */
  idleTimeoutMs?: number;
  /** The time for a request to be answered with headers (capabilities, probe, the start of a run). */
  connectTimeoutMs?: number;
  fetch?: typeof fetch;
}

const DEFAULT_IDLE_MS = 30_000;
const DEFAULT_CONNECT_MS = 30_000;
// The worker enforces the job's timeout itself and says TIMEOUT; this margin only covers a worker that cannot.
const TIMEOUT_MARGIN_MS = 30_000;
const PROBE_TIMEOUT_MS = 60_000;

const MESSAGES = {
  unreachable: 'the worker could not be reached',
  busy: 'the worker has no free slot',
  refused: 'the worker refused the job',
  lost: 'the worker was lost during the run',
  silent: 'the worker stopped responding',
  protocol: 'the worker answered in an unknown way',
  files: 'the job has files that cannot be sent to a worker',
  cancelled: 'the job was cancelled',
  timeout: 'ffmpeg did not finish within the time limit',
  probe: 'the input could not be read as a media file',
} as const;

export function createRemoteEngine(options: RemoteEngineOptions): Engine {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_MS;
  const connectMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_MS;
  const authorization = `Bearer ${options.token}`;

  /** One exchange with the worker, whose reasons to stop are told apart afterwards. */
  function exchange(signal: AbortSignal | undefined, totalMs: number) {
    const controller = new AbortController();
    let reason: 'cancelled' | 'silent' | 'timeout' | null = null;
    const stop = (why: 'cancelled' | 'silent' | 'timeout') => {
      reason ??= why;
      controller.abort();
    };
    const onAbort = () => stop('cancelled');
    if (signal?.aborted) stop('cancelled');
    signal?.addEventListener('abort', onAbort, { once: true });
    let idle = setTimeout(() => stop('silent'), connectMs);
    const total = setTimeout(() => stop('timeout'), Math.min(2_147_483_647, totalMs));
    return {
      signal: controller.signal,
      /** The worker said something: the idle clock starts again. */
      alive() {
        clearTimeout(idle);
        idle = setTimeout(() => stop('silent'), idleMs);
      },
      /** The EngineError for something that went wrong during the exchange. */
      failure(error: unknown): EngineError {
        if (error instanceof EngineError) return error;
        if (reason === 'cancelled') return new EngineError('CANCELLED', MESSAGES.cancelled);
        if (reason === 'timeout') return new EngineError('TIMEOUT', MESSAGES.timeout);
        if (reason === 'silent') return new EngineError('ENGINE_UNAVAILABLE', MESSAGES.silent);
        if (error instanceof ProtocolError && !error.truncated) return new EngineError('ENGINE_UNAVAILABLE', MESSAGES.protocol);
        return new EngineError('ENGINE_UNAVAILABLE', MESSAGES.lost);
      },
      done() {
        clearTimeout(idle);
        clearTimeout(total);
        signal?.removeEventListener('abort', onAbort);
        // Lets go of a response body nobody will read.
        controller.abort();
      },
    };
  }

  /** A refusal before the run started: busy and auth problems are the worker's, the rest the job's. */
  async function refusal(response: Response): Promise<EngineError> {
    await response.body?.cancel().catch(() => undefined);
    if (response.status === 503 || response.status === 429) return new EngineError('ENGINE_UNAVAILABLE', MESSAGES.busy);
    if (response.status >= 500 || response.status === 401 || response.status === 403 || response.status === 404) {
      return new EngineError('ENGINE_UNAVAILABLE', MESSAGES.unreachable);
    }
    return new EngineError('FFMPEG_FAILED', MESSAGES.refused);
  }

  async function inputsOf(cwd: string, only?: string): Promise<{ files: ListedFile[]; dirs: string[] }> {
    const { files, dirs, unsafe } = await listFiles(cwd, { followLinks: true });
    const chosen = only === undefined ? files : files.filter((file) => file.path === only);
    if ((only === undefined && unsafe.length > 0) || (only !== undefined && chosen.length !== 1)) {
      throw new EngineError(only === undefined ? 'FFMPEG_FAILED' : 'PROBE_FAILED', MESSAGES.files);
    }
    return { files: chosen, dirs: only === undefined ? dirs : [] };
  }

  /** Sends the header and the files; every chunk sent counts as the exchange being alive (large inputs take long). */
  function post(path: string, header: RunHeader | ProbeHeader, files: ListedFile[], call: { signal: AbortSignal; alive(): void }): Promise<Response> {
    const tap = () =>
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          call.alive();
          controller.enqueue(chunk);
        },
      });
    return doFetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/vnd.ffedge.run' },
      body: frameBody(header, files.map((file) => ({ size: file.size, open: () => openFile(file.absolute).pipeThrough(tap()) }))),
      signal: call.signal,
      // A streamed request body (undici requires saying so).
      duplex: 'half',
    } as RequestInit);
  }

  async function run(spec: RunSpec): Promise<RunResult> {
    if (spec.signal.aborted) throw new EngineError('CANCELLED', MESSAGES.cancelled);
    const { files: inputs, dirs } = await inputsOf(spec.cwd);
    const header: RunHeader = {
      v: PROTOCOL_VERSION,
      args: spec.args,
      expected_duration_s: spec.expectedDurationS && spec.expectedDurationS > 0 ? spec.expectedDurationS : null,
      timeout_ms: Math.max(1, Math.min(48 * 3600_000, Math.floor(spec.timeoutMs))),
      inputs: inputs.map(({ path, size }) => ({ path, size })),
      dirs,
    };
    const call = exchange(spec.signal, header.timeout_ms + TIMEOUT_MARGIN_MS);
    try {
      const response = await post('/v1/run', header, inputs, call);
      if (!response.ok || !response.body) throw await refusal(response);
      call.alive();
      const frames = new FrameReader(response.body);
      for (;;) {
        const text = await frames.readLine();
        if (text === null) throw new ProtocolError('the stream ended before the run did', true);
        call.alive();
        const line = parseKnownLine(text);
        if (!line || line.type === 'started' || line.type === 'heartbeat') continue;
        if (line.type === 'progress') {
          try {
            spec.onProgress?.(line.progress);
          } catch {
            // A failing listener must not end the run; the native engine behaves the same.
          }
          continue;
        }
        if (line.type === 'error') throw new EngineError(line.code, line.message, line.log_tail);
        const taken = new Set(inputs.map((file) => file.path));
        for (const output of line.outputs) {
          if (taken.has(output.path)) throw new ProtocolError('an output would replace an input');
          await receiveFile(frames, spec.cwd, output.path, output.size, () => call.alive());
        }
        if (!(await frames.atEnd())) throw new ProtocolError('bytes after the last output');
        return { logTail: line.log_tail };
      }
    } catch (error) {
      throw call.failure(error);
    } finally {
      call.done();
    }
  }

  async function probe(file: string, probeOptions: { cwd: string; signal?: AbortSignal; timeoutMs?: number }): Promise<ProbeResult> {
    if (probeOptions.signal?.aborted) throw new EngineError('CANCELLED', MESSAGES.cancelled);
    const { files: inputs } = await inputsOf(probeOptions.cwd, file);
    const timeoutMs = Math.max(1, Math.min(3600_000, Math.floor(probeOptions.timeoutMs ?? PROBE_TIMEOUT_MS)));
    const header: ProbeHeader = { v: PROTOCOL_VERSION, file, timeout_ms: timeoutMs, inputs: inputs.map(({ path, size }) => ({ path, size })) };
    const call = exchange(probeOptions.signal, timeoutMs + TIMEOUT_MARGIN_MS);
    try {
      // The upload itself counts as activity; a probe answers with one JSON body at the end.
      call.alive();
      const response = await post('/v1/probe', header, inputs, call);
      if (response.status === 422) {
        const body = (await response.json().catch(() => null)) as { code?: string } | null;
        throw new EngineError(body?.code === 'TIMEOUT' ? 'TIMEOUT' : 'PROBE_FAILED', body?.code === 'TIMEOUT' ? MESSAGES.timeout : MESSAGES.probe);
      }
      if (!response.ok) throw await refusal(response);
      return (await response.json()) as ProbeResult;
    } catch (error) {
      throw call.failure(error);
    } finally {
      call.done();
    }
  }

  async function loadCapabilities(): Promise<EngineCapabilities> {
    const call = exchange(undefined, connectMs);
    try {
      const response = await doFetch(`${base}/v1/capabilities`, { headers: { authorization }, signal: call.signal });
      if (!response.ok) throw await refusal(response);
      const caps = (await response.json()) as EngineCapabilities;
      if (caps?.name !== 'native' || !Array.isArray(caps.encoders)) throw new ProtocolError('not capabilities');
      return caps;
    } catch (error) {
      const failure = call.failure(error);
      throw failure.code === 'ENGINE_UNAVAILABLE' ? failure : new EngineError('ENGINE_UNAVAILABLE', MESSAGES.unreachable);
    } finally {
      call.done();
    }
  }

  const capabilities = cachedUntilFailure(loadCapabilities);

  return {
    name: 'native',
    run,
    probe,
    capabilities,
  };
}

/** A line of a known type, or null for a type this version does not know (a newer worker may send more). */
function parseKnownLine(text: string): RunLine | null {
  let type: unknown;
  try {
    type = (JSON.parse(text) as { type?: unknown }).type;
  } catch {
    throw new ProtocolError('not JSON');
  }
  if (!['started', 'progress', 'heartbeat', 'done', 'error'].includes(String(type))) return null;
  return parseLine(RunLine, text);
}
