/** POST /convert and POST /probe: validate, store the job, hand it to dispatch; 202 with the job and its links. */
import { createRoute, z } from '@hono/zod-openapi';
import { isTerminal, getJob } from '../jobs/queries.js';
import { inputsOf, validateConvert } from '../media/plan.js';
import { problems } from '../problems.js';
import { ConvertBodySchema, ProbeRequestSchema } from '../schemas/convert.js';
import { JobSchema, problemResponses } from '../schemas/job.js';
import { router, type AppEnv } from './env.js';
import { jsonBodyLimit, limitsFor, rateLimit, requireJson, requireKey } from './middleware.js';
import { presentJob } from './present.js';
import { resolveConvertBody } from './presets.js';
import { chooseEngine } from './engine-choice.js';
import { convertKind } from '../kinds/convert.js';
import { acceptedHeaders, submit } from './submit.js';

export const convertApi = router();

convertApi.use('/convert', requireKey('jobs:write'), rateLimit(10), requireJson, jsonBodyLimit);
convertApi.use('/probe', requireKey('jobs:write'), rateLimit(2), requireJson, jsonBodyLimit);

const accepted = {
  202: {
    description: 'Accepted: the job is queued',
    headers: { Location: { schema: { type: 'string' as const } } },
    content: { 'application/json': { schema: JobSchema } },
  },
};

convertApi.openapi(
  createRoute({
    method: 'post',
    path: '/convert',
    summary: 'Convert a media file',
    request: {
      headers: z.object({ 'idempotency-key': z.string().max(255).optional() }),
      body: { required: true, content: { 'application/json': { schema: ConvertBodySchema } } },
    },
    responses: { ...accepted, 409: { description: 'Idempotency key in use' }, 413: { description: 'Body too large' }, 422: { description: 'Cannot be processed' }, ...problemResponses },
  }),
  async (c) => {
    // A named preset is merged in first; the job stores the complete request.
    const request = await resolveConvertBody(c, c.req.valid('json'));
    const found = validateConvert(request, limitsFor(c));
    if (found.length > 0) {
      const first = found[0]!;
      throw problems.unprocessable(first.code, first.message, found.map(({ pointer, message, allowed, suggestion }) => ({ pointer, message, allowed, suggestion })));
    }
    const routed = await chooseEngine(c, convertKind, request, limitsFor(c));
    const { job, replayed } = await submit(c, {
      kind: 'convert',
      request,
      // Every input: the main one, watermark images, concat parts.
      inputs: inputsOf(request),
      priority: request.options.priority,
      engine: routed.engine,
      engineReason: routed.reason,
      webhookUrl: request.webhook_url ?? null,
    });
    return c.json(presentJob(job), 202, acceptedHeaders(job, replayed));
  },
);

/** Probes of small inputs usually finish within this time; the answer then comes at once with the result. */
const PROBE_WAIT_MS = 5_000;

convertApi.openapi(
  createRoute({
    method: 'post',
    path: '/probe',
    summary: 'Probe a media file: format, duration, streams. Answers 200 with the result when it finishes quickly',
    request: {
      headers: z.object({ 'idempotency-key': z.string().max(255).optional() }),
      body: { required: true, content: { 'application/json': { schema: ProbeRequestSchema } } },
    },
    responses: { 200: { description: 'Probed', content: { 'application/json': { schema: JobSchema } } }, ...accepted, ...problemResponses },
  }),
  async (c) => {
    const request = c.req.valid('json');
    const { job, replayed } = await submit(c, {
      kind: 'probe',
      request,
      inputs: [{ pointer: '/input', uri: request.input }],
      priority: 0,
      engine: null,
    });
    const { platform, apiKey } = c.var;
    if (isTerminal(job.status)) return c.json(presentJob(job), 200);
    const gone = new AbortController();
    const subscription = await platform.coordinator.subscribe(job.id, gone.signal);
    try {
      const deadline = platform.clock() + PROBE_WAIT_MS;
      while (platform.clock() < deadline) {
        const current = await getJob(platform.db, job.id, apiKey.id);
        if (current && isTerminal(current.status)) return c.json(presentJob(current), 200);
        await subscription.next(Math.min(platform.config.eventPollMs, deadline - platform.clock()));
      }
    } finally {
      subscription.close();
      gone.abort();
    }
    return c.json(presentJob(job), 202, acceptedHeaders(job, replayed));
  },
);
