#!/usr/bin/env node
/**
 * `npm run bundle-size`: builds both Workers as `wrangler deploy` would (--dry-run, nothing is uploaded) and reports
 * their gzipped sizes, which is what the platform limits:
 *
 *   the API Worker   wrangler.toml       -> dist/        goal: under 1 MiB gzipped
 *   the wasm Worker  wasm/wrangler.toml  -> dist/wasm/   must fit the platform's limit (10 MiB gzipped on paid plans)
 *
 * Exits non-zero when a Worker exceeds the platform's limit, or when the API Worker misses its goal.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const MIB = 1024 ** 2;
const PLATFORM_LIMIT = 10 * MIB;
const API_GOAL = 1 * MIB;
const root = resolve(import.meta.dirname, '..');
const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

function build(config, outdir) {
  rmSync(outdir, { recursive: true, force: true });
  execFileSync(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outdir, '-c', config], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
}

/** Every module of a build (the script and what it imports), without source maps, the README or sub-builds. */
function measure(outdir) {
  const files = readdirSync(outdir).filter((name) => !name.endsWith('.map') && name !== 'README.md' && statSync(join(outdir, name)).isFile());
  let raw = 0;
  let gzipped = 0;
  const parts = [];
  for (const name of files) {
    const bytes = readFileSync(join(outdir, name));
    const gz = gzipSync(bytes, { level: 9 }).byteLength;
    raw += bytes.byteLength;
    gzipped += gz;
    parts.push({ name, raw: bytes.byteLength, gzipped: gz });
  }
  return { raw, gzipped, parts };
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / MIB).toFixed(2)} MiB`;

const dist = join(root, 'dist');
build('wrangler.toml', dist);
build(join('wasm', 'wrangler.toml'), join(dist, 'wasm'));

const workers = [
  { name: 'API Worker (ffedge)', ...measure(dist), goal: API_GOAL },
  { name: 'wasm Worker (ffedge-wasm)', ...measure(join(dist, 'wasm')), goal: PLATFORM_LIMIT },
];

let failed = false;
for (const worker of workers) {
  const ok = worker.gzipped <= worker.goal && worker.gzipped <= PLATFORM_LIMIT;
  failed ||= !ok;
  console.log(`${worker.name}: ${kib(worker.raw)} raw, ${kib(worker.gzipped)} gzipped (${mib(worker.gzipped)}) — ${ok ? 'within' : 'OVER'} ${mib(worker.goal)}`);
  for (const part of worker.parts) console.log(`  ${part.name}: ${kib(part.raw)} raw, ${kib(part.gzipped)} gzipped`);
}
console.log(`Headroom of the wasm Worker under the ${mib(PLATFORM_LIMIT)} limit: ${kib(PLATFORM_LIMIT - workers[1].gzipped)}`);
process.exit(failed ? 1 : 0);
