import { cachedUntilFailure } from './cached.js';
import { spawn } from 'node:child_process';
import { homedir, tmpdir } from 'node:os';
import { isIndirectInputFormat } from '../media/formats.js';
import { ProgressParser } from '../media/progress.js';
import {
  EngineError,
  type Engine,
  type EngineCapabilities,
  type EngineErrorCode,
  type ProbeResult,
  type RunResult,
  type RunSpec,
} from './engine.js';
import { parseListing, parseProbeOutput, parseVersion } from './ffmpeg-output.js';

export { parseListing, parseProbeOutput } from './ffmpeg-output.js';

/**
 * The native engine: the ffmpeg and ffprobe binaries of the host, spawned with an argv array (never a shell),
 * stdin closed, and killed at once on cancel or timeout. Nothing the binaries print reaches a client unless it
 * went through the path scrubbing below.
 */

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
}

const LOG_TAIL_LINES = 100;
const LOG_LINE_CHARS = 1000;
const PROBE_TIMEOUT_MS = 30_000;
const PROBE_OUTPUT_BYTES = 4 * 1024 * 1024;
const LISTING_TIMEOUT_MS = 30_000;
const LISTING_OUTPUT_BYTES = 2 * 1024 * 1024;
// setTimeout fires at once for delays above 2^31-1 ms.
const MAX_TIMER_MS = 2_147_483_647;
// A SIGKILLed process closes its pipes within milliseconds; this only bounds the wait if the kernel is stuck.
const KILL_GRACE_MS = 1_500;

const SAFE_MESSAGES: Record<EngineErrorCode, string> = {
  CANCELLED: 'the job was cancelled',
  TIMEOUT: 'ffmpeg did not finish within the time limit',
  FFMPEG_FAILED: 'ffmpeg could not process the input',
  ENGINE_UNAVAILABLE: 'ffmpeg is not available on this server',
  PROBE_FAILED: 'the input could not be read as a media file',
  RESOURCE_LIMIT: 'the job needs more memory than the engine may use',
};

export function createNativeEngine(options: NativeEngineOptions = {}): Engine {
  const env = options.env ?? process.env;
  const ffmpeg = options.ffmpegPath || env.FFMPEG_PATH || 'ffmpeg';
  const ffprobe = options.ffprobePath || env.FFPROBE_PATH || 'ffprobe';
  const log = options.log ?? SILENT;

  async function run(spec: RunSpec): Promise<RunResult> {
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
    const exit = await runProcess(ffmpeg, spec.args, {
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
      throw new EngineError('FFMPEG_FAILED', SAFE_MESSAGES.FFMPEG_FAILED, logTail);
    }
    return { logTail };
  }

  async function probe(
    file: string,
    probeOptions: { cwd: string; signal?: AbortSignal; timeoutMs?: number },
  ): Promise<ProbeResult> {
    const args = [
      '-v',
      'error',
      // Only plain files: a crafted input must not make ffprobe fetch URLs (SSRF).
      '-protocol_whitelist',
      'file',
      '-print_format',
      'json',
      '-show_format',
      '-show_streams',
      // The file: prefix keeps a name like "-x" or "http://..." from being read as an option or a URL.
      `file:${file}`,
    ];
    const exit = await runProcess(ffprobe, args, {
      cwd: probeOptions.cwd,
      signal: probeOptions.signal,
      timeoutMs: probeOptions.timeoutMs ?? PROBE_TIMEOUT_MS,
      collectStdoutBytes: PROBE_OUTPUT_BYTES,
      log,
    });
    if (exit.code !== 0 || exit.stdoutOverflow) {
      throw new EngineError('PROBE_FAILED', SAFE_MESSAGES.PROBE_FAILED, exit.logTail);
    }
    const result = parseProbeOutput(exit.stdout);
    // The playlist demuxers may already have opened other local files; their metadata must not be returned.
    if (isIndirectInputFormat(result.format)) {
      throw new EngineError('PROBE_FAILED', 'the input must be a single media file, not a playlist or a file list');
    }
    return result;
  }

  async function listing(flag: string): Promise<string> {
    const exit = await runProcess(ffmpeg, ['-hide_banner', flag], {
      timeoutMs: LISTING_TIMEOUT_MS,
      collectStdoutBytes: LISTING_OUTPUT_BYTES,
      log,
    });
    if (exit.code !== 0 || exit.stdoutOverflow) {
      throw new EngineError('ENGINE_UNAVAILABLE', SAFE_MESSAGES.ENGINE_UNAVAILABLE, exit.logTail);
    }
    return exit.stdout;
  }

  async function loadCapabilities(): Promise<EngineCapabilities> {
    const [encoders, decoders, filters, muxers, version] = await Promise.all([
      listing('-encoders'),
      listing('-decoders'),
      listing('-filters'),
      listing('-muxers'),
      listing('-version'),
    ]);
    return {
      name: 'native',
      version: parseVersion(version),
      encoders: parseListing(encoders),
      decoders: parseListing(decoders),
      filters: parseListing(filters),
      muxers: parseListing(muxers),
    };
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
function runProcess(binary: string, args: string[], options: ProcessOptions): Promise<ProcessExit> {
  const { signal, log } = options;
  const scrub = pathScrubber(options.cwd);
  if (signal?.aborted) {
    return Promise.reject(new EngineError('CANCELLED', SAFE_MESSAGES.CANCELLED));
  }

  return new Promise<ProcessExit>((resolve, reject) => {
    const stderr = new LineRing(LOG_TAIL_LINES, LOG_LINE_CHARS);
    let stdout = '';
    let stdoutBytes = 0;
    let stdoutOverflow = false;
    let stopReason: 'CANCELLED' | 'TIMEOUT' | null = null;
    let settled = false;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;

    const child = spawn(binary, args, {
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
        finish(() => reject(new EngineError(reason, SAFE_MESSAGES[reason], logTail())));
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
      finish(() => reject(new EngineError('ENGINE_UNAVAILABLE', SAFE_MESSAGES.ENGINE_UNAVAILABLE)));
    });

    child.on('close', (code, exitSignal) => {
      finish(() => {
        if (stopReason) {
          reject(new EngineError(stopReason, SAFE_MESSAGES[stopReason], logTail()));
          return;
        }
        resolve({ code, signal: exitSignal, stdout, stdoutOverflow, logTail: logTail() });
      });
    });
  });
}

function clampTimer(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(ms))) : MAX_TIMER_MS;
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
