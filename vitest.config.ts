import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const migrationsDir = fileURLToPath(new URL('./src/db/migrations', import.meta.url));
const compatibilityDate = '2026-04-20';

function workersProject(options: { name: string; include: string[]; runJobs: boolean }) {
  return {
    plugins: [
      cloudflareTest(async ({ inject }) => {
        const native = inject('nativeWorker');
        return {
          wrangler: { configPath: './wrangler.toml' },
          miniflare: {
            ...(options.runJobs
              ? {
                  workers: [
                    {
                      name: 'ffedge-wasm',
                      modules: true,
                      scriptPath: `${inject('wasmWorkerDir')}/worker.js`,
                      modulesRules: [{ type: 'CompiledWasm' as const, include: ['**/*-wasm'] }],
                      compatibilityDate,
                      bindings: { FFEDGE_WORKER_TOKEN: native.token },
                    },
                  ],
                }
              : {
                  queueProducers: { JOBS: { queueName: 'ffedge-jobs-parked' }, WEBHOOKS: { queueName: 'ffedge-webhooks-parked' } },
                  // No wasm Worker here: routing sees the native engine only.
                  serviceBindings: { WASM: () => new Response('no wasm engine in this project', { status: 503 }) },
                }),
            // Override wrangler.toml [vars] for the contract suite (the same values node.test.ts uses), and hand the
            // D1 migrations to test/workers/setup.ts, which applies them.
            bindings: {
              FFEDGE_CONCURRENT_JOBS: '5',
              // The contract suite's limit; jobs need room for a clip long enough to cancel mid-run.
              FFEDGE_UPLOAD_LIMIT: String((options.runJobs ? 16 : 1) * 1024 * 1024),
              FFEDGE_RATE_LIMIT: '1000000',
              FFEDGE_HEARTBEAT_MS: '1000',
              FFEDGE_EVENT_POLL_MS: '100',
              // Workers sign links only with a configured secret (Node and Deno make one per process).
              FFEDGE_LINK_SECRET: 'test-link-secret-of-at-least-32-characters',
              FFEDGE_LEASE_MS: '3000',
              FFEDGE_WORKER_TOKEN: native.token,
              FFEDGE_TRANSCODER_LOCAL_URL: native.url,
              // The webhook receiver of the workers-jobs project is plain http on 127.0.0.1 (webhook-receiver.setup.ts).
              ...(options.runJobs
                ? { FFEDGE_OUTBOUND_ALLOW_HTTP: '1', FFEDGE_OUTBOUND_ALLOW_LOOPBACK: '1', FFEDGE_OUTBOUND_PORTS: '*', FFEDGE_WEBHOOK_BACKOFF_MS: '50', FFEDGE_WEBHOOK_BACKOFF_CAP_MS: '100' }
                : {}),
              TEST_MIGRATIONS: await readD1Migrations(migrationsDir),
            },
          },
        };
      }),
    ],
    test: {
      name: options.name,
      include: options.include,
      globalSetup: [
        './test/workers/native-worker.setup.ts',
        // The SDK suite in workerd talks to real Node servers (test/workers/sdk.test.ts).
        ...(options.runJobs ? [] : ['./test/sdk/servers.setup.ts']),
        ...(options.runJobs ? ['./test/workers/wasm-worker.setup.ts', './test/workers/jobs/media.setup.ts', './test/workers/jobs/webhook-receiver.setup.ts'] : []),
      ],
      setupFiles: ['./test/workers/setup.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
    },
  };
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/unit/**/*.test.ts', 'test/contract/node.test.ts', 'test/contract/deno.test.ts', 'test/e2e/**/*.test.ts', 'test/sdk/*.test.ts', 'test/cli/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      // Inside workerd (miniflare) with the bindings of wrangler.toml: D1, R2, the Durable Objects, the queue. The
      // Transcoder's container is the real native worker that test/workers/native-worker.setup.ts starts.
      workersProject({
        name: 'workers',
        include: ['test/contract/workers.test.ts', 'test/workers/*.test.ts'],
        // Jobs stay where the API put them (as in node.test.ts): the producer sends to a queue nobody consumes.
        runJobs: false,
      }),
      // Jobs that run: the JOBS consumer, the JobCoordinator, the wasm Worker (an auxiliary Worker, bound as WASM)
      // and the Transcoder.
      workersProject({ name: 'workers-jobs', include: ['test/workers/jobs/**/*.test.ts'], runJobs: true }),
    ],
  },
});
