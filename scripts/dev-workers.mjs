#!/usr/bin/env node
/**
 * `npm run dev:workers`: both Workers and the native stand-in on this machine, with no Cloudflare account and no
 * Docker (README "Run the Workers locally").
 *
 *   1. writes dev configs from wrangler.toml and wasm/wrangler.toml under <state>/dev-config/, the same Workers
 *      without [[containers]]: a registry image makes `wrangler dev` ask the account's registry for it (even with
 *      --enable-containers=false), and a Dockerfile makes it build one. Without a container the Transcoder Durable
 *      Object is a plain one, and durable-objects/host-container.ts hands its container port to the stand-in.
 *      Each gets a .dev.vars: the one next to its wrangler.toml, plus the engines' token and the stand-in's URL.
 *   2. applies the D1 migrations to the local database (`wrangler d1 migrations apply ffedge --local`).
 *   3. starts the native worker (`npm run worker`, container/main.ts) on 127.0.0.1 as the container's stand-in.
 *   4. starts the API Worker and the wasm Worker in one `wrangler dev` (the API Worker's WASM binding reaches the
 *      wasm Worker inside that process).
 *
 * Ctrl-C or SIGTERM stops all of it; so does any part of it exiting. Nothing leaves 127.0.0.1: no metrics, no
 * error reports, no update check, no Request.cf download.
 *
 * Options (each also as an environment variable):
 *   --port <n>          FFEDGE_DEV_PORT          the API Worker's port (8787)
 *   --inspector-port    FFEDGE_DEV_INSPECTOR_PORT  wrangler's DevTools port (9229)
 *   --worker-port <n>   FFEDGE_DEV_WORKER_PORT   the stand-in's port (8788)
 *   --state <dir>       FFEDGE_DEV_STATE         local D1, R2, queues and Durable Objects (.wrangler/state)
 *   --test-scheduled                             serve /__scheduled to run the Cron Trigger (the sweep) by hand
 *   -- <args>                                    more arguments for `wrangler dev`
 * FFEDGE_WORKER_TOKEN and FFEDGE_BOOTSTRAP_ADMIN_KEY, when set in the environment, win over .dev.vars; without a
 * token anywhere, one is made for this run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wranglerBin = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

const { values: flags, positionals: extra } = parseArgs({
  options: {
    port: { type: 'string' },
    'inspector-port': { type: 'string' },
    'worker-port': { type: 'string' },
    state: { type: 'string' },
    'test-scheduled': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});
if (flags.help) {
  const doc = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  process.stdout.write(`${/\/\*\*([\s\S]*?)\*\//.exec(doc)[1].replace(/^ \* ?/gm, '').trim()}\n`);
  process.exit(0);
}

const port = portOf(flags.port ?? process.env.FFEDGE_DEV_PORT, 8787, '--port');
const inspectorPort = portOf(flags['inspector-port'] ?? process.env.FFEDGE_DEV_INSPECTOR_PORT, 9229, '--inspector-port');
const workerPort = portOf(flags['worker-port'] ?? process.env.FFEDGE_DEV_WORKER_PORT, 8788, '--worker-port');
const state = resolve(flags.state ?? process.env.FFEDGE_DEV_STATE ?? join(root, '.wrangler', 'state'));
const configDir = join(state, 'dev-config');

// Everything wrangler might send away, pointed nowhere or off. The update check asks the npm registry named here.
const quiet = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  npm_config_registry: 'http://127.0.0.1:9/',
  NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/',
};
const childEnv = { ...process.env, ...quiet };

const children = new Set();
let stopping = false;

function portOf(raw, fallback, name) {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) fail(`${name} must be a port number`);
  return Number(raw);
}

function fail(message) {
  process.stderr.write(`dev:workers: ${message}\n`);
  process.exit(1);
}

function log(message) {
  process.stderr.write(`dev:workers: ${message}\n`);
}

/** KEY=value lines, as wrangler reads .dev.vars (quotes allowed, # comments). */
function readDevVars(path) {
  const vars = {};
  if (!existsSync(path)) return vars;
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    let value = match[2];
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, '');
    vars[match[1]] = value;
  }
  return vars;
}

function writeDevVars(path, vars) {
  const lines = Object.entries(vars).map(([key, value]) => `${key}=${JSON.stringify(String(value))}`);
  writeFileSync(path, `# Written by scripts/dev-workers.mjs for this run; edit the .dev.vars next to wrangler.toml instead.\n${lines.join('\n')}\n`, {
    mode: 0o600,
  });
}

/**
 * A config's raw form (wrangler's own reader), with its paths made absolute so that it works from configDir, and
 * without [[containers]].
 */
async function devConfig(source, name) {
  const { experimental_readRawConfig } = await import('wrangler');
  const from = dirname(resolve(root, source));
  const { rawConfig } = experimental_readRawConfig({ config: resolve(root, source) });
  const config = structuredClone(rawConfig);
  delete config.containers;
  if (config.main) config.main = resolve(from, config.main);
  if (config.base_dir) config.base_dir = resolve(from, config.base_dir);
  for (const db of config.d1_databases ?? []) if (db.migrations_dir) db.migrations_dir = resolve(from, db.migrations_dir);
  const dir = join(configDir, name);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'wrangler.json');
  return { config, dir, path, from };
}

