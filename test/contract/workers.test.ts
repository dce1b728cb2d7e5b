/**
 * The HTTP contract suite inside workerd: the Worker's own fetch handler (src/runtime/worker.ts) on D1, R2 and the
 * Durable Objects of wrangler.toml, with the limits of vitest.config.ts (the same as node.test.ts). Jobs are sent
 * to the JOBS queue, which has no consumer, so every job stays where the API put it.
 */
import { env, exports } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import type { Db } from '../../src/db/client.js';
import * as schema from '../../src/db/schema.js';
import { loadConfig } from '../../src/config.js';
import { varsOf } from '../../src/runtime/worker-env.js';
import { createKey, type Scope } from '../../src/security/api-keys.js';
import { contractSuite } from './suite.js';

const worker = (exports as unknown as { default: Fetcher }).default;
const db = drizzle(env.DB, { schema }) as unknown as Db;
const bucket = (env as unknown as { BLOBS: R2Bucket }).BLOBS;
// The limits the Worker itself reads from its variables.
const { limits } = loadConfig(varsOf(env));

contractSuite('workers', () => ({
  fetch: (path, init) => worker.fetch(new Request(`https://ffedge.test${path}`, init)),
  key: async (scopes) => (await createKey(db, { name: 'test', scopes: scopes as Scope[] | undefined, now: Date.now() })).key,
  concurrentJobs: limits.concurrentJobs,
  uploadBytes: limits.uploadBytes,
  async stored() {
    const rows = await db.select({ id: schema.uploads.id }).from(schema.uploads);
    const objects: string[] = [];
    for (let cursor: string | undefined; ; ) {
      const page = await bucket.list(cursor ? { cursor } : {});
      objects.push(...page.objects.map((o) => o.key));
      if (!page.truncated) break;
      cursor = page.cursor;
    }
    return [...rows.map((r) => `row:${r.id}`), ...objects.map((key) => `blob:${key}`)].sort();
  },
}));
