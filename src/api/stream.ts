/**
 * POST /stream: package an input for adaptive streaming (HLS, DASH, CMAF). Everything the request alone can tell is
 * checked before anything is stored (audit #13): codecs against the segment format, rungs against the tier, bitrate
 * bounds, duplicate rungs, an engine able to encode every rung. The package is the job's outputs, one per file,
 * downloadable by their paths (GET /jobs/:id/outputs/hls/720p/seg_00001.m4s), so a player pointed at the master
 * playlist finds everything by relative URI.
 */
import { streamKind } from '../kinds/stream.js';
import { fromZodError, problems } from '../problems.js';
import { acceptedResponse, IdempotencyHeaders, problemResponses, SUBMIT_PROBLEMS } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { RendiffStreamSchema, StreamBodySchema, StreamRequestSchema, toStreamRequest, type StreamRequest } from '../schemas/stream.js';
import { router } from './env.js';
import { jsonBodyLimit, rateLimit, requireJson, requireKey } from './middleware.js';
import { acceptJob } from './submit.js';

export const streamApi = router();

/** A ladder is several encodes in one: it costs what three convert jobs do. */
export const STREAM_COST = 30;

streamApi.use('/stream', requireKey('jobs:write'), rateLimit(STREAM_COST), requireJson, jsonBodyLimit);

// The body is one of two shapes, told apart by `format` (rendiff's says `type`), so that a problem speaks of the
// shape the client meant; the document shows both.
streamApi.openAPIRegistry.registerPath({
  method: 'post',
  path: '/stream',
  operationId: 'stream',
  tags: ['jobs'],
  security: BEARER,
  summary: 'Package a media file for adaptive streaming (HLS, DASH, CMAF)',
  request: {
    headers: IdempotencyHeaders,
    body: { required: true, content: { 'application/json': { schema: StreamBodySchema } } },
  },
  responses: { 202: acceptedResponse, ...problemResponses(...SUBMIT_PROBLEMS) },
});

streamApi.post('/stream', async (c) => {
  const body: unknown = await c.req.json().catch(() => {
    throw problems.badRequest('The request body is not valid JSON.');
  });
  const accepted = await acceptJob(c, streamKind, fromBody(body));
  return c.json(accepted.body, 202, accepted.headers);
});

/** The request the job stores: ffedge's own, or rendiff's mapped onto it. */
function fromBody(body: unknown): StreamRequest {
  if (typeof body === 'object' && body !== null && 'format' in body) {
    const parsed = StreamRequestSchema.safeParse(body);
    if (!parsed.success) throw fromZodError(parsed.error, 'json');
    return parsed.data;
  }
  const parsed = RendiffStreamSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error, 'json');
  if (parsed.data.output !== undefined) {
    throw problems.unprocessable('UNSUPPORTED_DESTINATION', 'The package is kept with the job: download it from its outputs.', [
      { pointer: '/output', message: 'an output destination cannot be written to here; leave it out', suggestion: 'remove output and fetch GET /api/v1/jobs/{id}/outputs' },
    ]);
  }
  return toStreamRequest(parsed.data);
}
