/** POST /convert and POST /probe: validate, store the job, hand it to dispatch; 202 with the job and its links. */
import { createRoute } from '@hono/zod-openapi';
import { isTerminal, getJob } from '../jobs/queries.js';
import { ConvertBodySchema, ProbeRequestSchema } from '../schemas/convert.js';
import { acceptedResponse, IdempotencyHeaders, JobSchema, problemResponses, SUBMIT_PROBLEMS } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { router } from './env.js';
import { jsonBodyLimit, rateLimit, requireJson, requireKey } from './middleware.js';
import { presentSigned } from './present.js';
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
    operationId: 'convert',
    tags: ['jobs'],
    security: BEARER,
    summary: 'Convert a media file',
    description: 'Transcode, trim, crop, resize, watermark, concatenate or extract thumbnails; the job runs on the engine routing picks (or `options.engine`). A `preset` name fills in the rest of the request.',
    request: {
      headers: IdempotencyHeaders,
      body: { required: true, content: { 'application/json': { schema: ConvertBodySchema } } },
    },
    responses: { 202: acceptedResponse, ...problemResponses(...SUBMIT_PROBLEMS) },
  }),
  async (c) => {
    // A named preset is merged in first; the job stores the complete request.
    const accepted = await acceptJob(c, convertKind, await resolveConvertBody(c, c.req.valid('json')));
    return c.json(accepted.body, 202, accepted.headers);
  },
);

/** Probes of small inputs usually finish within this time; the answer then comes at once with the result. */
const PROBE_WAIT_MS = 5_000;

convertApi.openapi(
  createRoute({
    method: 'post',
    path: '/probe',
    operationId: 'probe',
    tags: ['jobs'],
    security: BEARER,
    summary: 'Probe a media file: format, duration, streams. Answers 200 with the result when it finishes quickly',
    request: {
      headers: IdempotencyHeaders,
      body: { required: true, content: { 'application/json': { schema: ProbeRequestSchema } } },
    },
    responses: { 200: { description: 'Probed', content: { 'application/json': { schema: JobSchema } } }, 202: acceptedResponse, ...problemResponses(...SUBMIT_PROBLEMS) },
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
    if (isTerminal(job.status)) return c.json(await presentSigned(platform, job, c.var.apiKey), 200);
    const gone = new AbortController();
    const subscription = await platform.coordinator.subscribe(job.id, gone.signal);
    try {
      const deadline = platform.clock() + PROBE_WAIT_MS;
      while (platform.clock() < deadline) {
        const current = await getJob(platform.db, job.id, apiKey.id);
        if (current && isTerminal(current.status)) return c.json(await presentSigned(platform, current, c.var.apiKey), 200);
        await subscription.next(Math.min(platform.config.eventPollMs, deadline - platform.clock()));
      }
    } finally {
      subscription.close();
      gone.abort();
    }
    return c.json(await presentSigned(platform, job, c.var.apiKey), 202, acceptedHeaders(job, replayed));
  },
);
