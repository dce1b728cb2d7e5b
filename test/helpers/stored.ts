/** What uploads left in storage on a Node or Deno server (the contract suite's `stored`): rows and blob files. */
import { readdir } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Db } from '../../src/db/client.js';
import { uploads } from '../../src/db/schema.js';

export async function storedUploads(db: Db, blobRoot: string): Promise<string[]> {
  const rows = await db.select({ id: uploads.id }).from(uploads);
  // Every file under the root, the `~put-` temp files of writes in progress or abandoned included.
  const entries = await readdir(blobRoot, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => !e.isDirectory()).map((e) => relative(blobRoot, `${e.parentPath}/${e.name}`));
  return [...rows.map((r) => `row:${r.id}`), ...files.map((f) => `blob:${f}`)].sort();
}
