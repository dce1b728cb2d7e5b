/**
 * The engines of a Cloudflare deployment, for routing, /capabilities and the JobCoordinator:
 *
 *   wasm    the wasm Worker (wasm/worker.ts), a Worker of its own bound as WASM: @ffmpeg/core imported as a module,
 *           so the API Worker stays small. Starts in about a second, runs small jobs within a Worker's 128 MB.
 *   native  the Transcoder container (durable-objects/transcoder.ts), bound as TRANSCODER: native ffmpeg, no
 *           memory cap of note, but a container start costs seconds.
 *
 * Both speak the engine protocol (src/engine/protocol.ts), so the JobCoordinator drives either one
 * the same way. What each can do is asked of the engine itself (GET /v1/capabilities), once per isolate; the
 * Transcoder keeps its answer in its own storage so that routing does not start a container to learn it again.
 */
import { WASM_EXCLUDED } from '../../wasm/capabilities.js';
import type { Job } from '../db/schema.js';
import type { EngineCapabilities, EngineName } from '../engine/engine.js';
import { capabilitiesOf, type EngineEndpoint } from '../engine/protocol-client.js';
import { SPEED_MODELS } from '../media/estimate.js';
import type { EngineProfile } from '../media/routing.js';
import type { Logger } from '../platform.js';

/** The engines' bindings; either may be absent (a deployment without a wasm Worker, or without containers). */
export interface EngineBindings {
  /** Service binding to the wasm Worker. */
  WASM?: Env['WASM'];
  TRANSCODER?: Env['TRANSCODER'];
  /** The secret both engines accept as `Authorization: Bearer`. */
  FFEDGE_WORKER_TOKEN?: string;
}

/**
 * What one wasm job may use: the wasm Worker's own cap (wasm/workerd.ts), which leaves room under a Worker isolate's
 * 128 MB for the core's code and the Worker's JavaScript. Routing's estimate counts the core's linear memory, the
 * files and the frames in flight (src/media/estimate.ts), so what it sends fits what the Worker accepts.
 */
export const WORKERS_WASM_MEMORY_BYTES = 96 * 1024 ** 2;
/** Instantiating the 32 MB module in a fresh isolate; a warm isolate starts at once. */
export const WORKERS_WASM_STARTUP_MS = 1_500;
/** A container cold start: the image is cached on the host, the worker listens within seconds. */
export const TRANSCODER_STARTUP_MS = 8_000;
/** The native worker sends a heartbeat every 5 s; this much silence means the container or its connection is gone. */
export const TRANSCODER_SILENCE_MS = 60_000;

export interface WorkerEngines {
  /** The engines that answered, for /capabilities and readiness. */
  capabilities(): Promise<EngineCapabilities[]>;
  profiles(): Promise<EngineProfile[]>;
  /** A connection for one job attempt; null when the deployment has no such engine. */
  connect(name: EngineName, job: Pick<Job, 'id' | 'attempts'>): EngineEndpoint | null;
}

export function createWorkerEngines(env: EngineBindings, log: Logger): WorkerEngines {
  const token = env.FFEDGE_WORKER_TOKEN ?? '';
  const cache = new Map<EngineName, Promise<EngineCapabilities | null>>();

  const ask = (name: EngineName, load: () => Promise<EngineCapabilities>) => {
    let pending = cache.get(name);
    if (!pending) {
      pending = load().catch((error: unknown) => {
        // Asked again next time: a container still being provisioned answers later.
        cache.delete(name);
        log.warn('engine unavailable', { engine: name, error: error instanceof Error ? error.message : String(error) });
        return null;
      });
      cache.set(name, pending);
    }
    return pending;
  };

  const wasmEndpoint = (service: Fetcher): EngineEndpoint =>
    // ffmpeg.wasm runs synchronously in the wasm Worker: it cannot write a line until a run ends.
    ({ name: 'wasm', token, silenceMs: null, fetch: (request) => service.fetch(request) });
  const wasm = () => (env.WASM ? ask('wasm', () => capabilitiesOf(wasmEndpoint(env.WASM!))) : Promise.resolve(null));
  const native = () => {
    const namespace = env.TRANSCODER;
    return namespace
      ? ask('native', async () => checked(await namespace.get(namespace.idFromName('capabilities')).capabilities()))
      : Promise.resolve(null);
  };

  return {
    async capabilities() {
      const found = await Promise.all([native(), wasm()]);
      return found.filter((caps): caps is EngineCapabilities => caps !== null);
    },

    async profiles() {
      const [nativeCaps, wasmCaps] = await Promise.all([native(), wasm()]);
      const profiles: EngineProfile[] = [];
      if (nativeCaps) {
        profiles.push({
          name: 'native',
          capabilities: nativeCaps,
          memoryLimitBytes: null,
          startupMs: TRANSCODER_STARTUP_MS,
          speed: SPEED_MODELS.native,
        });
      }
      if (wasmCaps) {
        profiles.push({
          name: 'wasm',
          capabilities: wasmCaps,
          excluded: WASM_EXCLUDED,
          memoryLimitBytes: WORKERS_WASM_MEMORY_BYTES,
          startupMs: WORKERS_WASM_STARTUP_MS,
          speed: SPEED_MODELS.wasm,
        });
      }
      return profiles;
    },

    connect(name, job) {
      if (name === 'wasm') return env.WASM ? wasmEndpoint(env.WASM) : null;
      const namespace = env.TRANSCODER;
      if (!namespace) return null;
      // A container per attempt: a retry never lands on the container that failed it.
      const stub = namespace.get(namespace.idFromName(`${job.id}/${job.attempts}`));
      return {
        name,
        token,
        silenceMs: TRANSCODER_SILENCE_MS,
        fetch: (request) => stub.fetch(request),
        // The worker has no run left: SIGTERM ends it at once, and the instance is free for the next job.
        release: () => stub.stop('SIGTERM'),
      };
    },
  };
}

function checked(value: unknown): EngineCapabilities {
  const caps = value as Partial<EngineCapabilities> | null;
  const lists = ['encoders', 'decoders', 'filters', 'muxers'] as const;
  if (!caps || (caps.name !== 'native' && caps.name !== 'wasm') || !lists.every((key) => Array.isArray(caps[key]))) {
    throw new Error('an engine described itself in an unknown way');
  }
  return caps as EngineCapabilities;
}
