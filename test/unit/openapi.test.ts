/**
 * The OpenAPI document a server serves passes `redocly lint` with the recommended rules (redocly.yaml), warnings
 * included, and is the one `npm run openapi` prints. What it promises of each route's answers is checked against the
 * answers themselves by the contract suite (test/contract/suite.ts), and the results of each kind by the end-to-end
 * tests (test/helpers/api.ts).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ FFEDGE_POOL_SIZE: '0' }, { start: false });
});
afterAll(async () => server?.close());

type Doc = { servers: { url: string }[]; paths: Record<string, Record<string, { operationId?: string; security?: unknown[]; responses: Record<string, unknown> }>> };

async function served(): Promise<Doc> {
  const res = await server.fetch('/api/v1/openapi.json');
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

describe('the OpenAPI document', () => {
  it('passes redocly lint with the recommended rules, without a warning', { timeout: 60_000 }, async () => {
    // The path the lint-ignore file (.redocly.lint-ignore.yaml) names its two accepted exceptions under.
    await mkdir(join(ROOT, 'dist'), { recursive: true });
    await writeFile(join(ROOT, 'dist/openapi.json'), JSON.stringify(await served(), null, 2));
    const { stdout } = await run(process.execPath, [join(ROOT, 'node_modules/@redocly/cli/bin/cli.js'), 'lint', 'dist/openapi.json', '--format=json'], {
      cwd: ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
      totals: { errors: number; warnings: number; ignored: number };
      problems: { ruleId: string; message: string; ignored?: boolean; location: { pointer: string }[] }[];
    };
    const found = report.problems.filter((p) => !p.ignored).map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
    expect(found).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0, ignored: 2 });
  });

  it('names every operation, and says for each whether it needs a key', async () => {
    const doc = await served();
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, ...op })));
    expect(operations.length).toBeGreaterThan(20);
    const ids = operations.map((op) => op.operationId);
    expect(ids.filter((id) => !id)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    const open = operations.filter((op) => Array.isArray(op.security) && op.security.length === 0).map((op) => `${op.method} ${op.path}`);
    expect(open.sort()).toEqual(['get /api/v1/o/{token}/{name}', 'get /api/v1/openapi.json', 'get /health', 'get /health/ready', 'options /api/v1/uploads/tus']);
    for (const op of operations) expect(op.security, `${op.method} ${op.path}`).toBeDefined();
    // A server URL clients can use as it is: this one's origin unless FFEDGE_PUBLIC_URL says otherwise.
    expect(doc.servers).toEqual([{ url: new URL(server.url).origin, description: 'This service' }]);
  });

  it('is the document `npm run openapi` prints', { timeout: 60_000 }, async () => {
    const origin = new URL(server.url).origin;
    const { stdout } = await run(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/openapi.ts', origin], { cwd: ROOT });
    expect(JSON.parse(stdout)).toEqual(await served());
    expect(JSON.parse(await readFile(join(ROOT, 'dist/openapi.json'), 'utf8'))).toEqual(await served());
  });
});
