/**
 * The wasm engine on Node: @ffmpeg/core (single-threaded ffmpeg compiled to WebAssembly) in worker threads, behind
 * the same Engine interface as native ffmpeg. It needs no ffmpeg on the host, and runs what the core can (DESIGN.md,
 * "Engines and routing"); routing (src/media/routing.ts) decides which jobs come here.
 *
 * - ffmpeg runs off the event loop, in a worker thread (thread.mjs) holding one core instance. Instances are reused
 *   (a small pool) and replaced after a number of runs or when their memory has grown, because WebAssembly memory
 *   never shrinks. The module is compiled once and shared by every thread.
 * - The core reads and writes files in memory only, so every input is held whole in memory: a job whose files do not
 *   fit under the memory cap is refused before it starts, and one that outgrows the cap while running is stopped.
 * - Cancel, timeout and the memory cap stop a job by terminating its thread (which also interrupts WebAssembly);
 *   the next job gets a fresh thread. A job's promise settles only after its thread has exited.
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { cachedUntilFailure } from '../src/engine/cached.js';
import {
  clampTimer,
  engineError,
  EngineError,
  type Engine,
  type EngineCapabilities,
  type EngineErrorCode,
  type ProbeResult,
  type RunResult,
  type RunSpec,
} from '../src/engine/engine.js';
import { listFiles } from '../src/engine/files.js';
import { acceptProbe, parseListing, parseVersion, probeArgs } from '../src/engine/ffmpeg-output.js';
import { LineRing, pathScrubber, type NativeEngineLog } from '../src/engine/native.js';
import { ProgressParser } from '../src/media/progress.js';
import { WASM_EXCLUDED, type ExcludedCapability } from './capabilities.js';

export interface WasmEngineOptions {
  /** Worker threads (core instances) at most; jobs beyond wait for one. Default 1. */
  maxThreads?: number;
  /** Per thread: the core's memory plus the job's files. Default 1 GiB (the core itself stops at 2 GiB). */
  memoryLimitBytes?: number;
  /** An idle thread is ended after this long. Default 60 s. */
  idleMs?: number;
  /** A thread is replaced after this many runs, to bound what a long-lived instance accumulates. Default 25. */
  maxRunsPerThread?: number;
  /** How long a new thread may take to load the core. Default 60 s. */
  startTimeoutMs?: number;
  log?: NativeEngineLog;
}

export interface WasmThreadInfo {
  id: number;
  state: 'starting' | 'idle' | 'busy' | 'exited';
  runs: number;
  /** The core's memory plus its files, as last reported (at the end of a job: its high-water mark). */
  memoryBytes: number;
}

export interface WasmEngine extends Engine {
  readonly name: 'wasm';
  readonly memoryLimitBytes: number;
  /** Threads alive now, and the most recent ones that exited (for tests and diagnostics). */
  threads(): WasmThreadInfo[];
  /** Ends every thread; running jobs fail with ENGINE_UNAVAILABLE. */
  close(): Promise<void>;
}

const SILENT: NativeEngineLog = { info() {}, warn() {}, error() {} };
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const PROBE_TIMEOUT_MS = 60_000;
const PROBE_OUTPUT_BYTES = 4 * MIB;
const LISTING_TIMEOUT_MS = 60_000;
/** What an idle core instance holds before any job: its initial linear memory. */
const INSTANCE_BASE_BYTES = 48 * MIB;
/** A thread whose memory has grown past this share of the cap is replaced after its job. */
const RETIRE_SHARE = 0.5;
const EXITED_KEPT = 32;

type Tool = 'ffmpeg' | 'ffprobe';

/** Messages from thread.mjs. */
type ThreadMessage =
  | { type: 'ready'; memory: number }
  | { type: 'line'; id: number; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'memory'; id: number; bytes: number }
  | { type: 'done'; id: number; status: number; outputs: string[]; memory: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'crashed'; id: number; message: string };

interface Task {
  tool: Tool;
  args: string[];
  cwd: string;
  /** Files (relative to cwd) copied into the core, and directories made there (outputs may go into them). */
  files: string[];
  dirs: string[];
  collectOutputs: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  onStdout?: (line: string) => void;
  onStderr?: (line: string) => void;
}

