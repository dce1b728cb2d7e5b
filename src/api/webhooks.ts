/**
 * Webhooks: a job's delivery log and replay (under /jobs/:id, authenticated and charged by jobs.ts's middleware for
 * /jobs/*), a signed test message to any receiver, and the key's signing secret. Deliveries are sent by
 * src/delivery/ (the dispatcher on Node, the WEBHOOKS queue on Workers).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import { apiKeys } from '../db/schema.js';
import { pingWebhook } from '../delivery/deliver.js';
import { deliveryLog, replayDeliveries } from '../delivery/deliveries.js';
import { newWebhookSecret } from '../delivery/signing.js';
import { checkOutboundUrl } from '../delivery/ssrf.js';
import { getJob } from '../jobs/queries.js';
import { problems } from '../problems.js';
import { JobIdParams, JSON_BODY, KEYED, problemResponses } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { WebhookUrl } from '../schemas/values.js';
import { router } from './env.js';
import { jsonBodyLimit, rateLimit, requireJson, requireKey } from './middleware.js';

export const webhooksApi = router();

/** A test message leaves the service: it costs what an upload does. */
const TEST_COST = 5;

webhooksApi.use('/webhooks/*', requireKey('jobs:write'), rateLimit(TEST_COST), jsonBodyLimit);
webhooksApi.use('/webhooks/test', requireJson);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const AttemptSchema = z.object({
  attempt: z.number().int(),
  at: z.string(),
  duration_ms: z.number().int(),
  status_code: z.number().int().nullable(),
  error: z.string().nullable().openapi({ description: 'Why there was no answer: timeout, connect, dns, tls, blocked, protocol' }),
  next_attempt_at: z.string().nullable(),
});

const DeliverySchema = z
  .object({
    webhook_id: z.string().openapi({ description: 'The `webhook-id` header: the event id, the same on every retry and replay (and the SSE event id)' }),
    event: z.string(),
    url: z.string(),
    status: z.enum(['pending', 'delivered', 'failed', 'stopped']),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    log: z.array(AttemptSchema),
  })
  .openapi('WebhookDelivery');

