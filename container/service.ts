/**
 * The native engine service: native ffmpeg behind the engine protocol (src/engine/protocol-server.ts), one ffmpeg
 * invocation per request. It is what runs in the Transcoder container and on every fleet host (`npm run worker`,
 * main.ts). A run's files live in a temp dir of their own under tmpRoot, removed when the response ends, fails, or
 * the client goes away (which also kills ffmpeg).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../src/engine/engine.js';
import { listFiles, openFile, receiveFile } from '../src/engine/files.js';
import { createEngineService, type EngineBackend, type EngineService } from '../src/engine/protocol-server.js';
import type { Logger } from '../src/platform.js';

export interface NativeServiceOptions {
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

export function createNativeService(options: NativeServiceOptions): EngineService {
  const { engine } = options;
  const backend: EngineBackend = {
    inputLimitBytes: options.inputLimitBytes,
    capabilities: () => engine.capabilities(),
    async open(kind) {
      const dir = await mkdtemp(join(options.tmpRoot, `${kind}-`));
      return {
        receive: (path, size, frames) => receiveFile(frames, dir, path, size),
        async makeDirs(dirs) {
          for (const path of dirs) await mkdir(join(dir, ...path.split('/')), { recursive: true });
        },
        run: (header, signal, onProgress) =>
          engine.run({
            args: header.args,
            cwd: dir,
            expectedDurationS: header.expected_duration_s,
            timeoutMs: header.timeout_ms,
            signal,
            onProgress,
          }),
        probe: (file, timeoutMs, signal) => engine.probe(file, { cwd: dir, signal, timeoutMs }),
        async outputs(inputs) {
          const { files } = await listFiles(dir, { followLinks: false });
          return files
            .filter((file) => !inputs.has(file.path))
            .map(({ path, size, absolute }) => ({ path, size, open: () => openFile(absolute) }));
        },
        close: () => rm(dir, { recursive: true, force: true }),
      };
    },
  };
  return createEngineService({ backend, token: options.token, slots: options.slots, heartbeatMs: options.heartbeatMs, log: options.log });
}
