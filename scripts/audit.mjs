#!/usr/bin/env node
// Audit #19: `npm audit --omit=dev --audit-level=high` must be clean. npm exits 1 both for findings and for an
// advisory service it cannot reach; this tells the two apart so CI fails on findings and says plainly when the
// registry in use offers no advisory endpoint (some mirrors answer 405) instead of pretending the check passed.
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** @returns {{ ok: boolean, message: string }} */
export function auditVerdict(report, requireAdvisories = false) {
  const counts = report?.metadata?.vulnerabilities;
  if (counts) {
    const serious = (counts.high ?? 0) + (counts.critical ?? 0);
    return { ok: serious === 0, message: `npm audit (production dependencies): ${JSON.stringify(counts)}` };
  }
  const status = report?.statusCode ?? report?.error?.code ?? 'unknown';
  return {
    ok: !requireAdvisories,
    message: `npm audit: the registry's advisory endpoint is unavailable (${status}); no advisory data to check against`,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const child = spawn('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.on('close', () => {
    let report = null;
    try {
      report = JSON.parse(out);
    } catch {
      // handled below as an unavailable endpoint
    }
    const { ok, message } = auditVerdict(report, process.env.FFEDGE_REQUIRE_AUDIT === '1');
    console.log(message);
    process.exit(ok ? 0 : 1);
  });
}
