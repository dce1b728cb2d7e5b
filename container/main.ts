/**
 * `npm run worker`: the native worker on Node (Hono on @hono/node-server). HOST/PORT default to 127.0.0.1:8788;
 * FFEDGE_WORKER_TOKEN is required, so a worker is never an open ffmpeg for anyone who can reach it.
 */
import { serve } from '@hono/node-server';
import { rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { vmafFromEnv } from '../src/engine/libvmaf.js';
import { createNativeEngine } from '../src/engine/native.js';
import { claimProcessDir } from '../src/engine/process-dir.js';
import { consoleLogger } from '../src/platform.js';
import { createNativeService } from './service.js';

const env = process.env;
const log = consoleLogger;

function int(name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new Error(`${name} must be a whole number between ${min} and ${max}`);
  return value;
}

const token = env.FFEDGE_WORKER_TOKEN ?? '';
if (token.length < 16 || /\s/.test(token)) {
  log.error('FFEDGE_WORKER_TOKEN must be set to a secret of at least 16 characters without spaces');
  process.exit(1);
}

const hostname = env.HOST ?? '127.0.0.1';
const port = int('PORT', 8788, 1, 65535);
const slots = int('FFEDGE_WORKER_SLOTS', Math.max(1, Math.floor(cpus().length / 2)), 1, 256);
const inputLimitBytes = int('FFEDGE_WORKER_INPUT_LIMIT', 2 * 1024 ** 3, 1, 5 * 1024 ** 4);
const heartbeatMs = int('FFEDGE_WORKER_HEARTBEAT_MS', 5_000, 50, 60_000);

// Each process works in a dir of its own; what a killed one left behind (files, a running ffmpeg) goes first.
const claimed = await claimProcessDir(resolve(env.FFEDGE_TMP_DIR ?? join(tmpdir(), 'ffedge-worker')));
if (claimed.orphansKilled > 0) log.warn('ended ffmpeg processes a dead worker left running', { count: claimed.orphansKilled });
const tmpRoot = claimed.dir;

// FFEDGE_VMAF_FFMPEG_PATH / FFEDGE_VMAF_MODEL_DIR (set in the image): the ffmpeg with libvmaf for VMAF runs.
const engine = createNativeEngine({ log, vmaf: vmafFromEnv(env) });
if (env.FFEDGE_VMAF_FFMPEG_PATH && !env.FFEDGE_VMAF_MODEL_DIR) log.warn('FFEDGE_VMAF_FFMPEG_PATH is set without FFEDGE_VMAF_MODEL_DIR: no VMAF');
const graceMs = int('FFEDGE_WORKER_GRACE_MS', 25_000, 0, 3600_000);
const worker = createNativeService({ engine, token, tmpRoot, slots, inputLimitBytes, heartbeatMs, log });

const server = serve({ fetch: worker.fetch, hostname, port }, (info) => {
  log.info('ffedge worker listening', { url: `http://${info.address}:${info.port}`, slots });
});
// Found at start, so a worker without ffmpeg says so in its log at once.
engine.capabilities().catch(() => log.error('ffmpeg is not available on this worker'));

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info('shutting down', { signal, running: worker.running() });
  // No new runs; the open ones get the grace period, then their connections are closed, which kills their ffmpeg
  // and removes their dirs (the server that sent them runs them again elsewhere).
  const http = server as unknown as { close(): void; closeIdleConnections(): void; closeAllConnections(): void };
  http.close();
  http.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  while (worker.running() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  http.closeAllConnections();
  const cleanup = Date.now() + 3_000;
  while (worker.running() > 0 && Date.now() < cleanup) await new Promise((r) => setTimeout(r, 50));
  await rm(tmpRoot, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
