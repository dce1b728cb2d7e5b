import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7 } from 'uuidv7';
import type { Db } from '../../src/db/client.js';
import type { Job } from '../../src/db/schema.js';
import { createJob, type NewJobInput } from '../../src/jobs/create.js';
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

/** A queued convert job of `apiKeyId` as createJob makes it, for tests of what happens to jobs afterwards. */
export async function queuedJob(db: Db, overrides: Partial<NewJobInput> = {}): Promise<Job> {
  const { job } = await createJob(db, {
    id: uuidv7(),
    apiKeyId: 'key',
    kind: 'convert',
    request: { input: 'upload:x', output: 'mp4' },
    priority: 0,
    engine: null,
    maxAttempts: 3,
    concurrentLimit: 1000,
    now: 1_000,
    ...overrides,
  });
  return job;
}
