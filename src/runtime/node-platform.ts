/**
 * The Platform of a Node (or Deno) process: libSQL, local blobs, an in-process coordinator, limiter and pool, and
 * native ffmpeg. Used by the node and deno entries and by tests, which start it on a temp dir.
 */
import { mkdir } from 'node:fs/promises';
import { cpus, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { uuidv7 } from 'uuidv7';
import { loadConfig, type Config } from '../config.js';
import { createNativeEngine } from '../engine/native.js';
import type { Engine, EngineCapabilities } from '../engine/engine.js';
import { createLocalCoordinator, type LocalCoordinator } from '../jobs/local-coordinator.js';
import { createPool, type Pool } from '../jobs/pool.js';
import { runJob } from '../jobs/runner.js';
import { consoleLogger, type Logger, type Platform } from '../platform.js';
import { bootstrapAdminKey } from '../security/api-keys.js';
import { createMemoryLimiter } from '../security/memory-limiter.js';
import { createLocalBlobStore } from '../storage/local.js';
import { openLibsql, type OpenedDb } from './libsql.js';

export interface NodePlatform extends Platform {
  coordinator: LocalCoordinator;
  pool: Pool;
  engine: Engine;
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
  const tmpRoot = resolve(env.FFEDGE_TMP_DIR ?? join(tmpdir(), 'ffedge'));
  await mkdir(blobRoot, { recursive: true });
  await mkdir(tmpRoot, { recursive: true });

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
  const pool = createPool({
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
  });

  let engines: Promise<EngineCapabilities[]> | null = null;
  return {
    runtime: typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' ? 'node' : 'deno',
    db,
    blobs,
    coordinator,
    limiter: createMemoryLimiter(clock),
    dispatch: pool,
    pool,
    engine,
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
    },
  };
}
