/** GET/DELETE /jobs, /jobs/:id, and a job's events (SSE), logs and outputs. */
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import * as transitions from '../jobs/transitions.js';
import { eventsAfter, getJob, isTerminal, listJobs } from '../jobs/queries.js';
import { fromZodError, problems } from '../problems.js';
import { JobIdParams, JobListSchema, JobSchema, KEYED, ListJobsQuery, OutputSchema, problemResponses } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { router } from './env.js';
import { rateLimit, requireKey, requireLink } from './middleware.js';
import { decodeCursor, encodeCursor, presentSigned } from './present.js';
import { serveOutput } from './serve-output.js';
import { deleteJobOutputs } from '../storage/retention.js';

export const jobsApi = router();

const LAST_EVENT_ID = z.string().regex(/^\d{1,15}$/).optional();
const LastEventIdHeaders = z.object({
  'last-event-id': LAST_EVENT_ID.openapi({ description: 'The id of the last event seen: the stream goes on after it (EventSource sends it when it reconnects)', example: '12' }),
});
const LastEventIdQuery = z.object({
  last_event_id: LAST_EVENT_ID.openapi({ description: 'As Last-Event-ID, for clients that cannot send the header', example: '12' }),
  token: z.string().max(200).optional().openapi({ description: 'The signed token of the job’s `links.events_url`, instead of the key' }),
});

// `/jobs/*` also matches `/jobs` itself: one authentication and one charge per request.
// Reads need jobs:read; anything that changes a job (cancel, a webhook replay in webhooks.ts) needs jobs:write.
// A job's events also open with its signed events_url (`?token=`), for a browser's EventSource.
const EVENTS_PATH = /\/jobs\/[^/]+\/events$/;
jobsApi.use(
  '/jobs/*',
  (c, next) => {
    const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (reading && c.req.query('token') !== undefined && EVENTS_PATH.test(c.req.path)) return requireLink('events', 'jobs:read')(c, next);
    return requireKey(reading ? 'jobs:read' : 'jobs:write')(c, next);
  },
  rateLimit(1),
);

jobsApi.openapi(
  createRoute({
    method: 'get',
    path: '/jobs',
    operationId: 'listJobs',
    tags: ['jobs'],
    security: BEARER,
    summary: 'List jobs of this key, newest first by default, with keyset pagination',
    request: { query: ListJobsQuery },
    responses: { 200: { description: 'A page of jobs', content: { 'application/json': { schema: JobListSchema } } }, ...problemResponses(...KEYED, 400) },
  }),
  async (c) => {
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (after === null) throw problems.validation([{ parameter: 'cursor', message: 'Not a cursor from this API.' }]);
    const page = await listJobs(c.var.platform.db, { apiKeyId: c.var.apiKey.id, ...q, after });
    return c.json({ items: await Promise.all(page.items.map((job) => presentSigned(c.var.platform, job, c.var.apiKey))), next_cursor: page.next ? encodeCursor(page.next) : null }, 200);
  },
);

jobsApi.openapi(
  createRoute({
    method: 'get',
    path: '/jobs/{id}',
    operationId: 'getJob',
    tags: ['jobs'],
    security: BEARER,
    summary: 'Get a job',
    request: { params: JobIdParams },
    responses: { 200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } }, ...problemResponses(...KEYED, 400, 404) },
  }),
  async (c) => {
    const job = await getJob(c.var.platform.db, c.req.valid('param').id, c.var.apiKey.id);
    if (!job) throw problems.notFound('No such job.');
    return c.json(await presentSigned(c.var.platform, job, c.var.apiKey), 200);
  },
);

