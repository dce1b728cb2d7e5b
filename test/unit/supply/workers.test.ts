/**
 * What the Workers build depends on: the Env type the code is checked against is the one wrangler generates from
 * wrangler.toml (not a hand-kept copy), and the API Worker's bundle pulls in no node: module, so the Worker needs
 * nothing of nodejs_compat but what wrangler.toml says it keeps it for.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Miniflare } from 'miniflare';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const run = promisify(execFile);
const wrangler = (args: string[]) =>
  run(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' } });

/** Node built-ins a bundle may import under nodejs_compat. None today: a new one must be named here, and why. */
const ALLOWED_NODE_IMPORTS: readonly string[] = [];

describe('Workers build', () => {
  it('worker-configuration.d.ts is what `npm run types:workers` makes of wrangler.toml today', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const args = pkg.scripts['types:workers']!.split(' ').slice(1);
    // --check exits non-zero when the file is not what wrangler would write now.
    await expect(wrangler([...args, '--check'])).resolves.toMatchObject({ stdout: expect.stringMatching(/up to date/) });
  });

  it('the API Worker bundle imports no node: module and starts in workerd', { timeout: 120_000 }, async () => {
    const outdir = await mkdtemp(join(tmpdir(), 'ffedge-bundle-'));
    try {
      await wrangler(['deploy', '--dry-run', '--outdir', outdir]);
      const bundle = await readFile(join(outdir, 'worker.js'), 'utf8');
      expect(bundle.length).toBeGreaterThan(100_000);
      const specifiers = [...bundle.matchAll(/(?:from\s*|import\s*\(\s*|require\s*\(\s*)["'](node:[\w/]+)["']/g)].map((m) => m[1]!);
      expect([...new Set(specifiers)].filter((name) => !ALLOWED_NODE_IMPORTS.includes(name))).toEqual([]);
      // The check itself sees an import where there is one.
      expect([...'import { x } from "node:fs";'.matchAll(/(?:from\s*|import\s*\(\s*|require\s*\(\s*)["'](node:[\w/]+)["']/g)]).toHaveLength(1);

      // The bundle starts in workerd: nothing at its global scope does what workerd allows only inside a handler
      // (a library that aborted an AbortController as it loaded kept `wrangler dev` from starting once).
      const toml = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
      const runtime = new Miniflare({
        modules: true,
        scriptPath: join(outdir, 'worker.js'),
        modulesRoot: outdir,
        compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)![1]!,
        compatibilityFlags: JSON.parse(/^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(toml)![1]!) as string[],
      });
      try {
        expect((await runtime.dispatchFetch('http://localhost/health/live')).status).toBeGreaterThan(0);
      } finally {
        await runtime.dispose();
      }
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  });
});
