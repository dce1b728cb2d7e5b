/**
 * Global setup of the workers-jobs project (runs in Node): bundles the wasm Worker (wasm/wrangler.toml) the way
 * `wrangler deploy` does, so that vitest.config.ts can run it as an auxiliary Worker next to the API Worker, bound
 * as WASM. (Auxiliary Workers are not transformed by Vite; they must be built JavaScript.)
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    wasmWorkerDir: string;
  }
}

export default async function setup(project: TestProject) {
  const outdir = resolve('.wrangler', 'test', `ffedge-wasm-${process.pid}`);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await promisify(execFile)(
    process.execPath,
    [join('node_modules', 'wrangler', 'bin', 'wrangler.js'), 'deploy', '--dry-run', '--outdir', outdir, '-c', join('wasm', 'wrangler.toml')],
    { env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' }, maxBuffer: 16 * 1024 * 1024 },
  );
  project.provide('wasmWorkerDir', outdir);
  return async () => {
    await rm(outdir, { recursive: true, force: true });
  };
}
