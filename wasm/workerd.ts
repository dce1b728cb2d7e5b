/**
 * The wasm engine inside workerd (Cloudflare Workers), for the Workers execution path: the same @ffmpeg/core and
 * session code as on Node, without threads or a file system. Workers may not compile WebAssembly at run time, so the
 * caller hands over the core's module as imported (`import wasm from '@ffmpeg/core/wasm'`, which wrangler bundles
 * as a compiled module). Files go in and come out as bytes; the job's blobs are the caller's business.
 *
 * One instance per isolate, reused; replaced after a crash of the core, or when its memory has grown past a share
 * of the isolate's, since WebAssembly memory never shrinks. A run is synchronous: nothing else runs in the isolate
 * meanwhile, and the only way to stop it early is the core's own time limit, checked between frames.
 */
import createFFmpegCore from '@ffmpeg/core';
import { EngineError, engineError, type EngineCapabilities, type ProbeResult } from '../src/engine/engine.js';
import { acceptProbe, parseListing, parseVersion, probeArgs } from '../src/engine/ffmpeg-output.js';
import type { Progress } from '../src/media/progress-types.js';
import { ProgressParser } from '../src/media/progress.js';
import { WASM_EXCLUDED } from './capabilities.js';
import {
  clearWorkDir,
  execute,
  instantiateCore,
  listFiles,
  makeDirs,
  memoryBytes,
  readFile,
  writeFiles,
  type FFmpegCore,
  type Tool,
} from './session.mjs';

export interface WorkerdWasmOptions {
  /** The core's compiled module, as imported. */
  module: WebAssembly.Module;
  /** The job's files and the core's memory together. Default 96 MiB, under the 128 MB of a Worker isolate. */
  memoryLimitBytes?: number;
}

export interface InMemoryRun {
  /** ffmpeg's arguments (the planner's), with paths relative to the job's directory. */
  args: string[];
  /** The job's input files by relative path. */
  files: ReadonlyMap<string, Uint8Array>;
  /** Directories the outputs go into. */
  dirs?: string[];
  expectedDurationS: number | null;
  /** The core stops the run after this long (between frames). */
  timeoutMs: number;
  onProgress?: (progress: Progress) => void;
}

export interface InMemoryResult {
  /** Every file the run created, by relative path. */
  outputs: Map<string, Uint8Array>;
  logTail: string;
}

export interface WorkerdWasm {
  readonly memoryLimitBytes: number;
  run(spec: InMemoryRun): Promise<InMemoryResult>;
  probe(name: string, bytes: Uint8Array): Promise<ProbeResult>;
  capabilities(): Promise<EngineCapabilities>;
  /** What the instance held at the end of the last run, its files included (its high-water mark); 0 before. */
  memoryBytes(): number;
}

const MIB = 1024 ** 2;
const TAIL_LINES = 100;
const LINE_CHARS = 1000;
/** An instance whose memory has grown past this share of the limit is replaced after its job. */
const RETIRE_SHARE = 0.6;

