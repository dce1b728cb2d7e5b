import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from './schema.js';

export type Schema = typeof schema;
/** The drizzle database behind both D1 and libSQL (async SQLite). The result type differs per driver. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = BaseSQLiteDatabase<'async', any, Schema>;
