/** Runs before every test file of the workers project: the D1 migrations, as `wrangler d1 migrations apply` would. */
import { applyD1Migrations, type D1Migration } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

const { DB, TEST_MIGRATIONS } = env as unknown as { DB: D1Database; TEST_MIGRATIONS: D1Migration[] };
// Applied migrations are recorded in d1_migrations, so a second file in the same storage applies nothing.
await applyD1Migrations(DB, TEST_MIGRATIONS);
