/**
 * The HTTP contract suite against the Deno server: `deno task start` (deno/deno.json) as a child process on a free
 * port with a temp data dir, the limits node.test.ts uses, and no pool (jobs stay where the API put them). Keys are
 * written to the same libSQL file the Deno process uses, as `npm run keys` would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLibsql, type OpenedDb } from '../../src/runtime/libsql.js';
import { createKey, type Scope } from '../../src/security/api-keys.js';
import { getFrom } from '../helpers/http-from.js';
import { freePort, stderrTail, waitHealthy } from '../helpers/services.js';
import { storedUploads } from '../helpers/stored.js';
import { contractSuite } from './suite.js';

const ROOT = resolve(import.meta.dirname, '../..');
const UPLOAD_LIMIT = 1024 * 1024;
const CONCURRENT_JOBS = 5;

interface DenoServer {
  dir: string;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `deno task start` on a free port with a temp data dir and these variables over the defaults below. */
async function startDeno(extraEnv: Record<string, string> = {}): Promise<DenoServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ffedge-deno-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(join(ROOT, 'node_modules/.bin/deno'), ['task', 'start'], {
    cwd: join(ROOT, 'deno'),
    env: {
      // The task's own `deno` is found on PATH, as under `npx deno task start`.
      PATH: `${join(ROOT, 'node_modules/.bin')}${delimiter}${process.env.PATH ?? ''}`,
      HOME: process.env.HOME,
      ...(process.env.DENO_DIR ? { DENO_DIR: process.env.DENO_DIR } : {}),
      NO_COLOR: '1',
      PORT: String(port),
      FFEDGE_DATA_DIR: join(dir, 'data'),
      FFEDGE_TMP_DIR: join(dir, 'tmp'),
      FFEDGE_POOL_SIZE: '0',
      FFEDGE_UPLOAD_LIMIT: String(UPLOAD_LIMIT),
      FFEDGE_CONCURRENT_JOBS: String(CONCURRENT_JOBS),
      FFEDGE_RATE_LIMIT: '1000000',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group: `deno task` runs `deno run` as a child, and both are stopped together.
    detached: true,
  });
  const stop = async () => {
    if (child.pid && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const stderr = stderrTail(child);
  try {
    await waitHealthy(child, `${url}/health/ready`, 90_000);
  } catch (error) {
    await stop();
    throw new Error(`deno task start did not become ready (is its cache installed? see .ci/run): ${String(error)}\n${stderr()}`);
  }
  return { dir, url, child, stop };
}

let server: DenoServer | undefined;
let db: OpenedDb | undefined;

beforeAll(async () => {
  server = await startDeno();
  // The Deno process has migrated the file; opening it again finds nothing to apply.
  db = await openLibsql(`file:${join(server.dir, 'data', 'ffedge.db')}`);
}, 120_000);

afterAll(async () => {
  db?.client.close();
  await server?.stop();
});

describe('rate limits on Deno', () => {
  it('audit #10: traffic without a key is limited by the peer address Deno.serve reports: RateLimit headers, then 429 with Retry-After', async () => {
    const limited = await startDeno({ FFEDGE_RATE_LIMIT: '2', FFEDGE_RATE_WINDOW_S: '60' });
    try {
      const get = (from: string) => getFrom(`${limited.url}/api/v1/capabilities`, { from, headers: { 'x-forwarded-for': crypto.randomUUID() } });
      for (const remaining of [1, 0]) {
        const answer = await get('127.0.0.2');
        expect(answer.status).toBe(200);
        expect(answer.headers['ratelimit-policy']).toBe('"default";q=2;w=60');
        expect(answer.headers['ratelimit']).toMatch(new RegExp(`^"default";r=${remaining};t=\\d+$`));
      }
      const refused = await get('127.0.0.2');
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
      expect(refused.headers['retry-after']).toBe('30');
      expect(refused.headers['ratelimit']).toBe('"default";r=0;t=30');
      // Another peer address is another client.
      expect((await get('127.0.0.3')).status).toBe(200);
    } finally {
      await limited.stop();
    }
  }, 120_000);
});

contractSuite('deno', () => ({
  fetch: (path, init) => fetch(server!.url + path, init),
  key: async (scopes) => (await createKey(db!.db, { name: 'test', scopes: scopes as Scope[] | undefined, now: Date.now() })).key,
  concurrentJobs: CONCURRENT_JOBS,
  uploadBytes: UPLOAD_LIMIT,
  stored: () => storedUploads(db!.db, join(server!.dir, 'data', 'blobs')),
}));
