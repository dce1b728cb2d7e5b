/**
 * The Platform of a Node (or Deno) process: libSQL, local blobs, an in-process coordinator, limiter and pool, and
 * two engines: native ffmpeg when it is found, and the wasm engine (ffmpeg.wasm in worker threads). Routing picks
 * one per job at submission; the pool runs each job on the engine it was routed to. Used by the node and deno
 * entries and by tests, which start it on a temp dir.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, hostname, tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uuidv7 } from 'uuidv7';
import { WASM_EXCLUDED } from '../../wasm/capabilities.js';
import { createWasmEngine, type WasmEngine } from '../../wasm/node-engine.js';
import { withPreviewFiles } from '../api/preview.js';
import { loadConfig, loadFleetConfig, type Config } from '../config.js';
import { createBreakers } from '../delivery/breakers.js';
import { nodeAssets } from './node-assets.js';
import { sweepRetention } from '../storage/retention.js';
import { createDispatcher } from '../delivery/dispatcher.js';
import { caFromEnv, nodeOutbound } from '../delivery/node-outbound.js';
import { EngineError, type Engine, type EngineCapabilities, type ProbeResult } from '../engine/engine.js';
import { vmafFromEnv } from '../engine/libvmaf.js';
import { createNativeEngine } from '../engine/native.js';
import { claimProcessDir } from '../engine/process-dir.js';
import { runAttempt, type AttemptDeps } from '../jobs/attempt.js';
import { fileWorkspace, materialise } from '../jobs/file-workspace.js';
import { createFleet, withFleet } from '../jobs/fleet.js';
import { storageInputs, type OpenedInput } from '../jobs/inputs.js';
import { createLocalCoordinator, type LocalCoordinator } from '../jobs/local-coordinator.js';
import { localInputs } from '../jobs/local-inputs.js';
import { createPool, type Pool } from '../jobs/pool.js';
import { probeInput } from '../jobs/probe-input.js';
import { streamWorkspace } from '../jobs/stream-workspace.js';
import { NODE_STARTUP_MS, SPEED_MODELS } from '../media/estimate.js';
import type { EngineProfile } from '../media/routing.js';
import { consoleLogger, type LocalFiles, type Logger, type Platform } from '../platform.js';
import { bootstrapAdminKey, hasActiveKey, NO_KEY_HINT } from '../security/api-keys.js';
import { createMemoryLimiter } from '../security/memory-limiter.js';
import { guardedBlobStore } from '../storage/guarded.js';
import { createLocalBlobStore } from '../storage/local.js';
import { LocalPathError, resolveLocalPath } from '../storage/local-path.js';
import { openLibsql, type OpenedDb } from './libsql.js';
import { previewDir } from './preview-dir.js';

export interface NodePlatform extends Platform {
  coordinator: LocalCoordinator;
  pool: Pool;
  /** Native ffmpeg (whether or not it is installed). */
  engine: Engine;
  /** The wasm engine; null when FFEDGE_WASM_THREADS is 0. */
  wasm: WasmEngine | null;
  /** This process's parent dir of per-job temp dirs. */
  workspace: string;
  close(graceMs?: number): Promise<void>;
}

export interface NodePlatformOptions {
  env?: Record<string, string | undefined>;
  config?: Config;
  log?: Logger;
  clock?: () => number;
}

/** The repository's dist/preview, wherever the process was started from. */
const DEFAULT_PREVIEW_DIR = fileURLToPath(new URL('../../dist/preview', import.meta.url));

