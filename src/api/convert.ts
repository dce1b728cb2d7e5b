/** POST /convert and POST /probe: validate, store the job, hand it to dispatch; 202 with the job and its links. */
import { createRoute, z } from '@hono/zod-openapi';
import { isTerminal, getJob } from '../jobs/queries.js';
import { ConvertBodySchema, ProbeRequestSchema } from '../schemas/convert.js';
import { acceptedResponses, JobSchema, problemResponses } from '../schemas/job.js';
import { router } from './env.js';
import { jsonBodyLimit, rateLimit, requireJson, requireKey } from './middleware.js';
import { presentJob } from './present.js';
import { resolveConvertBody } from './presets.js';
import { convertKind } from '../kinds/convert.js';
import { acceptedHeaders, acceptJob, submit } from './submit.js';

export const convertApi = router();

convertApi.use('/convert', requireKey('jobs:write'), rateLimit(10), requireJson, jsonBodyLimit);
convertApi.use('/probe', requireKey('jobs:write'), rateLimit(2), requireJson, jsonBodyLimit);

convertApi.openapi(
  createRoute({
    method: 'post',
    path: '/convert',
    summary: 'Convert a media file',
    request: {
      headers: z.object({ 'idempotency-key': z.string().max(255).optional() }),
      body: { required: true, content: { 'application/json': { schema: ConvertBodySchema } } },
    },
    responses: { ...acceptedResponses, ...problemResponses },
  }),
  async (c) => {
    // A named preset is merged in first; the job stores the complete request.
    return acceptJob(c, convertKind, await resolveConvertBody(c, c.req.valid('json')));
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
    responses: { 200: { description: 'Probed', content: { 'application/json': { schema: JobSchema } } }, 202: acceptedResponses[202], ...problemResponses },
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