jobsApi.openapi(
  createRoute({
    method: 'delete',
    path: '/jobs/{id}',
    operationId: 'cancelJob',
    tags: ['jobs'],
    security: BEARER,
    summary: 'Cancel a queued or processing job',
    request: { params: JobIdParams },
    responses: {
      200: { description: 'The cancelled job', content: { 'application/json': { schema: JobSchema } } },
      ...problemResponses(...KEYED, 400, 404, 409),
    },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const { id } = c.req.valid('param');
    const cancelled = await transitions.cancel(platform.db, id, apiKey.id, platform.clock());
    if (!cancelled) {
      const job = await getJob(platform.db, id, apiKey.id);
      if (!job) throw problems.notFound('No such job.');
      throw problems.conflict('JOB_FINISHED', `The job is already ${job.status}.`);
    }
    // The runner learns of it through the coordinator at once, and through its next lease renewal at the latest.
    await platform.coordinator.notify(id);
    if (cancelled.webhookUrl) await platform.webhooks.kick(id);
    return c.json(await presentSigned(platform, cancelled, c.var.apiKey), 200);
  },
);

jobsApi.openapi(
  createRoute({
    method: 'get',
    path: '/jobs/{id}/events',
    operationId: 'followJob',
    tags: ['jobs'],
    security: [...BEARER, { eventsLink: [] }],
    summary: 'Follow a job: Server-Sent Events `status` and `progress`, then `done`; resumes from Last-Event-ID',
    request: { params: JobIdParams, headers: LastEventIdHeaders, query: LastEventIdQuery },
    responses: {
      200: {
        description:
          'An event stream (text/event-stream): `status` and `progress` events with ids, a comment line as a heartbeat while nothing changes, then `done` with the job. Reconnect with `Last-Event-ID` to miss nothing',
        content: { 'text/event-stream': { schema: z.string(), example: 'id: 12\nevent: progress\ndata: {"percentage":42.5,"stage":"encoding","fps":118,"speed":3.9,"out_time_s":4.2,"eta_s":1.4}\n\n' } },
      },
      ...problemResponses(...KEYED, 400, 404),
    },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const { id } = c.req.valid('param');
    if (!(await getJob(platform.db, id, apiKey.id))) throw problems.notFound('No such job.');
    const resumeFrom = c.req.header('last-event-id') ?? c.req.query('last_event_id');
    let cursor = resumeFrom && /^\d{1,15}$/.test(resumeFrom) ? Number(resumeFrom) : 0;
    const { heartbeatMs, eventPollMs } = platform.config;

    return streamSSE(c, async (stream) => {
      const gone = new AbortController();
      stream.onAbort(() => gone.abort());
      const subscription = await platform.coordinator.subscribe(id, gone.signal);
      let quietSince = platform.clock();
      const sendDone = async () => {
        const job = await getJob(platform.db, id, apiKey.id);
        await stream.writeSSE({ event: 'done', data: JSON.stringify(job ? await presentSigned(platform, job, apiKey) : null) });
      };
      try {
        // A client resuming after the final status has nothing left to see but the end.
        const current = await getJob(platform.db, id, apiKey.id);
        if (current && isTerminal(current.status) && (await eventsAfter(platform.db, id, cursor, 1)).length === 0) {
          await sendDone();
          return;
        }
        while (!gone.signal.aborted) {
          const events = await eventsAfter(platform.db, id, cursor);
          for (const event of events) {
            await stream.writeSSE({ id: String(event.id), event: event.type, data: JSON.stringify(event.data) });
            cursor = event.id;
            quietSince = platform.clock();
            if (event.type === 'status' && isTerminal(String(event.data.status))) {
              await sendDone();
              return;
            }
          }
          if (events.length > 0) continue;
          await subscription.next(Math.min(eventPollMs, heartbeatMs));
          if (platform.clock() - quietSince >= heartbeatMs) {
            await stream.write(': heartbeat\n\n');
            quietSince = platform.clock();
          }
        }
      } finally {
        subscription.close();
      }
    });
  },
);

jobsApi.openapi(
  createRoute({
    method: 'get',
    path: '/jobs/{id}/logs',
    operationId: 'getJobLogs',
    tags: ['jobs'],
    security: BEARER,
    summary: "The tail of ffmpeg's log for the job's last attempt, with server paths removed",
    request: { params: JobIdParams },
    responses: { 200: { description: 'Log text', content: { 'text/plain': { schema: z.string() } } }, ...problemResponses(...KEYED, 400, 404) },
  }),
  async (c) => {
    const job = await getJob(c.var.platform.db, c.req.valid('param').id, c.var.apiKey.id);
    if (!job) throw problems.notFound('No such job.');
    return c.text(job.logTail ?? '', 200);
  },
);

const OutputListSchema = z.object({ items: z.array(OutputSchema) }).openapi('OutputList');

jobsApi.openapi(
  createRoute({
    method: 'get',
    path: '/jobs/{id}/outputs',
    operationId: 'listJobOutputs',
    tags: ['jobs'],
    security: BEARER,
    summary: 'List the outputs of a completed job (every file of a streaming package), each with its download URL',
    request: { params: JobIdParams },
    responses: { 200: { description: 'The outputs', content: { 'application/json': { schema: OutputListSchema } } }, ...problemResponses(...KEYED, 400, 404) },
  }),
  async (c) => {
    const job = await getJob(c.var.platform.db, c.req.valid('param').id, c.var.apiKey.id);
    if (!job) throw problems.notFound('No such job.');
    return c.json({ items: (await presentSigned(c.var.platform, job, c.var.apiKey)).outputs }, 200);
  },
);

jobsApi.openapi(
  createRoute({
    method: 'delete',
    path: '/jobs/{id}/outputs',
    operationId: 'deleteJobOutputs',
    tags: ['jobs'],
    security: BEARER,
    summary: 'Delete a finished job’s output files now, before their retention ends; the job stays and says so',
    request: { params: JobIdParams },
    responses: {
      200: { description: 'The job, its outputs removed', content: { 'application/json': { schema: JobSchema } } },
      ...problemResponses(...KEYED, 400, 404, 409, 503),
    },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const job = await getJob(platform.db, c.req.valid('param').id, apiKey.id);
    if (!job) throw problems.notFound('No such job.');
    // A running attempt is still writing its outputs: cancel it first.
    if (!isTerminal(job.status)) throw problems.conflict('JOB_NOT_FINISHED', `The job is ${job.status}; cancel it first.`);
    if (job.outputsDeletedAt === null) await deleteJobOutputs(platform.db, platform.blobs, job, platform.clock(), 'deleted');
    return c.json(await presentSigned(platform, (await getJob(platform.db, job.id, apiKey.id))!, apiKey), 200);
  },
);

// An output's name may have several segments (a package's `hls/720p/seg_00001.m4s`), so the route takes the rest of
// the path; it is documented under the same path with `name` as one parameter.
jobsApi.openAPIRegistry.registerPath({
  method: 'get',
  path: '/jobs/{id}/outputs/{name}',
  operationId: 'downloadJobOutput',
  tags: ['jobs'],
  security: BEARER,
  summary: "Download an output by its name (a package's files by their relative path); supports Range",
  request: {
    params: JobIdParams.extend({ name: z.string().min(1).max(1024).openapi({ param: { name: 'name', in: 'path' }, example: 'hls/720p/seg_00001.m4s' }) }),
    headers: z.object({ range: z.string().optional().openapi({ description: 'One byte range (RFC 9110)', example: 'bytes=0-1023' }) }),
  },
  responses: {
    200: { description: 'The file', content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } } },
    206: { description: 'Part of the file (`Content-Range` says which)', content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } } },
    416: { description: 'Range not satisfiable; `Content-Range: bytes */<size>`' },
    ...problemResponses(...KEYED, 400, 404, 410, 503),
  },
});

jobsApi.get('/jobs/:id/outputs/:name{.+}', async (c) => {
  const { platform, apiKey } = c.var;
  const params = JobIdParams.safeParse({ id: c.req.param('id') });
  if (!params.success) throw fromZodError(params.error, 'param');
  const name = c.req.param('name');
  const job = await getJob(platform.db, params.data.id, apiKey.id);
  const output = job?.status === 'completed' ? job.outputs?.find((o) => o.name === name) : undefined;
  if (!output) throw problems.notFound('No such output.');
  return serveOutput(platform, job!, output, c.req.raw, 'private, max-age=0');
});
