/**
 * The native engine: the ffmpeg and ffprobe binaries of the host, spawned with an argv array (never a shell),
 * stdin closed, and killed at once on cancel or timeout. Nothing the binaries print reaches a client unless it
 * went through the path scrubbing below.
 *
 * On Linux under Node every binary is started through `setpriv --pdeathsig KILL`, so the kernel kills it the moment
 * the process that owns its attempt dies, even by SIGKILL: an ffmpeg never outlives its job's owner and never
 * writes on while another process re-runs the job. (Not under Deno, whose runtime may spawn from a thread that ends
 * before the child does; there, and wherever setpriv is missing, the startup sweep of a dead process's workspace
 * ends what it left running: killOrphans below.)
 *
 * VMAF: a run whose filter graph uses libvmaf goes to a second binary built with it (FFEDGE_VMAF_FFMPEG_PATH), with
 * its models linked into the run's dir (libvmaf.ts); the engine lists libvmaf among its filters only when that
 * binary answers with the libvmaf the planner speaks and the models are there.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, readlink } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { ProgressParser } from '../media/progress.js';
import { LIBVMAF } from '../media/quality.js';
import { cachedUntilFailure } from './cached.js';
import {
  clampTimer,
  engineError,
  type Engine,
  type EngineCapabilities,
  type ProbeResult,
  type RunResult,
  type RunSpec,
} from './engine.js';
import { acceptProbe, parseListing, parseVersion, probeArgs } from './ffmpeg-output.js';
import { isPlannedLibvmaf, linkModels, modelsPresent, usesLibvmaf, vmafFromEnv, type VmafBinary } from './libvmaf.js';

export { parseListing, parseProbeOutput } from './ffmpeg-output.js';

/** The shape of the platform's Logger port; fields never carry argv, paths or ffmpeg output. */
export interface NativeEngineLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const SILENT: NativeEngineLog = { info() {}, warn() {}, error() {} };

export interface NativeEngineOptions {
  /** Overrides FFMPEG_PATH; defaults to `ffmpeg` on PATH. */
  ffmpegPath?: string;
  /** Overrides FFPROBE_PATH; defaults to `ffprobe` on PATH. */
  ffprobePath?: string;
  log?: NativeEngineLog;
  /** Where FFMPEG_PATH / FFPROBE_PATH are read; process.env by default. */
  env?: Record<string, string | undefined>;
  /**
   * The ffmpeg for runs that use libvmaf, and its models; null: none. By default FFEDGE_VMAF_FFMPEG_PATH and
   * FFEDGE_VMAF_MODEL_DIR of `env`.
   */
  vmaf?: VmafBinary | null;
}

const LOG_TAIL_LINES = 100;
const LOG_LINE_CHARS = 1000;
const PROBE_TIMEOUT_MS = 30_000;
const PROBE_OUTPUT_BYTES = 4 * 1024 * 1024;
const LISTING_TIMEOUT_MS = 30_000;
const LISTING_OUTPUT_BYTES = 2 * 1024 * 1024;
// A SIGKILLed process closes its pipes within milliseconds; this only bounds the wait if the kernel is stuck.
const KILL_GRACE_MS = 1_500;

