import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLibsql, type OpenedDb } from '../../src/runtime/libsql.js';

/** A migrated libSQL file in a temp dir. */
export async function tempDb(): Promise<OpenedDb & { close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ffedge-db-'));
  const opened = await openLibsql(`file:${join(dir, 'test.db')}`);
  return {
    ...opened,
    async close() {
      opened.client.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
