import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const text = (file: string) => readFile(new URL(`../../../${file}`, import.meta.url), 'utf8');

describe('supply chain (Deno)', () => {
  it('deno/deno.json maps each package to the version package-lock.json installs for Node', async () => {
    const config = JSON.parse(await text('deno/deno.json')) as { imports: Record<string, string>; nodeModulesDir: string };
    const lock = JSON.parse(await text('package-lock.json')) as { packages: Record<string, { version: string }> };
    expect(config.nodeModulesDir).toBe('none');
    const mapped = Object.values(config.imports);
    expect(mapped.length).toBeGreaterThan(0);
    for (const target of mapped) {
      const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)\/?$/.exec(target);
      expect(match, target).not.toBeNull();
      const [, name, version] = match!;
      expect(version, name).toBe(lock.packages[`node_modules/${name}`]?.version);
    }
  });

  it('deno/deno.json maps every package the server code imports (a new import would fail only at run time on Deno)', async () => {
    const { imports } = JSON.parse(await text('deno/deno.json')) as { imports: Record<string, string> };
    const covered = (specifier: string) =>
      specifier in imports || Object.keys(imports).some((key) => key.endsWith('/') && specifier.startsWith(key));
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const files = [
      ...(await readdir(join(root, 'src'), { recursive: true })).map((f) => join('src', f)),
      ...(await readdir(join(root, 'wasm'), { recursive: true })).map((f) => join('wasm', f)),
      // The preview page's modules run in browsers, bundled by esbuild: Deno never loads them.
    ].filter((f) => /\.(ts|mjs)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith(join('wasm', 'browser')));
    const missing = new Set<string>();
    for (const file of files) {
      const source = await readFile(join(root, file), 'utf8');
      for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const specifier = match[1] ?? match[2]!;
        if (/^(\.|node:|cloudflare:)/.test(specifier)) continue;
        // Node's HTTP server: the Deno entry serves with Deno.serve instead.
        if (specifier === '@hono/node-server') continue;
        if (!covered(specifier)) missing.add(`${specifier} (${file})`);
      }
    }
    expect([...missing]).toEqual([]);
  });

  it('deno/deno.lock is committed with integrity hashes and CI installs it frozen, before the tests', async () => {
    const lock = JSON.parse(await text('deno/deno.lock')) as { npm: Record<string, { integrity: string }> };
    for (const [name, entry] of Object.entries(lock.npm)) expect(entry.integrity, name).toMatch(/^sha(512|384|256|1)-/);
    const ci = await text('.ci/run');
    expect(ci).toMatch(/deno install --frozen/);
    expect(ci.indexOf('deno install')).toBeLessThan(ci.indexOf('npm test'));
    // The server itself never downloads: a missing package fails the start instead.
    const tasks = JSON.parse(await text('deno/deno.json')).tasks as Record<string, string>;
    expect(tasks.start).toMatch(/--cached-only/);
    expect(tasks.start).toMatch(/--frozen/);
  });
});
