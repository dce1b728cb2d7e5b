import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { auditVerdict } from '../../../scripts/audit.mjs';

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
      if (path === '' || entry.link) continue;
      expect(entry.version, path).toMatch(/^\d+\.\d+\.\d+/);
      expect(entry.integrity, path).toMatch(/^sha(512|384|256|1)-/);
    }
    const ci = await readFile(new URL('../../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/^npm ci\b/m);
  });

  it('audit #19: the CI gate fails on high or critical advisories and passes a clean report', () => {
    const report = (high: number, critical: number) => ({ metadata: { vulnerabilities: { low: 3, moderate: 1, high, critical } } });
    expect(auditVerdict(report(0, 0)).ok).toBe(true);
    expect(auditVerdict(report(1, 0)).ok).toBe(false);
    expect(auditVerdict(report(0, 2)).ok).toBe(false);
    expect(auditVerdict({ statusCode: 405 }, true).ok).toBe(false);
    expect(auditVerdict({ statusCode: 405 }).message).toMatch(/unavailable \(405\)/);
  });
});
