/**
 * The stream workspace: no disk. An attempt's inputs are streamed from where they are (the BlobStore) into the engine
 * protocol's requests, and the outputs from its responses into the BlobStore; the engine is a service reached over
 * HTTP (src/engine/protocol-client.ts). The JobCoordinator runs jobs this way on Workers (the wasm Worker, the
 * Transcoder container), and the Node fleet on its native workers. Neither kind of engine ever sees a storage
 * credential or a bucket's URL: they get bytes and give bytes back. Web-standard APIs only.
 */
import type { Job } from '../db/schema.js';
import type { EngineName, ProbeResult } from '../engine/engine.js';
import { probeRemote, runRemote, type EngineEndpoint, type StreamInput } from '../engine/protocol-client.js';
import type { EngineProfile } from '../media/routing.js';
import { JobFailure } from './failures.js';
import { inputTooLarge, type InputSource, type OpenedInput } from './inputs.js';
import type { Workspace } from './workspace.js';

export interface StreamWorkspaceOptions {
  inputs: InputSource;
  engines: {
    profiles(): Promise<EngineProfile[]>;
    /** A connection to an engine for one attempt of `job`; null when there is no such engine here. */
    connect(name: EngineName, job: Job): EngineEndpoint | null;
  };
  /**
   * Probes on this host instead of on the engine (the fleet, where the API host has ffprobe: saves sending inputs
   * twice); null when it cannot here, and the engine probes.
   */
  probeHere?(input: OpenedInput, signal: AbortSignal): Promise<ProbeResult | null>;
  log?: { warn(message: string, fields?: Record<string, unknown>): void };
}

const PROBE_TIMEOUT_MS = 60_000;

export function streamWorkspace(options: StreamWorkspaceOptions): Workspace {
  return {
    profiles: () => options.engines.profiles(),
    probeEngine(profiles, inputBytes) {
      // The wasm engine when the inputs fit in its memory with room to work (it starts at once), else native.
      const wasm = profiles.find((p) => p.name === 'wasm');
      const fits = wasm && (wasm.memoryLimitBytes === null || inputBytes * 2 < wasm.memoryLimitBytes);
      return fits || !profiles.some((p) => p.name === 'native') ? (wasm ? 'wasm' : 'native') : 'native';
    },
    async open(job) {
      const inputs = new Map<string, OpenedInput>();
      const connected = new Map<EngineName, EngineEndpoint>();
      const connect = (name: EngineName) => {
        let endpoint = connected.get(name);
        if (!endpoint) {
          const found = options.engines.connect(name, job);
          if (!found) throw new JobFailure('ENGINE_UNAVAILABLE', `The ${name} engine is not available in this deployment.`, false);
          endpoint = found;
          connected.set(name, endpoint);
        }
        return endpoint;
      };
      const source = (file: string): StreamInput => {
        const input = inputs.get(file)!;
        return { path: file, size: input.size, open: () => input.open() };
      };
      return {
        async addInput(input, budget, limit) {
          const opened = await options.inputs.open(input.uri, budget);
          if (opened.size > budget) throw inputTooLarge(limit);
          inputs.set(input.file, opened);
          return opened.size;
        },
        async probe(file, name, signal) {
          const here = options.probeHere ? await options.probeHere(inputs.get(file)!, signal) : null;
          if (here) return here;
          return probeRemote(connect(name), source(file), { timeoutMs: PROBE_TIMEOUT_MS, signal });
        },
        run(name, run) {
          return runRemote(connect(name), {
            args: run.args,
            expectedDurationS: run.expectedDurationS,
            timeoutMs: run.timeoutMs,
            inputs: [...[...inputs.keys()].map(source), ...run.reads.map((read) => ({ path: read.path, size: read.size, open: () => read.open() }))],
            dirs: run.dirs,
            signal: run.signal,
            onProgress: run.onProgress,
            async onOutput({ path, size, body }) {
              // Not a file the attempt takes (a measuring pass's, or a stray one): read past it.
              if (!run.want(path)) return body.pipeTo(new WritableStream());
              await run.store(path, body, size);
            },
          });
        },
        async close() {
          // A container per attempt: stopped now rather than when it has slept, so it does not hold an instance.
          const endpoints = [...connected.values()];
          connected.clear();
          await Promise.all(
            endpoints.map((endpoint) =>
              endpoint.release?.().catch((error: unknown) => options.log?.warn('engine release failed', { job_id: job.id, error: String(error) })),
            ),
          );
        },
      };
    },
  };
}
