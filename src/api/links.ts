/**
 * GET /o/:token/:name: a completed job's output by its signed link (src/security/signed-links.ts), without the key,
 * for a <video>, a player (hls.js, dash.js: a package's playlists resolve their relative URIs under the token) or a
 * shared link. Range and ETag as with the key. A link that does not hold is a 403 that says whether it expired.
 */
import { z } from '@hono/zod-openapi';
import type { Job } from '../db/schema.js';
import { getJobById } from '../jobs/queries.js';
import { problems } from '../problems.js';
import { problemResponses } from '../schemas/job.js';
import { activeKeyById } from '../security/api-keys.js';
import { linkCovers, verifyOutputLink } from '../security/signed-links.js';
import { router } from './env.js';
import { PUBLIC } from './openapi.js';
import { serveOutput } from './serve-output.js';

export const linksApi = router();

linksApi.openAPIRegistry.registerPath({
  method: 'get',
  path: '/o/{token}/{name}',
  operationId: 'downloadSignedOutput',
  tags: ['jobs'],
  security: PUBLIC,
  summary: 'Download an output by its signed link (an output’s `url`): no key; Range and ETag as with the key',
  request: {
    params: z.object({
      token: z.string().openapi({ param: { name: 'token', in: 'path' }, description: 'As in the output’s url' }),
      name: z.string().min(1).max(1024).openapi({ param: { name: 'name', in: 'path' }, example: 'hls/720p/seg_00001.m4s' }),
    }),
    headers: z.object({ range: z.string().optional().openapi({ description: 'One byte range (RFC 9110)', example: 'bytes=0-1023' }) }),
  },
  responses: {
    200: { description: 'The file', content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } } },
    206: { description: 'Part of the file (`Content-Range` says which)', content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } } },
    304: { description: 'Not modified (If-None-Match matched the ETag)' },
    416: { description: 'Range not satisfiable; `Content-Range: bytes */<size>`' },
    ...problemResponses(403, 404, 410, 500, 503),
  },
});

linksApi.get('/o/:token/:name{.+}', async (c) => {
  const { platform } = c.var;
  const { linkSecret, linkSecretPrevious } = platform.config;
  const secrets = [linkSecret, linkSecretPrevious].filter((s): s is string => s !== null);
  // The job is read once: for the key its link is checked against, and for the output.
  const found: { job: Job | null } = { job: null };
  const check = await verifyOutputLink(secrets, c.req.param('token'), platform.clock(), async (jobId) => {
    const job = (found.job = await getJobById(platform.db, jobId));
    return job && (await activeKeyById(platform.db, job.apiKeyId)) ? job.apiKeyId : null;
  });
  if (!check.ok) throw problems.linkRefused(check.reason);
  const name = c.req.param('name');
  if (!linkCovers(check.prefix, name)) throw problems.linkRefused('invalid');
  const { job } = found;
  const output = job?.status === 'completed' ? job.outputs?.find((o) => o.name === name) : undefined;
  if (!output) throw problems.notFound('No such output.');
  // Anyone with the URL may fetch it until it expires: private caches only, and not past the link's own life.
  return serveOutput(platform, job!, output, c.req.raw, 'private, max-age=300');
});