export async function createNodePlatform(options: NodePlatformOptions = {}): Promise<NodePlatform> {
  const env = options.env ?? process.env;
  const loaded = options.config ?? loadConfig(env, { cores: cpus().length });
  // One process can sign its own links without configuration; instances behind one address must share a secret.
  const config = loaded.linkSecret ? loaded : { ...loaded, linkSecret: randomBytes(32).toString('base64url') };
  const log = options.log ?? consoleLogger;
  const clock = options.clock ?? Date.now;
  const dataDir = resolve(env.FFEDGE_DATA_DIR ?? './data');
  const dbUrl = env.FFEDGE_DB_URL ?? `file:${join(dataDir, 'ffedge.db')}`;
  const blobRoot = resolve(env.FFEDGE_BLOB_DIR ?? join(dataDir, 'blobs'));
  const tmpParent = resolve(env.FFEDGE_TMP_DIR ?? join(tmpdir(), 'ffedge'));
  await mkdir(blobRoot, { recursive: true });
  // A dir of this process's own; what a crashed one left behind (files, a running ffmpeg) goes first.
  const claimed = await claimProcessDir(tmpParent);
  if (claimed.orphansKilled > 0) log.warn('ended ffmpeg processes a dead server left running', { count: claimed.orphansKilled });
  const tmpRoot = claimed.dir;

  const opened: OpenedDb = await openLibsql(dbUrl, env.FFEDGE_DB_AUTH_TOKEN);
  const { db } = opened;
  if (config.bootstrapAdminKey) await bootstrapAdminKey(db, config.bootstrapAdminKey, clock());
  else if (!(await hasActiveKey(db))) log.warn(NO_KEY_HINT);

  const breakers = createBreakers(config.breakers);
  const blobs = guardedBlobStore(createLocalBlobStore(blobRoot), breakers.get('blobs'));
  const coordinator = createLocalCoordinator();
  const engine = createNativeEngine({
    ...(env.FFMPEG_PATH ? { ffmpegPath: env.FFMPEG_PATH } : {}),
    ...(env.FFPROBE_PATH ? { ffprobePath: env.FFPROBE_PATH } : {}),
    // VMAF runs go to a second ffmpeg built with libvmaf (FFEDGE_VMAF_FFMPEG_PATH, models in FFEDGE_VMAF_MODEL_DIR).
    vmaf: vmafFromEnv(env),
  });
  if (env.FFEDGE_VMAF_FFMPEG_PATH && !env.FFEDGE_VMAF_MODEL_DIR) log.warn('FFEDGE_VMAF_FFMPEG_PATH is set without FFEDGE_VMAF_MODEL_DIR: no VMAF');
  const wasmThreads = envInt(env, 'FFEDGE_WASM_THREADS', Math.max(1, config.poolSize), 0, 64);
  const wasm =
    wasmThreads > 0
      ? createWasmEngine({
          maxThreads: wasmThreads,
          memoryLimitBytes: envInt(env, 'FFEDGE_WASM_MEMORY_MB', 1024, 128, 2048) * 1024 ** 2,
          log,
        })
      : null;
  const engines = createEngineSet(engine, wasm, log);
  const owner = `${hostname()}:${process.pid}:${uuidv7().slice(-12)}`;
  // Webhooks: the dispatcher in this process, through the SSRF-guarded client (src/delivery/).
  const outbound = nodeOutbound({ policy: config.outbound, limits: config.outboundLimits, ca: await caFromEnv(env) });
  const dispatcher = createDispatcher({ db, outbound, breakers, config, clock, log, owner });
  dispatcher.start();
  // Retention: what is past its time is deleted in the background (src/storage/retention.ts).
  const retention = setInterval(() => {
    sweepRetention({ db, blobs, clock, log }).catch((error: unknown) => log.error('retention sweep failed', { error: error instanceof Error ? error.message : String(error) }));
  }, config.retentionSweepMs);
  retention.unref();
  const profiles: import('../storage/profiles.js').StorageProfiles | undefined = undefined;
  const inputs = storageInputs(blobs, { ...(config.localRoot ? { local: localInputs(config.localRoot) } : {}), ...(profiles ? { profiles } : {}) });
  const attempts: AttemptDeps = {
    db,
    blobs,
    config,
    clock,
    log,
    changed: (jobId) => {
      void coordinator.notify(jobId);
      dispatcher.kick();
    },
    watch: (jobId, signal) => coordinator.subscribe(jobId, signal),
  };
  const files = fileWorkspace({
    tmpRoot,
    inputs,
    engines: { profiles: () => engines.profiles(), get: (name) => (name === 'wasm' ? wasm : engine) },
  });

  // Native workers by URL (FFEDGE_WORKERS) take jobs besides the in-process pool: src/jobs/fleet.ts. A job sent to a
  // worker streams its inputs there and its outputs back (a stream workspace); it is probed here when this host has
  // ffprobe, which saves sending the inputs twice.
  const fleetConfig = loadFleetConfig(env);
  const fleet = fleetConfig
    ? createFleet({
        ...fleetConfig,
        db,
        owner,
        leaseMs: config.leaseMs,
        pollMs: config.sweepIntervalMs,
        clock,
        log,
        anyEngine: config.poolSize === 0,
        run: (job, shutdown, worker) => {
          const workspace = streamWorkspace({
            inputs,
            // A worker's native ffmpeg runs whatever the job was routed to.
            engines: { profiles: async () => fleetProfiles(await fleet!.capabilities()), connect: () => worker },
            probeHere: (input, signal) => probeHere(input, signal),
            log,
          });
          return runAttempt(attempts, workspace, job, { shutdown }).done;
        },
      })
    : null;
  const pool = withFleet(
    fleet,
    createPool({
      db,
      size: config.poolSize,
      owner,
      leaseMs: config.leaseMs,
      sweepIntervalMs: config.sweepIntervalMs,
      clock,
      log,
      run: (job, shutdown) => runAttempt(attempts, files, job, { shutdown }).done,
      changed: async (ids) => {
        for (const id of ids) await coordinator.notify(id);
        dispatcher.kick();
      },
    }),
  );

  /** ffprobe on this host for a job a worker runs; null when there is none here (the worker probes then). */
  async function probeHere(input: OpenedInput, signal: AbortSignal): Promise<ProbeResult | null> {
    if (!(await engines.available()).some((found) => found.engine === engine)) return null;
    const dir = await mkdtemp(join(tmpRoot, 'probe-'));
    try {
      await materialise(input, join(dir, 'input'), { budget: input.size, limit: input.size, signal });
      return await engine.probe('input', { cwd: dir, signal, timeoutMs: 60_000 });
    } catch (error) {
      if (error instanceof EngineError && error.code === 'ENGINE_UNAVAILABLE') return null;
      throw error;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  return {
    runtime: typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' ? 'node' : 'deno',
    db,
    blobs,
    coordinator,
    limiter: createMemoryLimiter(clock),
    dispatch: pool,
    webhooks: { kick: async () => dispatcher.kick(), outbound, breakers },
    pool,
    ...(fleet ? { readiness: [fleet.readiness] } : {}),
    engine,
    wasm,
    workspace: tmpRoot,
    ...(config.localRoot ? { localFiles: localFiles(config.localRoot) } : {}),
    // The preview's build: npm run build:preview (which npm start runs) writes it; until then /preview answers 404.
    assets: withPreviewFiles(previewDir(env.FFEDGE_PREVIEW_DIR ?? DEFAULT_PREVIEW_DIR), nodeAssets()),
    async engines() {
      return (await engines.available()).map((found) => found.capabilities);
    },
    routing: () => engines.profiles(),
    async probeInput(uri, signal) {
      return probeInput({ inputs, engine: await engines.preferred(), tmpRoot }, uri, signal);
    },
    config,
    clock,
    ids: uuidv7,
    log,
    async close(graceMs = 25_000) {
      await pool.stop(graceMs);
      await dispatcher.stop();
      clearInterval(retention);
      await wasm?.close();
      opened.client.close();
      await rm(tmpRoot, { recursive: true, force: true });
    },
  };
}

interface EngineSet {
  /** The engines whose capabilities could be read, native first. */
  available(): Promise<{ engine: Engine; capabilities: EngineCapabilities }[]>;
  profiles(): Promise<EngineProfile[]>;
  /** Native when it is installed, else wasm: for the probes of estimates. */
  preferred(): Promise<Engine>;
}

/**
 * Native and wasm, each asked once what it can do; an engine that cannot answer (no ffmpeg on the host) is left out
 * and asked again next time, so that ffmpeg installed later is found.
 */
function createEngineSet(native: Engine, wasm: WasmEngine | null, log: Logger): EngineSet {
  const all: Engine[] = wasm ? [native, wasm] : [native];
  const found = new Map<Engine, Promise<EngineCapabilities | null>>();
  const capabilitiesOf = (engine: Engine) => {
    let pending = found.get(engine);
    if (!pending) {
      pending = engine.capabilities().catch((error: unknown) => {
        found.delete(engine);
        log.warn('engine unavailable', { engine: engine.name, error: String(error) });
        return null;
      });
      found.set(engine, pending);
    }
    return pending;
  };
  const available = async () => {
    const listed = await Promise.all(all.map(async (engine) => ({ engine, capabilities: await capabilitiesOf(engine) })));
    return listed.filter((entry): entry is { engine: Engine; capabilities: EngineCapabilities } => entry.capabilities !== null);
  };
  return {
    available,
    preferred: async () => (await available())[0]?.engine ?? native,
    async profiles() {
      return (await available()).map(({ engine, capabilities }) =>
        engine === wasm
          ? {
              name: 'wasm' as const,
              capabilities,
              excluded: WASM_EXCLUDED,
              memoryLimitBytes: wasm.memoryLimitBytes,
              startupMs: NODE_STARTUP_MS.wasm,
              speed: SPEED_MODELS.wasm,
            }
          : nativeProfile(capabilities, NODE_STARTUP_MS.native),
      );
    },
  };
}

function nativeProfile(capabilities: EngineCapabilities, startupMs: number): EngineProfile {
  return { name: 'native', capabilities, memoryLimitBytes: null, startupMs, speed: SPEED_MODELS.native };
}

/** What routing knows of the fleet: its workers' native ffmpeg, reached over the network. */
function fleetProfiles(capabilities: EngineCapabilities | null): EngineProfile[] {
  return capabilities ? [nativeProfile(capabilities, NODE_STARTUP_MS.native)] : [];
}

function envInt(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  return Number(raw);
}

function localFiles(root: string): LocalFiles {
  return {
    async resolve(path) {
      try {
        return { ok: true, path: await resolveLocalPath(root, path) };
      } catch (error) {
        if (error instanceof LocalPathError) return { ok: false, code: error.code, message: error.message };
        throw error;
      }
    },
  };
}
