/**
 * The Platform of a Node (or Deno) process: libSQL, local blobs, an in-process coordinator, limiter and pool, and
 * native ffmpeg. Used by the node and deno entries and by tests, which start it on a temp dir.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { cpus, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { uuidv7 } from 'uuidv7';
import { loadConfig, type Config } from '../config.js';
import { createNativeEngine } from '../engine/native.js';
import type { Engine, EngineCapabilities } from '../engine/engine.js';
import { createLocalCoordinator, type LocalCoordinator } from '../jobs/local-coordinator.js';
import { createPool, type Pool } from '../jobs/pool.js';
import { fleetFromEnv, withFleet } from '../jobs/fleet.js';
import { runJob } from '../jobs/runner.js';
import { consoleLogger, type LocalFiles, type Logger, type Platform } from '../platform.js';
import { LocalPathError, resolveLocalPath } from '../storage/local-path.js';
import { bootstrapAdminKey } from '../security/api-keys.js';
import { createMemoryLimiter } from '../security/memory-limiter.js';
import { createLocalBlobStore } from '../storage/local.js';
import { openLibsql, type OpenedDb } from './libsql.js';

export interface NodePlatform extends Platform {
  coordinator: LocalCoordinator;
  pool: Pool;
  engine: Engine;
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

  const blobs = createLocalBlobStore(blobRoot);
  const coordinator = createLocalCoordinator();
  const engine = createNativeEngine({
    ...(env.FFMPEG_PATH ? { ffmpegPath: env.FFMPEG_PATH } : {}),
    ...(env.FFPROBE_PATH ? { ffprobePath: env.FFPROBE_PATH } : {}),
  });
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
    run: (job, leaseOwner, shutdown) =>
      runJob({ db, blobs, engine, coordinator, config, clock, log, tmpRoot }, job, leaseOwner, shutdown),
    changed: async (ids) => {
      for (const id of ids) await coordinator.notify(id);
    },
  }));

  let engines: Promise<EngineCapabilities[]> | null = null;
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
    workspace: tmpRoot,
    ...(config.localRoot ? { localFiles: localFiles(config.localRoot) } : {}),
    engines() {
      const found: Promise<EngineCapabilities[]> =
        engines ??
        engine.capabilities().then(
          (caps) => [caps],
          () => {
            engines = null; // ffmpeg may be installed later: look again next time
            return [];
          },
        );
      engines = found;
      return found;
    },
    config,
    clock,
    ids: uuidv7,
    log,
    async close(graceMs = 25_000) {
      await pool.stop(graceMs);
      opened.client.close();
      await rm(tmpRoot, { recursive: true, force: true });
    },
  };
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
