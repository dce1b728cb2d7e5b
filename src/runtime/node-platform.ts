/**
 * The Platform of a Node (or Deno) process: libSQL, local blobs, an in-process coordinator, limiter and pool, and
 * two engines: native ffmpeg when it is found, and the wasm engine (ffmpeg.wasm in worker threads). Routing picks
 * one per job at submission; the pool runs each job on the engine it was routed to. Used by the node and deno
 * entries and by tests, which start it on a temp dir.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { cpus, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { uuidv7 } from 'uuidv7';
import { loadConfig, type Config } from '../config.js';
import { createNativeEngine } from '../engine/native.js';
import type { Engine, EngineCapabilities } from '../engine/engine.js';
import type { Job } from '../db/schema.js';
import { probeInput } from '../jobs/probe-input.js';
import { NODE_STARTUP_MS, SPEED_MODELS } from '../media/estimate.js';
import type { EngineProfile } from '../media/routing.js';
import { WASM_EXCLUDED } from '../../wasm/capabilities.js';
import { createWasmEngine, type WasmEngine } from '../../wasm/node-engine.js';
import { createLocalCoordinator, type LocalCoordinator } from '../jobs/local-coordinator.js';
import { createPool, type Pool } from '../jobs/pool.js';
import { fleetFromEnv, withFleet } from '../jobs/fleet.js';
import { runJob } from '../jobs/runner.js';
import { consoleLogger, type LocalFiles, type Logger, type Platform } from '../platform.js';
import { LocalPathError, resolveLocalPath } from '../storage/local-path.js';
import { bootstrapAdminKey, hasActiveKey, NO_KEY_HINT } from '../security/api-keys.js';
import { createMemoryLimiter } from '../security/memory-limiter.js';
import { createLocalBlobStore } from '../storage/local.js';
import { openLibsql, type OpenedDb } from './libsql.js';

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

export async function createNodePlatform(options: NodePlatformOptions = {}): Promise<NodePlatform> {
  const env = options.env ?? process.env;
  const config = options.config ?? loadConfig(env, { cores: cpus().length });
  const log = options.log ?? consoleLogger;
  const clock = options.clock ?? Date.now;
  const dataDir = resolve(env.FFEDGE_DATA_DIR ?? './data');
  const dbUrl = env.FFEDGE_DB_URL ?? `file:${join(dataDir, 'ffedge.db')}`;
  const blobRoot = resolve(env.FFEDGE_BLOB_DIR ?? join(dataDir, 'blobs'));
  const tmpParent = resolve(env.FFEDGE_TMP_DIR ?? join(tmpdir(), 'ffedge'));
  await mkdir(blobRoot, { recursive: true });
  await removeDeadWorkspaces(tmpParent);
  // Each process works in a dir named after its pid, so a later process can tell a crashed one's leftovers.
  const tmpRoot = await mkdtemp(join(tmpParent, `${process.pid}-`));

  const opened: OpenedDb = await openLibsql(dbUrl, env.FFEDGE_DB_AUTH_TOKEN);
  const { db } = opened;
  if (config.bootstrapAdminKey) await bootstrapAdminKey(db, config.bootstrapAdminKey, clock());
  else if (!(await hasActiveKey(db))) log.warn(NO_KEY_HINT);

  const blobs = createLocalBlobStore(blobRoot);
  const coordinator = createLocalCoordinator();
  const engine = createNativeEngine({
    ...(env.FFMPEG_PATH ? { ffmpegPath: env.FFMPEG_PATH } : {}),
    ...(env.FFPROBE_PATH ? { ffprobePath: env.FFPROBE_PATH } : {}),
  });
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
  // Native workers by URL (FFEDGE_WORKERS) take jobs besides the in-process pool: src/jobs/fleet.ts.
  const fleet = fleetFromEnv(env, {
    db,
    owner,
    leaseMs: config.leaseMs,
    pollMs: config.sweepIntervalMs,
    clock,
    log,
    probeWith: engine,
    anyEngine: config.poolSize === 0,
    run: (job, leaseOwner, shutdown, remote) =>
      runJob({ db, blobs, engine: remote, coordinator, config, clock, log, tmpRoot }, job, leaseOwner, shutdown),
  });
  const pool = withFleet(fleet, createPool({
    db,
    size: config.poolSize,
    owner,
    leaseMs: config.leaseMs,
    sweepIntervalMs: config.sweepIntervalMs,
    clock,
    log,
    run: async (job, leaseOwner, shutdown) =>
      runJob({ db, blobs, engine: await engines.forJob(job), coordinator, config, clock, log, tmpRoot }, job, leaseOwner, shutdown),
    changed: async (ids) => {
      for (const id of ids) await coordinator.notify(id);
    },
  }));

  return {
    runtime: typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' ? 'node' : 'deno',
    db,
    blobs,
    coordinator,
    limiter: createMemoryLimiter(clock),
    dispatch: pool,
    pool,
    ...(fleet ? { readiness: [fleet.readiness] } : {}),
    engine,
    wasm,
    workspace: tmpRoot,
    ...(config.localRoot ? { localFiles: localFiles(config.localRoot) } : {}),
    async engines() {
      return (await engines.available()).map((found) => found.capabilities);
    },
    routing: () => engines.profiles(),
    async probeInput(uri, signal) {
      return probeInput({ blobs, config, engine: await engines.preferred(), tmpRoot }, uri, signal);
    },
    config,
    clock,
    ids: uuidv7,
    log,
    async close(graceMs = 25_000) {
      await pool.stop(graceMs);
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
  /** Native when it is installed, else wasm: for probes and jobs routed before engines were known. */
  preferred(): Promise<Engine>;
  /** The engine a job was routed to; for a job routed nowhere, native when it is installed, else wasm. */
  forJob(job: Pick<Job, 'engine'>): Promise<Engine>;
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
  const preferred = async () => (await available())[0]?.engine ?? native;
  return {
    available,
    preferred,
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
          : { name: 'native' as const, capabilities, memoryLimitBytes: null, startupMs: NODE_STARTUP_MS.native, speed: SPEED_MODELS.native },
      );
    },
    // Called between claiming a job and starting its lease renewals: it must not wait for the wasm listing.
    async forJob(job) {
      if (job.engine === 'wasm' && wasm) return wasm;
      if (job.engine === 'native') return native;
      // Not routed (probes, jobs queued before routing): native unless it is known to be missing.
      return (await capabilitiesOf(native)) !== null || !wasm ? native : wasm;
    },
  };
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

/** Removes the temp dirs of processes on this host that died without cleaning up (SIGKILL, power loss). */
async function removeDeadWorkspaces(parent: string): Promise<void> {
  await mkdir(parent, { recursive: true });
  for (const entry of await readdir(parent)) {
    const pid = Number(/^(\d+)-/.exec(entry)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await rm(join(parent, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