export function createWorkerdWasm(options: WorkerdWasmOptions): WorkerdWasm {
  const memoryLimitBytes = options.memoryLimitBytes ?? 96 * MIB;
  let instance: Promise<FFmpegCore> | null = null;
  let capabilities: Promise<EngineCapabilities> | null = null;
  let lastMemory = 0;

  function fresh(): Promise<FFmpegCore> {
    // The core is built for browser workers and reads self.location when it starts; nothing is loaded from it.
    const scope = globalThis as unknown as { self?: { location?: { href: string } } };
    if (scope.self && !scope.self.location) scope.self.location = { href: 'https://ffedge.invalid/' };
    return instantiateCore(createFFmpegCore, options.module);
  }

  async function core(): Promise<FFmpegCore> {
    if (!instance) {
      instance = fresh();
      instance.catch(() => {
        instance = null;
      });
    }
    return instance;
  }

  /** Runs on the shared instance; drops it when it crashed or grew too large. */
  async function runOn(tool: Tool, args: string[], files: ReadonlyMap<string, Uint8Array>, dirs: string[], timeoutMs: number, onStdout: (line: string) => void) {
    let total = 0;
    for (const bytes of files.values()) total += bytes.byteLength;
    const current = await core();
    if (current.HEAPU8.length + total > memoryLimitBytes) {
      throw new EngineError(
        'RESOURCE_LIMIT',
        `the input (${Math.ceil(total / MIB)} MiB) is too large for the wasm engine (memory limit ${Math.floor(memoryLimitBytes / MIB)} MiB)`,
      );
    }
    const tail: string[] = [];
    const outputs = new Map<string, Uint8Array>();
    let status: number;
    try {
      makeDirs(current, dirs);
      writeFiles(current, files);
      status = execute(current, tool, args, onStdout, (line) => {
        tail.push(line.slice(0, LINE_CHARS));
        if (tail.length > TAIL_LINES) tail.shift();
      }, timeoutMs);
      for (const [path] of listFiles(current)) if (!files.has(path)) outputs.set(path, readFile(current, path));
      const used = memoryBytes(current);
      lastMemory = used;
      clearWorkDir(current);
      if (used > memoryLimitBytes * RETIRE_SHARE) instance = null;
    } catch {
      // A trap inside the core: this instance is unusable, the next run gets a new one.
      instance = null;
      throw engineError('FFMPEG_FAILED', scrub(tail.join('\n')), 'crashed');
    }
    return { status, outputs, logTail: scrub(tail.join('\n')) };
  }

  return {
    memoryLimitBytes,
    async run(spec) {
      const parser = new ProgressParser(spec.expectedDurationS);
      const report = (reports: Progress[]) => reports.forEach((p) => spec.onProgress?.(p));
      const { status, outputs, logTail } = await runOn('ffmpeg', spec.args, spec.files, spec.dirs ?? [], spec.timeoutMs, (line) =>
        report(parser.feed(`${line}\n`)),
      );
      report(parser.finish());
      if (status !== 0) throw engineError('FFMPEG_FAILED', logTail);
      return { outputs, logTail };
    },
    async probe(name, bytes) {
      const lines: string[] = [];
      const { logTail } = await runOn('ffprobe', probeArgs(name), new Map([[name, bytes]]), [], 60_000, (line) => lines.push(line));
      // The core's ffprobe does not report an exit status; what it printed decides.
      return acceptProbe(lines.join('\n'), logTail);
    },
    capabilities() {
      // On an instance of their own, dropped afterwards: a listing leaves ffmpeg's log going to stdout.
      capabilities ??= (async () => {
        const lister = await fresh();
        const list = (flag: string) => {
          const lines: string[] = [];
          execute(lister, 'ffmpeg', ['-hide_banner', flag], (line) => lines.push(line), () => {});
          return lines.join('\n');
        };
        const drop = (kind: string, names: string[]) =>
          names.filter((name) => !WASM_EXCLUDED.some((e) => e.kind === kind && e.name === name));
        return {
          name: 'wasm' as const,
          version: `${parseVersion(list('-version'))} (@ffmpeg/core)`,
          encoders: drop('encoder', parseListing(list('-encoders'))),
          decoders: drop('decoder', parseListing(list('-decoders'))),
          filters: drop('filter', parseListing(list('-filters'))),
          muxers: drop('muxer', parseListing(list('-muxers'))),
        };
      })();
      capabilities.catch(() => {
        capabilities = null;
      });
      return capabilities;
    },
    memoryBytes() {
      return lastMemory;
    },
  };
}

/** The core's work dir reads as <job>, and heap addresses are dropped, as in native log tails. */
function scrub(text: string): string {
  return text.replace(/(^|[\s'"`=(\[,:;<])\/job(?=\/|\b)/gm, '$1<job>').replace(/\[([\w-]+) @ 0x[0-9a-f]+\]/g, '[$1]');
}
