/**
 * The wasm Worker (wasm/wrangler.toml): ffmpeg.wasm (@ffmpeg/core, imported as a compiled module) behind the engine
 * protocol (src/engine/protocol-server.ts), so the JobCoordinator drives it exactly as it drives the Transcoder
 * container. It is a Worker of its own because the core is 32 MB (10 MB gzipped): the API Worker, bound to this one
 * as WASM, stays small.
 *
 * Everything a job touches is in memory (a Worker has no disk): the declared input sizes are checked against the
 * engine's memory limit before a byte is read (413 otherwise), and a run's outputs are held until they are sent.
 * ffmpeg runs synchronously, so its progress lines go out when the run ends, and a cancel (the caller closing the
 * connection) is seen then; the run is bounded by the job's time limit, which the core checks between frames, and
 * by the Worker's CPU limit. Only reachable through the service binding (workers_dev = false, no route); with
 * FFEDGE_WORKER_TOKEN set it also wants the token, like the native worker.
 */
import wasmModule from '@ffmpeg/core/wasm';
import { createEngineService, type EngineBackend, type EngineService } from '../src/engine/protocol-server.js';
import { consoleLogger } from '../src/platform.js';
import { createWorkerdWasm } from './workerd.js';

interface Env {
  FFEDGE_WORKER_TOKEN?: string;
}

const engine = createWorkerdWasm({ module: wasmModule });

/** One run's files as bytes in memory, in the order they came. */
const backend: EngineBackend = {
  inputLimitBytes: engine.memoryLimitBytes,
  capabilities: () => engine.capabilities(),
  async open() {
    const files = new Map<string, Uint8Array>();
    const dirs: string[] = [];
    let made: Map<string, Uint8Array> | null = null;
    return {
      async receive(path, size, frames) {
        if (files.has(path)) throw new Error('a file was sent twice');
        const bytes = new Uint8Array(size);
        let offset = 0;
        await frames.readExactly(size, (chunk) => {
          bytes.set(chunk, offset);
          offset += chunk.byteLength;
        });
        files.set(path, bytes);
      },
      async makeDirs(paths) {
        dirs.push(...paths);
      },
      async run(header, _signal, onProgress) {
        const result = await engine.run({
          args: header.args,
          files,
          dirs,
          expectedDurationS: header.expected_duration_s,
          timeoutMs: header.timeout_ms,
          onProgress,
        });
        files.clear();
        made = result.outputs;
        return { logTail: result.logTail };
      },
      probe: async (file) => engine.probe(file, files.get(file)!),
      async outputs() {
        const outputs = [...(made ?? new Map<string, Uint8Array>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return outputs.map(([path, bytes]) => ({
          path,
          size: bytes.byteLength,
          // The bytes themselves, not a copy; each output is let go of once it is handed over.
          open: () =>
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(bytes);
                controller.close();
                made?.delete(path);
              },
            }),
        }));
      },
      async close() {
        files.clear();
        made?.clear();
      },
    };
  },
};

let service: EngineService | null = null;

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    // A token is set as a secret in production; without one the Worker is reachable only through its binding.
    service ??= createEngineService({ backend, token: env.FFEDGE_WORKER_TOKEN || null, slots: Number.MAX_SAFE_INTEGER, heartbeatMs: 5_000, log: consoleLogger });
    return service.fetch(request);
  },
} satisfies ExportedHandler<Env>;
