/** The libSQL database of Node and Deno: a local file by default, or a libSQL server URL. */
import { createClient, type Client } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from '../db/client.js';
import * as schema from '../db/schema.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../db/migrations', import.meta.url));

export interface OpenedDb {
  db: Db;
  client: Client;
}

export async function openLibsql(url: string, authToken?: string): Promise<OpenedDb> {
  if (url.startsWith('file:')) await mkdir(dirname(resolve(url.slice('file:'.length))), { recursive: true });
  const client = createClient({ url, ...(authToken ? { authToken } : {}) });
  if (url.startsWith('file:')) {
    // WAL lets readers (SSE, lists) proceed during writes; busy_timeout makes several processes on one file wait
    // for the write lock instead of failing.
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA busy_timeout = 10000');
  }
  const db = drizzle(client, { schema }) as unknown as Db;
  await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
  return { db, client };
}