interface JobFiles {
  files: string[];
  dirs: string[];
}

interface TaskResult {
  status: number;
  outputs: string[];
}

interface Thread {
  id: number;
  worker: Worker;
  state: WasmThreadInfo['state'];
  runs: number;
  memory: number;
  /** Settles when the thread exits, whatever the reason. */
  exited: Promise<void>;
  idleTimer?: ReturnType<typeof setTimeout>;
  /** The job running on it; told about every message and about the thread's end. */
  listener: ((event: ThreadMessage | { type: 'exit'; error: Error | null }) => void) | null;
}

export function createWasmEngine(options: WasmEngineOptions = {}): WasmEngine {
  const maxThreads = Math.max(1, options.maxThreads ?? 1);
  const memoryLimitBytes = Math.min(2 * GIB, Math.max(INSTANCE_BASE_BYTES * 2, options.memoryLimitBytes ?? GIB));
  const idleMs = options.idleMs ?? 60_000;
  const maxRuns = Math.max(1, options.maxRunsPerThread ?? 25);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const log = options.log ?? SILENT;

  let closed = false;
  let nextThreadId = 1;
  let nextTaskId = 1;
  /** Threads being started: they count against maxThreads before they are live. */
  let starting = 0;
  const live = new Set<Thread>();
  const exitedThreads: WasmThreadInfo[] = [];
  const idle: Thread[] = [];
  const waiting: { resolve: (thread: Thread) => void; reject: (error: Error) => void }[] = [];

  const hasRoom = () => live.size + starting < maxThreads;

  async function startThread(): Promise<Thread> {
    starting += 1;
    try {
      return await launch();
    } finally {
      starting -= 1;
    }
  }

  async function launch(): Promise<Thread> {
    const wasmModule = await compile().catch((error: unknown) => {
      log.error('wasm core could not be compiled', { error: String(error) });
      throw unavailable();
    });
    if (closed) throw unavailable();
    const worker = new Worker(new URL('./thread.mjs', import.meta.url), {
      workerData: { wasmModule },
      // The JS heap holds little (the core's memory and files are outside it); this bounds a runaway anyway.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
      stdout: true,
      stderr: true,
    });
    let markExited!: () => void;
    const thread: Thread = {
      id: nextThreadId++,
      worker,
      state: 'starting',
      runs: 0,
      memory: 0,
      exited: new Promise<void>((resolve) => (markExited = resolve)),
      listener: null,
    };
    live.add(thread);
    worker.on('message', (message: ThreadMessage) => {
      if (message.type === 'memory' || message.type === 'done' || message.type === 'ready') {
        thread.memory = 'bytes' in message ? message.bytes : message.memory;
      }
      thread.listener?.(message);
    });
    let failure: Error | null = null;
    worker.on('error', (error) => {
      failure = error;
      log.warn('wasm thread failed', { thread: thread.id, error: error.message });
    });
    worker.on('exit', () => {
      thread.state = 'exited';
      clearTimeout(thread.idleTimer);
      live.delete(thread);
      const at = idle.indexOf(thread);
      if (at >= 0) idle.splice(at, 1);
      exitedThreads.push({ id: thread.id, state: 'exited', runs: thread.runs, memoryBytes: thread.memory });
      if (exitedThreads.length > EXITED_KEPT) exitedThreads.shift();
      markExited();
      thread.listener?.({ type: 'exit', error: failure });
    });
    // The thread's own output is the core's, which goes through the logger; anything else is dropped.
    worker.stdout.resume();
    worker.stderr.resume();

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        thread.listener = null;
        void worker.terminate();
        reject(unavailable());
      }, startTimeoutMs);
      thread.listener = (event) => {
        if (event.type === 'ready') {
          clearTimeout(timer);
          thread.listener = null;
          resolve();
        } else if (event.type === 'exit') {
          clearTimeout(timer);
          thread.listener = null;
          log.error('wasm thread did not start', { error: event.error?.message });
          reject(unavailable());
        }
      };
    });
    return thread;
  }

  /** An idle thread, a new one while under maxThreads, or the next one released. */
  async function acquire(signal?: AbortSignal): Promise<Thread> {
    if (closed) throw unavailable();
    const ready = idle.pop();
    if (ready) {
      clearTimeout(ready.idleTimer);
      ready.worker.ref();
      ready.state = 'busy';
      return ready;
    }
    if (hasRoom()) {
      const thread = await startThread();
      thread.state = 'busy';
      return thread;
    }
    return new Promise<Thread>((resolve, reject) => {
      const waiter = {
        resolve: (thread: Thread) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(thread);
        },
        reject: (error: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        const at = waiting.indexOf(waiter);
        if (at >= 0) waiting.splice(at, 1);
        reject(engineError('CANCELLED'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.push(waiter);
    });
  }

  /** Gives a thread back after a job: to a waiting job, to the idle list, or to retirement. */
  function release(thread: Thread, healthy: boolean): void {
    thread.listener = null;
    const retire = !healthy || closed || thread.runs >= maxRuns || thread.memory > memoryLimitBytes * RETIRE_SHARE;
    if (retire) {
      void thread.worker.terminate();
      // A job waiting for a thread starts one now that there is room.
      void thread.exited.then(handOffToWaiter);
      return;
    }
    const next = waiting.shift();
    if (next) {
      next.resolve(thread);
      return;
    }
    thread.state = 'idle';
    thread.worker.unref();
    thread.idleTimer = setTimeout(() => void thread.worker.terminate(), idleMs);
    thread.idleTimer.unref?.();
    idle.push(thread);
  }

  function handOffToWaiter(): void {
    if (waiting.length === 0 || !hasRoom() || closed) return;
    const next = waiting.shift()!;
    startThread().then(
      (thread) => {
        thread.state = 'busy';
        next.resolve(thread);
      },
      (error: Error) => next.reject(error),
    );
  }

  /** Runs one task on a thread of the pool. Rejects with EngineError only after a thread it stopped has exited. */
  async function runTask(task: Task): Promise<TaskResult> {
    if (task.signal?.aborted) throw engineError('CANCELLED');
    const thread = await acquire(task.signal);
    return runOn(thread, task, 'release');
  }

  /** `after`: give the thread back, end it, or keep it for the caller's next task (on success). */
  function runOn(thread: Thread, task: Task, after: 'release' | 'retire' | 'keep'): Promise<TaskResult> {
    const id = nextTaskId++;
    thread.runs += 1;
    return new Promise<TaskResult>((resolve, reject) => {
      let settled = false;
      let stopping: EngineErrorCode | null = null;
      const cleanup = () => {
        clearTimeout(timer);
        task.signal?.removeEventListener('abort', onAbort);
      };
      const stop = (code: EngineErrorCode) => {
        if (stopping || settled) return;
        stopping = code;
        log.info('wasm job stopped', { reason: code, thread: thread.id });
        void thread.worker.terminate();
      };
      const onAbort = () => stop('CANCELLED');
      const timer = setTimeout(() => stop('TIMEOUT'), clampTimer(task.timeoutMs));
      task.signal?.addEventListener('abort', onAbort, { once: true });

      thread.listener = (event) => {
        if (settled) return;
        if (event.type === 'exit') {
          settled = true;
          cleanup();
          const code = stopping ?? (event.error && isOutOfMemory(event.error) ? 'RESOURCE_LIMIT' : 'FFMPEG_FAILED');
          void handOffToWaiter();
          reject(engineError(code, '', code === 'FFMPEG_FAILED' ? 'crashed' : code));
          return;
        }
        if (!('id' in event) || event.id !== id || stopping) return;
        switch (event.type) {
          case 'line':
            (event.stream === 'stdout' ? task.onStdout : task.onStderr)?.(event.text);
            return;
          case 'memory':
            if (event.bytes > memoryLimitBytes) stop('RESOURCE_LIMIT');
            return;
          case 'done':
            settled = true;
            cleanup();
            if (after === 'keep') thread.listener = null;
            else release(thread, after === 'release');
            resolve({ status: event.status, outputs: event.outputs });
            return;
          case 'failed':
            settled = true;
            cleanup();
            release(thread, after === 'release');
            log.warn('wasm job could not start', { thread: thread.id, error: event.message });
            reject(engineError('FFMPEG_FAILED'));
            return;
          case 'crashed':
            // The instance is unusable: end the thread; the exit event settles the job.
            log.warn('wasm core crashed', { thread: thread.id, error: event.message });
            stopping = 'FFMPEG_FAILED';
            void thread.worker.terminate();
            return;
        }
      };
      thread.worker.postMessage({
        type: 'run',
        id,
        tool: task.tool,
        args: task.args,
        cwd: task.cwd,
        files: task.files,
        dirs: task.dirs,
        collectOutputs: task.collectOutputs,
      });
    });
  }

  /** The job's files and their total size; refuses what cannot fit in the core's memory with room to work. */
  async function inputsOf(cwd: string, only?: string[]): Promise<JobFiles> {
    const found = only ? { files: only, dirs: [] } : await listDir(cwd);
    let total = 0;
    for (const file of found.files) total += (await stat(join(cwd, file))).size;
    if (INSTANCE_BASE_BYTES + total > memoryLimitBytes) {
      log.info('wasm job refused: input too large', { bytes: total, limit: memoryLimitBytes });
      throw new EngineError(
        'RESOURCE_LIMIT',
        `the input (${Math.ceil(total / MIB)} MiB) is too large for the wasm engine (memory limit ${Math.floor(memoryLimitBytes / MIB)} MiB)`,
      );
    }
    return found;
  }

  async function run(spec: RunSpec): Promise<RunResult> {
    if (spec.signal.aborted) throw engineError('CANCELLED');
    const { files, dirs } = await inputsOf(spec.cwd);
    const parser = new ProgressParser(spec.expectedDurationS);
    const stderr = new LineRing(100, 1000);
    const report = (reports: ReturnType<ProgressParser['finish']>) => {
      for (const progress of reports) {
        try {
          spec.onProgress?.(progress);
        } catch (error) {
          log.warn('progress listener failed', { error: String(error) });
        }
      }
    };
    const scrub = scrubber(spec.cwd);
    let result: TaskResult;
    try {
      result = await runTask({
        tool: 'ffmpeg',
        args: spec.args,
        cwd: spec.cwd,
        files,
        dirs,
        collectOutputs: true,
        timeoutMs: spec.timeoutMs,
        signal: spec.signal,
        onStdout: (line) => report(parser.feed(`${line}\n`)),
        onStderr: (line) => stderr.push(`${line}\n`),
      });
    } catch (error) {
      if (error instanceof EngineError) throw new EngineError(error.code, error.safeMessage, scrub(stderr.text()));
      throw error;
    }
    report(parser.finish());
    const logTail = scrub(stderr.text());
    if (result.status !== 0) {
      log.warn('wasm ffmpeg failed', { status: result.status });
      throw engineError('FFMPEG_FAILED', logTail);
    }
    return { logTail };
  }

  async function probe(file: string, probeOptions: { cwd: string; signal?: AbortSignal; timeoutMs?: number }): Promise<ProbeResult> {
    const { files } = await inputsOf(probeOptions.cwd, [file]).catch((error: unknown) => {
      if (error instanceof EngineError) throw error;
      throw engineError('PROBE_FAILED');
    });
    const stdout: string[] = [];
    let bytes = 0;
    const stderr = new LineRing(100, 1000);
    await runTask({
      tool: 'ffprobe',
      args: probeArgs(file),
      cwd: probeOptions.cwd,
      files,
      dirs: [],
      collectOutputs: false,
      timeoutMs: probeOptions.timeoutMs ?? PROBE_TIMEOUT_MS,
      ...(probeOptions.signal ? { signal: probeOptions.signal } : {}),
      onStdout: (line) => {
        bytes += line.length + 1;
        if (bytes <= PROBE_OUTPUT_BYTES) stdout.push(line);
      },
      onStderr: (line) => stderr.push(`${line}\n`),
    });
    if (bytes > PROBE_OUTPUT_BYTES) throw engineError('PROBE_FAILED');
    // The core's ffprobe does not report an exit status; what it printed decides.
    return acceptProbe(stdout.join('\n'), scrubber(probeOptions.cwd)(stderr.text()));
  }

  /**
   * ffmpeg's listings, one after the other on one thread, which is then ended: a listing option leaves ffmpeg's log
   * going to stdout, unfiltered, for every later run of that instance.
   */
  async function listings(flags: string[]): Promise<string[]> {
    const thread = await acquire();
    const texts: string[] = [];
    try {
      for (const flag of flags) {
        const lines: string[] = [];
        const { status } = await runOn(
          thread,
          {
            tool: 'ffmpeg',
            args: ['-hide_banner', flag],
            cwd: '/',
            files: [],
            dirs: [],
            collectOutputs: false,
            timeoutMs: LISTING_TIMEOUT_MS,
            onStdout: (line) => lines.push(line),
          },
          'keep',
        );
        if (status !== 0) throw unavailable();
        texts.push(lines.join('\n'));
      }
    } finally {
      if (thread.state !== 'exited') release(thread, false);
    }
    return texts;
  }

  async function loadCapabilities(): Promise<EngineCapabilities> {
    const [encoders = '', decoders = '', filters = '', muxers = '', version = ''] = await listings([
      '-encoders',
      '-decoders',
      '-filters',
      '-muxers',
      '-version',
    ]);
    const drop = (kind: ExcludedCapability['kind'], names: string[]) => {
      const excluded = new Set(WASM_EXCLUDED.filter((entry) => entry.kind === kind).map((entry) => entry.name));
      return names.filter((name) => !excluded.has(name));
    };
    return {
      name: 'wasm',
      version: `${parseVersion(version)} (@ffmpeg/core)`,
      encoders: drop('encoder', parseListing(encoders)),
      decoders: drop('decoder', parseListing(decoders)),
      filters: drop('filter', parseListing(filters)),
      muxers: drop('muxer', parseListing(muxers)),
    };
  }

  return {
    name: 'wasm',
    memoryLimitBytes,
    run,
    probe,
    capabilities() {
      // The same core everywhere in the process: one listing serves every engine instance.
      capabilities ??= cachedUntilFailure(loadCapabilities);
      return capabilities();
    },
    threads() {
      const alive = [...live].map((t) => ({ id: t.id, state: t.state, runs: t.runs, memoryBytes: t.memory }));
      return [...exitedThreads, ...alive].sort((a, b) => a.id - b.id);
    },
    async close() {
      closed = true;
      for (const waiter of waiting.splice(0)) waiter.reject(unavailable());
      const threads = [...live];
      await Promise.all(threads.map((t) => t.worker.terminate()));
      await Promise.all(threads.map((t) => t.exited));
    },
  };
}

// One compiled module and one capability listing per process, whatever the number of engines (tests make many).
let capabilities: (() => Promise<EngineCapabilities>) | null = null;

/** Compiles the core's 32 MB module once; every thread instantiates it, which takes tens of milliseconds. */
const compile = cachedUntilFailure(async () => WebAssembly.compile(await readFile(createRequire(import.meta.url).resolve('@ffmpeg/core/wasm'))));

function unavailable(): EngineError {
  return engineError('ENGINE_UNAVAILABLE');
}

function isOutOfMemory(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
}

/** The core's work dir is the job's temp dir under another name: both read as <job> in a log tail. */
function scrubber(cwd: string): (text: string) => string {
  const scrub = pathScrubber(cwd);
  return (text) => scrub(text.replace(/(^|[\s'"`=(\[,:;<])\/job(?=\/|\b)/gm, '$1<job>'));
}

/**
 * The regular files of a job's temp dir, recursively, as paths relative to it, and its directories. A symbolic link
 * to a file (a `local:` input) counts as the file; links to directories and anything that is not a file are skipped.
 */
async function listDir(root: string): Promise<JobFiles> {
  const { files, dirs } = await listFiles(root, { followLinks: true });
  return { files: files.map((file) => file.path), dirs };
}
