/**
 * The file workspace (Node, Deno): an attempt's inputs in a temp dir of its own under this process's workspace dir,
 * and a local engine working in it (native ffmpeg, or the wasm engine in worker threads). The dir is removed on
 * every path (audit #4); every file operation is async and streamed (audits #5, #17).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Engine, EngineName } from '../engine/engine.js';
import { listFiles, openFile } from '../engine/files.js';
import type { EngineProfile } from '../media/routing.js';
import { JobFailure } from './failures.js';
import { inputTooLarge, type InputSource, type OpenedInput } from './inputs.js';
import type { Workspace } from './workspace.js';

export interface FileWorkspaceOptions {
  /** Parent of the per-attempt temp dirs. */
  tmpRoot: string;
  inputs: InputSource;
  /** The engines this process has, with what routing knows of them; an engine absent from `profiles()` is missing. */
  engines: {
    profiles(): Promise<EngineProfile[]>;
    get(name: EngineName): Engine | null;
  };
}

const PROBE_TIMEOUT_MS = 60_000;

/**
 * Puts an input at `target`: a file on this host is linked, not copied (the engine reads it where it is); anything
 * else is streamed into a new file, counted against `budget` as it comes. Returns its size.
 */
export async function materialise(
  input: OpenedInput,
  target: string,
  bounds: { budget: number; limit: number; signal: AbortSignal },
): Promise<number> {
  if (input.path) {
    await symlink(input.path, target);
    return input.size;
  }
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > bounds.budget ? inputTooLarge(bounds.limit) : null, chunk);
    },
  });
  const body = Readable.fromWeb((await input.open()) as import('node:stream/web').ReadableStream);
  await pipeline(body, counter, createWriteStream(target, { flags: 'wx' }), { signal: bounds.signal });
  return seen;
}

export function fileWorkspace(options: FileWorkspaceOptions): Workspace {
  const engine = (name: EngineName): Engine => {
    const found = options.engines.get(name);
    if (!found) throw new JobFailure('ENGINE_UNAVAILABLE', `The ${name} engine is not available here.`, true);
    return found;
  };
  return {
    profiles: () => options.engines.profiles(),
    // Native when it is installed (it reads the files where they are), else wasm.
    probeEngine: (profiles) => (profiles.some((p) => p.name === 'native') || !profiles.some((p) => p.name === 'wasm') ? 'native' : 'wasm'),
    async open(job, signal) {
      const dir = await mkdtemp(join(options.tmpRoot, `job-${job.id}-`));
      const inputs = new Set<string>();
      let closed: Promise<void> | null = null;
      return {
        async addInput(input, budget, limit) {
          const opened = await options.inputs.open(input.uri, budget);
          if (opened.size > budget) throw inputTooLarge(limit);
          inputs.add(input.file);
          return materialise(opened, join(dir, input.file), { budget, limit, signal });
        },
        probe: (file, name, signal) => engine(name).probe(file, { cwd: dir, signal, timeoutMs: PROBE_TIMEOUT_MS }),
        async run(name, run) {
          for (const path of run.dirs) await mkdir(join(dir, ...path.split('/')), { recursive: true });
          const result = await engine(name).run({
            args: run.args,
            cwd: dir,
            expectedDurationS: run.expectedDurationS,
            timeoutMs: run.timeoutMs,
            signal: run.signal,
            onProgress: (progress) => run.onProgress(progress),
          });
          // What ffmpeg wrote (the inputs, linked or copied in, are not its); a planned file it did not write is the
          // pipeline's to report.
          const { files } = await listFiles(dir, { followLinks: false });
          for (const file of files) {
            if (!inputs.has(file.path) && run.want(file.path)) await run.store(file.path, openFile(file.absolute), file.size);
          }
          return result;
        },
        close() {
          closed ??= rm(dir, { recursive: true, force: true }).catch(() => undefined);
          return closed;
        },
      };
    },
  };
}
