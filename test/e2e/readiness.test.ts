/**
 * Readiness proves the database can be written, not only read (audit #25): a database that refuses writes refuses
 * every job, and a `select 1` still answers on it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

type Ready = { status: string; components: Record<string, { status: string; error?: string }> };

let server: TestServer;
const libsql = () => (server.platform.db as unknown as { $client: Client }).$client;
const dbFiles = () => ['ffedge.db', 'ffedge.db-wal'].map((name) => join(server.dir, 'data', name));

async function ready(): Promise<{ status: number; body: Ready }> {
  const res = await server.fetch('/health/ready');
  return { status: res.status, body: (await res.json()) as Ready };
}

/**
 * `chattr +i` makes a file immutable even for root (chmod does not stop root) and even through descriptors already
 * open, as a database mid-run has them. It needs root (CAP_LINUX_IMMUTABLE) and a file system with the flag (ext4,
 * xfs...; not tmpfs or overlayfs): probed once here, on a file in the same temp dir the servers use.
 */
async function canMakeImmutable(): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'ffedge-chattr-'));
  const probe = join(dir, 'probe');
  await writeFile(probe, 'x');
  try {
    execFileSync('chattr', ['+i', probe], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const immutable = await canMakeImmutable();

beforeEach(async () => {
  server = await startTestServer({ FFEDGE_POOL_SIZE: '0' }, { start: false });
});
afterEach(async () => {
  await server?.close();
});

describe('readiness and the database', () => {
  it('audit #25: a database connection that can read but not write fails readiness', async () => {
    expect(await ready()).toMatchObject({ status: 200, body: { components: { database: { status: 'ok' } } } });

    // A read-only connection (SQLite's query_only): the state a read-only check used to report as healthy.
    await libsql().execute('PRAGMA query_only = 1');
    try {
      await libsql().execute('select 1');
      const down = await ready();
      expect(down.status).toBe(503);
      expect(down.body.status).toBe('fail');
      expect(down.body.components.database).toMatchObject({ status: 'fail', error: 'unavailable' });
      expect(down.body.components.blobs?.status).toBe('ok');
    } finally {
      await libsql().execute('PRAGMA query_only = 0');
    }
    expect((await ready()).status).toBe(200);
  });

  it.skipIf(!immutable)('audit #25: a database file made immutable mid-run (chattr +i on the db and its WAL) fails readiness', async () => {
    expect((await ready()).status).toBe(200);
    execFileSync('chattr', ['+i', ...dbFiles()]);
    try {
      await libsql().execute('select 1'); // still reads
      const down = await ready();
      expect(down.status).toBe(503);
      expect(down.body.components.database).toMatchObject({ status: 'fail', error: 'unavailable' });
    } finally {
      execFileSync('chattr', ['-i', ...dbFiles()]);
    }
    expect((await ready()).status).toBe(200);
  });
});