export function createNativeEngine(options: NativeEngineOptions = {}): Engine {
  const env = options.env ?? process.env;
  const ffmpeg = options.ffmpegPath || env.FFMPEG_PATH || 'ffmpeg';
  const ffprobe = options.ffprobePath || env.FFPROBE_PATH || 'ffprobe';
  const log = options.log ?? SILENT;
  const given = options.vmaf === undefined ? vmafFromEnv(env) : options.vmaf;
  // The link in a run's dir must name the model dir absolutely.
  const vmaf = given && { ...given, modelDir: resolve(given.modelDir) };

  async function run(spec: RunSpec): Promise<RunResult> {
    let binary = ffmpeg;
    if (usesLibvmaf(spec.args)) {
      if (!vmaf) throw engineError('ENGINE_UNAVAILABLE', '', 'no_libvmaf');
      await linkModels(spec.cwd, vmaf.modelDir);
      binary = vmaf.ffmpegPath;
    }
    const parser = new ProgressParser(spec.expectedDurationS);
    const report = (chunk: string | null) => {
      const reports = chunk === null ? parser.finish() : parser.feed(chunk);
      for (const progress of reports) {
        try {
          spec.onProgress?.(progress);
        } catch (error) {
          // A failing listener must not leave ffmpeg running unobserved or crash the process.
          log.warn('progress listener failed', { error: String(error) });
        }
      }
    };
    const exit = await runProcess(binary, spec.args, {
      cwd: spec.cwd,
      signal: spec.signal,
      timeoutMs: spec.timeoutMs,
      onStdout: report,
      log,
    });
    report(null);
    const logTail = exit.logTail;
    if (exit.code !== 0) {
      log.warn('ffmpeg failed', { code: exit.code, signal: exit.signal });
      throw engineError('FFMPEG_FAILED', logTail);
    }
    return { logTail };
  }

  async function probe(
    file: string,
    probeOptions: { cwd: string; signal?: AbortSignal; timeoutMs?: number },
  ): Promise<ProbeResult> {
    const exit = await runProcess(ffprobe, probeArgs(file), {
      cwd: probeOptions.cwd,
      signal: probeOptions.signal,
      timeoutMs: probeOptions.timeoutMs ?? PROBE_TIMEOUT_MS,
      collectStdoutBytes: PROBE_OUTPUT_BYTES,
      log,
    });
    if (exit.code !== 0 || exit.stdoutOverflow) throw engineError('PROBE_FAILED', exit.logTail);
    return acceptProbe(exit.stdout, exit.logTail);
  }

  async function listing(flag: string, binary = ffmpeg, value?: string): Promise<string> {
    const exit = await runProcess(binary, ['-hide_banner', flag, ...(value === undefined ? [] : [value])], {
      timeoutMs: LISTING_TIMEOUT_MS,
      collectStdoutBytes: LISTING_OUTPUT_BYTES,
      log,
    });
    if (exit.code !== 0 || exit.stdoutOverflow) {
      throw engineError('ENGINE_UNAVAILABLE', exit.logTail, 'missing');
    }
    return exit.stdout;
  }

  async function loadCapabilities(): Promise<EngineCapabilities> {
    const vmafCheck = vmafReady();
    const [encoders, decoders, filters, muxers, version] = await Promise.all([
      listing('-encoders'),
      listing('-decoders'),
      listing('-filters'),
      listing('-muxers'),
      listing('-version'),
    ]);
    const withVmaf = await vmafCheck;
    // libvmaf only through the VMAF binary, whose options the planner knows (the main one's, if any, may differ).
    const listed = parseListing(filters).filter((name) => name !== LIBVMAF);
    if (withVmaf) listed.push(LIBVMAF);
    return {
      name: 'native',
      version: parseVersion(version),
      encoders: parseListing(encoders),
      decoders: parseListing(decoders),
      filters: listed,
      muxers: parseListing(muxers),
    };
  }

  /** Whether the VMAF binary answers with the planner's libvmaf and its models are there. */
  async function vmafReady(): Promise<boolean> {
    if (!vmaf) return false;
    try {
      if (isPlannedLibvmaf(await listing('-h', vmaf.ffmpegPath, 'filter=libvmaf')) && (await modelsPresent(vmaf.modelDir))) return true;
      log.warn('the VMAF ffmpeg has no libvmaf 1.x or its models are missing: no VMAF on this engine');
    } catch {
      log.warn('the VMAF ffmpeg could not be started: no VMAF on this engine');
    }
    return false;
  }

  const capabilities = cachedUntilFailure(loadCapabilities);

  return {
    name: 'native',
    run,
    probe,
    capabilities,
  };
}

// ------------------------------------------------------------------------------------------------- process

interface ProcessOptions {
  cwd?: string;
  signal?: AbortSignal;
  timeoutMs: number;
  /** Streams stdout to a consumer... */
  onStdout?: (chunk: string) => void;
  /** ...or collects up to this many bytes of it; more kills the process. */
  collectStdoutBytes?: number;
  log: NativeEngineLog;
}

interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stdoutOverflow: boolean;
  logTail: string;
}

/**
 * Runs a binary to completion. Rejects with EngineError CANCELLED / TIMEOUT / ENGINE_UNAVAILABLE after making sure
 * the process is killed; resolves with its exit status otherwise.
 */