webhooksApi.openapi(
  createRoute({
    method: 'get',
    path: '/jobs/{id}/webhooks',
    operationId: 'listWebhookDeliveries',
    tags: ['webhooks'],
    security: BEARER,
    summary: "A job's webhook deliveries, each with every attempt (status code or error class, duration, next attempt)",
    request: { params: JobIdParams },
    responses: { 200: { description: 'The delivery log', content: { 'application/json': { schema: z.object({ items: z.array(DeliverySchema) }) } } }, ...problemResponses(...KEYED, 400, 404) },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const { id } = c.req.valid('param');
    if (!(await getJob(platform.db, id, apiKey.id))) throw problems.notFound('No such job.');
    const items = (await deliveryLog(platform.db, id)).map((d) => ({
      webhook_id: String(d.eventId),
      event: d.event,
      url: d.url,
      status: d.status,
      attempts: d.attempts,
      next_attempt_at: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
      delivered_at: iso(d.deliveredAt),
      last_status_code: d.lastStatusCode,
      last_error: d.lastError,
      log: d.log.map((a) => ({
        attempt: a.attempt,
        at: iso(a.startedAt)!,
        duration_ms: a.durationMs,
        status_code: a.statusCode,
        error: a.error,
        next_attempt_at: iso(a.nextAttemptAt),
      })),
    }));
    return c.json({ items }, 200);
  },
);

const ReplaySchema = z
  .object({ event_id: z.coerce.number().int().min(1).optional().openapi({ description: 'One delivery (its webhook_id); all of the job’s when absent' }) })
  .strict()
  .openapi('WebhookReplay');

webhooksApi.openapi(
  createRoute({
    method: 'post',
    path: '/jobs/{id}/webhooks/replay',
    operationId: 'replayWebhooks',
    tags: ['webhooks'],
    security: BEARER,
    summary: 'Send a job’s webhooks again (all, or one event’s): same ids, same bodies, due now',
    request: { params: JobIdParams, body: { required: false, content: { 'application/json': { schema: ReplaySchema } } } },
    responses: {
      202: { description: 'Replayed', content: { 'application/json': { schema: z.object({ replayed: z.number().int() }) } } },
      ...problemResponses(...KEYED, ...JSON_BODY, 404, 409),
    },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const { id } = c.req.valid('param');
    const job = await getJob(platform.db, id, apiKey.id);
    if (!job) throw problems.notFound('No such job.');
    const body = (c.req.header('content-type') ?? '').includes('json') ? c.req.valid('json') : {};
    const replayed = await replayDeliveries(platform.db, id, platform.clock(), body?.event_id);
    if (body?.event_id !== undefined && replayed === 0) throw problems.notFound('No such delivery for this job.');
    if (replayed > 0) await platform.webhooks.kick(id);
    return c.json({ replayed }, 202);
  },
);

const TestSchema = z.object({ url: WebhookUrl }).strict().openapi('WebhookTest');

const TestResultSchema = z
  .object({
    delivered: z.boolean(),
    webhook_id: z.string(),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number().int(),
  })
  .openapi('WebhookTestResult');

webhooksApi.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks/test',
    operationId: 'testWebhook',
    tags: ['webhooks'],
    security: BEARER,
    summary: 'Send a signed `webhook.ping` to a URL now, to check a receiver and its signature verification',
    request: { body: { required: true, content: { 'application/json': { schema: TestSchema } } } },
    responses: { 200: { description: 'What the receiver answered', content: { 'application/json': { schema: TestResultSchema } } }, ...problemResponses(...KEYED, ...JSON_BODY) },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const { url } = c.req.valid('json');
    const checked = checkOutboundUrl(url, platform.config.outbound);
    if (!checked.ok) throw problems.unprocessable('UNSAFE_URL', 'The webhook URL cannot be used.', [{ pointer: '/url', message: checked.message }]);
    const key = await platform.db.select().from(apiKeys).where(eq(apiKeys.id, apiKey.id)).get();
    const result = await pingWebhook(platform.webhooks.outbound, platform.clock, key!, checked.url.href, `ping_${platform.ids()}`);
    if (!result) {
      throw problems.unprocessable('NO_WEBHOOK_SECRET', 'This key has no webhook signing secret yet.', [
        { pointer: '/url', message: 'webhooks are signed with the key’s secret', suggestion: 'POST /api/v1/webhooks/secret makes one (shown once)' },
      ]);
    }
    return c.json(result, 200);
  },
);

const SecretRequestSchema = z
  .object({
    overlap_s: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .optional()
      .openapi({ description: 'How long the secret being replaced still signs (both signatures are sent); 24 h by default' }),
  })
  .strict()
  .openapi('WebhookSecretRotation');

const SecretSchema = z
  .object({
    secret: z.string().openapi({ description: 'The new `whsec_` signing secret; shown only now', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
    previous_valid_until: z.string().nullable().openapi({ description: 'Until when the replaced secret still signs; null when there was none' }),
  })
  .openapi('WebhookSecret');

webhooksApi.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks/secret',
    operationId: 'rotateWebhookSecret',
    tags: ['webhooks'],
    security: BEARER,
    summary: 'Make a new signing secret for this key’s webhooks (shown once); the replaced one keeps signing for the overlap',
    request: { body: { required: false, content: { 'application/json': { schema: SecretRequestSchema } } } },
    responses: { 201: { description: 'The new secret', content: { 'application/json': { schema: SecretSchema } } }, ...problemResponses(...KEYED, ...JSON_BODY) },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const body = (c.req.header('content-type') ?? '').includes('json') ? c.req.valid('json') : {};
    const overlapMs = body?.overlap_s !== undefined ? body.overlap_s * 1000 : platform.config.webhooks.secretOverlapMs;
    const now = platform.clock();
    const current = await platform.db.select().from(apiKeys).where(eq(apiKeys.id, apiKey.id)).get();
    const secret = newWebhookSecret();
    const previousUntil = current?.webhookSecret && overlapMs > 0 ? now + overlapMs : null;
    await platform.db
      .update(apiKeys)
      .set({ webhookSecret: secret, webhookSecretPrevious: previousUntil ? current!.webhookSecret : null, webhookSecretPreviousUntil: previousUntil })
      .where(eq(apiKeys.id, apiKey.id));
    return c.json({ secret, previous_valid_until: iso(previousUntil) }, 201);
  },
);
