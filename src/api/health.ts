/**
 * GET /health (liveness: the process answers) and GET /health/ready (each dependency checked with a timeout; 503
 * naming the ones that failed, audit #25).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { heartbeats } from '../db/schema.js';
import type { Platform, ReadinessCheck } from '../platform.js';
import { router } from './env.js';
import { PUBLIC } from './openapi.js';

export const healthApi = router();

const CHECK_TIMEOUT_MS = 2_000;

const ComponentSchema = z.object({ status: z.enum(['ok', 'fail']), latency_ms: z.number(), error: z.string().optional() });
const BreakerSchema = z.object({ name: z.string().openapi({ example: 'webhook:example.com' }), state: z.enum(['open', 'half-open']) });
const ReadySchema = z
  .object({
    status: z.enum(['ok', 'fail']),
    components: z.record(z.string(), ComponentSchema),
    breakers: z.array(BreakerSchema).openapi({ description: 'Circuit breakers that are not closed: webhook hosts, the blob store' }),
  })
  .openapi('Readiness');

healthApi.openapi(
  createRoute({
    method: 'get',
    path: '/health',
    operationId: 'getLiveness',
    tags: ['service'],
    security: PUBLIC,
    summary: 'Liveness',
    responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
  }),
  (c) => c.json({ status: 'ok' as const }, 200),
);

healthApi.openapi(
  createRoute({
    method: 'get',
    path: '/health/ready',
    operationId: 'getReadiness',
    tags: ['service'],
    security: PUBLIC,
    summary: 'Readiness of the database, blob storage, engines and runtime-specific parts',
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: ReadySchema } } },
      503: { description: 'A component failed', content: { 'application/json': { schema: ReadySchema } } },
    },
  }),
  async (c) => {
    const platform = c.var.platform;
    const results = await Promise.all(checksOf(platform).map((check) => run(check, platform.clock)));
    const components = Object.fromEntries(results);
    const ok = results.every(([, r]) => r.status === 'ok');
    // An open breaker of a webhook host is that host's trouble; the blob store's shows in its own check.
    const breakers = platform.webhooks.breakers.open();
    return c.json({ status: ok ? ('ok' as const) : ('fail' as const), components, breakers }, ok ? 200 : 503);
  },
);

function checksOf(platform: Platform): ReadinessCheck[] {
  return [
    { name: 'database', check: () => writeHeartbeat(platform) },
    { name: 'blobs', check: (signal) => platform.blobs.check(signal) },
    {
      name: 'engines',
      check: async () => {
        if ((await platform.engines()).length === 0) throw new Error('no engine available');
      },
    },
    ...(platform.readiness ?? []),
  ];
}

/**
 * A committed write: a read (`select 1`) still answers when the file is read-only or the disk is full, and a write
 * rolled back before commit never reaches the WAL, so neither would notice a database that refuses jobs.
 */
async function writeHeartbeat(platform: Platform): Promise<void> {
  const at = platform.clock();
  await platform.db
    .insert(heartbeats)
    .values({ name: 'readiness', at })
    .onConflictDoUpdate({ target: heartbeats.name, set: { at: sql`excluded.at` } });
}

async function run(check: ReadinessCheck, clock: () => number) {
  const started = clock();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`));
    }, CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check.check(controller.signal), timeout]);
    return [check.name, { status: 'ok' as const, latency_ms: clock() - started }] as const;
  } catch (error) {
    // Only the check's own short reason: readiness is for operators, but it is still public.
    const reason = error instanceof Error && /^(timed out|no engine)/.test(error.message) ? error.message : 'unavailable';
    return [check.name, { status: 'fail' as const, latency_ms: clock() - started, error: reason }] as const;
  } finally {
    clearTimeout(timer);
  }
}