async function runProcess(binary: string, args: string[], options: ProcessOptions): Promise<ProcessExit> {
  const { signal, log } = options;
  const scrub = pathScrubber(options.cwd);
  const [command, argv] = await supervised(binary, args);
  if (signal?.aborted) throw engineError('CANCELLED');

  return new Promise<ProcessExit>((resolve, reject) => {
    const stderr = new LineRing(LOG_TAIL_LINES, LOG_LINE_CHARS);
    let stdout = '';
    let stdoutBytes = 0;
    let stdoutOverflow = false;
    let stopReason: 'CANCELLED' | 'TIMEOUT' | null = null;
    let settled = false;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;

    const child = spawn(command, argv, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });

    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const logTail = () => scrub(stderr.text());
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const stop = (reason: 'CANCELLED' | 'TIMEOUT') => {
      if (stopReason || settled) return;
      stopReason = reason;
      kill();
      log.info('ffmpeg killed', { reason, pid: child.pid });
      graceTimer = setTimeout(() => {
        finish(() => reject(engineError(reason, logTail())));
      }, KILL_GRACE_MS);
    };
    const onAbort = () => stop('CANCELLED');

    const timeoutTimer = setTimeout(() => stop('TIMEOUT'), clampTimer(options.timeoutMs));
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (options.onStdout) {
        options.onStdout(chunk);
        return;
      }
      stdoutBytes += Buffer.byteLength(chunk);
      if (stdoutBytes > (options.collectStdoutBytes ?? 0)) {
        stdoutOverflow = true;
        kill();
        return;
      }
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => stderr.push(chunk));

    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) {
        // The process exists; 'close' reports how it ended.
        log.warn('ffmpeg process error', { code: error.code });
        return;
      }
      log.error('ffmpeg could not be started', { code: error.code });
      finish(() => reject(engineError('ENGINE_UNAVAILABLE', '', 'missing')));
    });

    child.on('close', (code, exitSignal) => {
      finish(() => {
        if (stopReason) {
          reject(engineError(stopReason, logTail()));
          return;
        }
        if (command === SETPRIV && (code === 126 || code === 127) && /^setpriv: failed to execute/m.test(stderr.text())) {
          // setpriv started, the binary it was to become did not: as if spawn itself had failed.
          log.error('ffmpeg could not be started', { code });
          reject(engineError('ENGINE_UNAVAILABLE', '', 'missing'));
          return;
        }
        resolve({ code, signal: exitSignal, stdout, stdoutOverflow, logTail: logTail() });
      });
    });
  });
}

const SETPRIV = '/usr/bin/setpriv';
let setprivFound: Promise<boolean> | null = null;

/** Whether binaries start under setpriv's parent-death signal here: Linux, Node (not Deno), setpriv installed. */
export function supervisedStarts(): Promise<boolean> {
  setprivFound ??=
    process.platform !== 'linux' || typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined'
      ? Promise.resolve(false)
      : access(SETPRIV, constants.X_OK).then(
          () => true,
          () => false,
        );
  return setprivFound;
}

/** The command line that starts `binary`, under the parent-death signal where this process can have one. */
async function supervised(binary: string, args: string[]): Promise<[string, string[]]> {
  return (await supervisedStarts()) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', binary, ...args]] : [binary, args];
}

/**
 * Kills the processes whose working directory is under `dir` (Linux: /proc/<pid>/cwd): what a dead process left
 * running in its workspace, found by the startup sweep that removes that workspace. Returns how many it killed.
 */
export async function killOrphans(dir: string): Promise<number> {
  if (process.platform !== 'linux') return 0;
  let killed = 0;
  const pids = await readdir('/proc').catch(() => [] as string[]);
  for (const pid of pids) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => null);
    if (cwd === null || (cwd !== dir && !cwd.startsWith(`${dir}/`))) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed += 1;
    } catch {
      // Gone already, or not ours to kill.
    }
  }
  return killed;
}

/** The last lines of a text stream, each bounded, so a chatty ffmpeg cannot grow memory. */
export class LineRing {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    private readonly maxLines: number,
    private readonly maxChars: number,
  ) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r\n|\r|\n/);
    this.partial = (parts.pop() ?? '').slice(0, this.maxChars);
    for (const line of parts) this.add(line);
  }

  text(): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.slice(-this.maxLines).join('\n');
  }

  private add(line: string): void {
    if (line.trim() === '') return;
    this.lines.push(line.slice(0, this.maxChars));
    if (this.lines.length > this.maxLines) this.lines.shift();
  }
}

/**
 * Replaces server paths in ffmpeg output: the job's directory, the temp and home directories by name, then any
 * other absolute path, so a log tail never tells a client how the server is laid out; and memory addresses.
 */
export function pathScrubber(cwd: string | undefined): (text: string) => string {
  const known: [string, string][] = [];
  if (cwd && cwd.startsWith('/')) known.push([cwd, '<job>']);
  known.push([tmpdir(), '<tmp>'], [homedir(), '<home>']);
  known.sort((a, b) => b[0].length - a[0].length);
  return (text) => {
    let scrubbed = text;
    for (const [path, placeholder] of known) {
      if (path.length > 1) scrubbed = scrubbed.split(path).join(placeholder);
    }
    return scrubbed.replace(ABSOLUTE_PATH, '$1<path>').replace(CONTEXT_POINTER, '[$1]');
  };
}

// "[libx264 @ 0x55cf8789f8c0]": heap addresses would help an exploit of a decoder bug defeat ASLR.
const CONTEXT_POINTER = /\[([\w-]+) @ 0x[0-9a-f]+\]/g;

// A slash that starts a token (after a quote, '=', ':', a bracket...) and is followed by a path character.
// Ratios like 1/25 and the " / " of version lines do not start a token, so they stay.
const ABSOLUTE_PATH = /(^|[\s'"`=(\[,:;<])\/[^\s'"`)\],;<>]+/gm;
