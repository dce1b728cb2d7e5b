/**
 * The SDK suite in Deno: `deno test` runs test/sdk/in-deno.ts with deno/deno.json (the npm packages it maps,
 * cached by `deno install`, never downloaded here) against the real Node servers; each Deno test must pass.
 */
import { spawn } from 'node:child_process';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stderrTail } from '../helpers/services.js';
import { startSdkServers, type SdkServers } from './targets.js';

const ROOT = resolve(import.meta.dirname, '../..');
let servers: SdkServers;

beforeAll(async () => {
  servers = await startSdkServers();
});
afterAll(async () => servers?.close());

it('the SDK suite passes in Deno', async () => {
  const { clip, ...target } = servers.target;
  const child = spawn(join(ROOT, 'node_modules/.bin/deno'), [
    'test', '--config', 'deno/deno.json', '--frozen', '--cached-only', '--no-check',
    '--allow-net=127.0.0.1', '--allow-env=FFEDGE_SDK_TARGET,FFEDGE_SDK_CLIP', `--allow-read=${servers.clipPath}`,
    'test/sdk/in-deno.ts',
  ], {
    cwd: ROOT,
    env: {
      PATH: `${join(ROOT, 'node_modules/.bin')}${delimiter}${process.env.PATH ?? ''}`,
      HOME: process.env.HOME,
      ...(process.env.DENO_DIR ? { DENO_DIR: process.env.DENO_DIR } : {}),
      NO_COLOR: '1',
      FFEDGE_SDK_TARGET: JSON.stringify(target),
      FFEDGE_SDK_CLIP: servers.clipPath,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const stderr = stderrTail(child);
  const code = await new Promise<number | null>((r) => child.once('close', r));
  expect(code, `${stdout}\n${stderr()}`).toBe(0);
  expect(stdout).toMatch(/ok \| 5 passed \| 0 failed/);
}, 120_000);