function start(label, command, args, options = {}) {
  // A process group of its own: the whole tree (wrangler's workerd, tsx's node) is stopped with one signal, and a
  // Ctrl-C in the terminal reaches this script only, which stops the children in order.
  const child = spawn(command, args, { cwd: root, env: childEnv, stdio: ['ignore', 'inherit', 'inherit'], detached: true, ...options });
  children.add(child);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.exited.then(({ code, signal }) => {
    children.delete(child);
    if (!stopping && !options.finite) {
      log(`${label} exited (${signal ?? code}); stopping`);
      void stop(1);
    }
  });
  return child;
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stop(code) {
  if (stopping) return;
  stopping = true;
  const running = [...children];
  for (const child of running) signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => {
    for (const child of running) signalGroup(child, 'SIGKILL');
  }, 8_000);
  await Promise.all(running.map((child) => child.exited));
  clearTimeout(timer);
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stop(signal === 'SIGINT' ? 130 : 143));

async function waitForHealth(url, child, label, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping || child.exitCode !== null) return false;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  log(`${label} did not answer ${url} within ${timeoutMs / 1000} s`);
  return false;
}

// ------------------------------------------------------------------------------------------------ configs

const apiVars = readDevVars(join(root, '.dev.vars'));
const wasmVars = readDevVars(join(root, 'wasm', '.dev.vars'));
for (const key of ['FFEDGE_WORKER_TOKEN', 'FFEDGE_BOOTSTRAP_ADMIN_KEY']) {
  if (process.env[key]) apiVars[key] = process.env[key];
}
const token = apiVars.FFEDGE_WORKER_TOKEN || wasmVars.FFEDGE_WORKER_TOKEN || randomBytes(24).toString('base64url');
if (wasmVars.FFEDGE_WORKER_TOKEN && apiVars.FFEDGE_WORKER_TOKEN && wasmVars.FFEDGE_WORKER_TOKEN !== apiVars.FFEDGE_WORKER_TOKEN) {
  fail('FFEDGE_WORKER_TOKEN differs between .dev.vars and wasm/.dev.vars: both Workers and the stand-in share one token');
}
const workerUrl = `http://127.0.0.1:${workerPort}`;

const api = await devConfig('wrangler.toml', 'ffedge');
const wasm = await devConfig(join('wasm', 'wrangler.toml'), 'ffedge-wasm');
writeFileSync(api.path, `${JSON.stringify(api.config, null, 2)}\n`);
writeFileSync(wasm.path, `${JSON.stringify(wasm.config, null, 2)}\n`);
writeDevVars(join(api.dir, '.dev.vars'), { ...apiVars, FFEDGE_WORKER_TOKEN: token, FFEDGE_TRANSCODER_LOCAL_URL: workerUrl });
writeDevVars(join(wasm.dir, '.dev.vars'), { ...wasmVars, FFEDGE_WORKER_TOKEN: token });
if (!apiVars.FFEDGE_BOOTSTRAP_ADMIN_KEY) {
  log('no FFEDGE_BOOTSTRAP_ADMIN_KEY in .dev.vars: make one with `npm run -s keys -- generate` and put it there (README)');
}

// ---------------------------------------------------------------------------------------------- migrations

const database = api.config.d1_databases?.[0]?.database_name ?? 'ffedge';
log(`applying the D1 migrations to ${state}`);
const migrate = start('migrations', process.execPath, [wranglerBin, 'd1', 'migrations', 'apply', database, '--local', '--persist-to', state, '-c', api.path], {
  finite: true,
  env: { ...childEnv, CI: 'true' },
});
const migrated = await migrate.exited;
if (stopping) await new Promise(() => {});
if (migrated.code !== 0) fail(`the D1 migrations failed (${migrated.signal ?? migrated.code})`);

// ---------------------------------------------------------------------------------------------- stand-in

log(`starting the native stand-in (container/main.ts) on ${workerUrl}`);
const worker = start('the native stand-in', process.execPath, ['--import', 'tsx', join(root, 'container', 'main.ts')], {
  env: {
    ...childEnv,
    HOST: '127.0.0.1',
    PORT: String(workerPort),
    FFEDGE_WORKER_TOKEN: token,
    FFEDGE_WORKER_SLOTS: process.env.FFEDGE_WORKER_SLOTS ?? '2',
    FFEDGE_WORKER_GRACE_MS: process.env.FFEDGE_WORKER_GRACE_MS ?? '2000',
  },
});
if (!(await waitForHealth(`${workerUrl}/health`, worker, 'the native stand-in', 60_000))) await stop(1);

// ------------------------------------------------------------------------------------------------ Workers

const devArgs = [
  wranglerBin,
  'dev',
  '-c',
  api.path,
  '-c',
  wasm.path,
  '--ip',
  '127.0.0.1',
  '--port',
  String(port),
  '--inspector-port',
  String(inspectorPort),
  '--persist-to',
  state,
  ...(flags['test-scheduled'] ? ['--test-scheduled'] : []),
  ...extra,
];
log(`starting the API Worker and the wasm Worker on http://127.0.0.1:${port}`);
start('wrangler dev', process.execPath, devArgs);
