import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const migrationsDir = fileURLToPath(new URL('./src/db/migrations', import.meta.url));

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/unit/**/*.test.ts', 'test/contract/node.test.ts', 'test/contract/deno.test.ts', 'test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Inside workerd (miniflare) with the bindings of wrangler.toml: D1, R2, the Durable Objects, the queue.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // Override wrangler.toml [vars] for the contract suite (the same values node.test.ts uses), and hand
              // the D1 migrations to test/workers/setup.ts, which applies them.
              bindings: {
                FFEDGE_CONCURRENT_JOBS: '5',
                FFEDGE_UPLOAD_LIMIT: String(1024 * 1024),
                FFEDGE_RATE_LIMIT: '1000000',
                FFEDGE_HEARTBEAT_MS: '1000',
                FFEDGE_EVENT_POLL_MS: '100',
                TEST_MIGRATIONS: await readD1Migrations(migrationsDir),
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['test/contract/workers.test.ts', 'test/workers/**/*.test.ts'],
          setupFiles: ['./test/workers/setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
