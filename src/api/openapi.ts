/**
 * The OpenAPI document: made from the routes' zod schemas (one source for validation and the document), with the
 * parts no route owns: info, servers, the security scheme, tags. Served at GET /api/v1/openapi.json and printed by
 * `npm run openapi`; `redocly lint` with the recommended rules must find nothing in it (test/unit/openapi.test.ts).
 */
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { problemResponses } from '../schemas/job.js';
import { router, type AppEnv } from './env.js';
import { rateLimit } from './middleware.js';

export const OPENAPI_PATH = '/api/v1/openapi.json';

/** Operations are grouped by these tags in the reference at /docs. */
export const TAGS = [
  { name: 'jobs', description: 'Submit media jobs (convert, stream, analyze, probe), follow them and fetch their outputs' },
  { name: 'uploads', description: 'Send media files to use as job inputs' },
  { name: 'presets', description: 'Named requests: the built-in ones and your own' },
  { name: 'webhooks', description: 'Signed notifications of job events: delivery log, replay, test, secret rotation' },
  { name: 'service', description: 'Health, capabilities and this document' },
] as const;

export type Tag = (typeof TAGS)[number]['name'];

/** `Authorization: Bearer ffe_...` (X-API-Key is accepted too). Public routes say `security: []`. */
export const BEARER: Record<string, string[]>[] = [{ bearer: [] }];
export const PUBLIC: [] = [];
/** A public route that shows more to a key: anonymous, or with one. */
export const OPTIONAL_KEY: Record<string, string[]>[] = [{}, { bearer: [] }];

type Routes = OpenAPIHono<AppEnv>;

const documents = new Map<string, unknown>();

/** The document for clients that reach the service at `server`; made once per server URL (it is not small). */
export function openApiDocument(routes: Routes, server: string): unknown {
  let doc = documents.get(server);
  if (!doc) {
    routes.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
      type: 'http',
      scheme: 'bearer',
      description: 'An API key `ffe_<id>_<secret>` (`npm run keys -- create`). `X-API-Key: <key>` works too.',
    });
    routes.openAPIRegistry.registerComponent('securitySchemes', 'eventsLink', {
      type: 'apiKey',
      in: 'query',
      name: 'token',
      description: 'The token of a job’s `links.events_url`: opens that job’s events without a header until it expires (FFEDGE_EVENTS_URL_TTL_S, 15 min by default)',
    });
    doc = routes.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'ffedge',
        version: '1',
        description:
          'FFmpeg jobs at the edge: convert, package for adaptive streaming, measure quality and probe media; follow ' +
          'jobs live over Server-Sent Events and signed webhooks. Errors are RFC 9457 problems (`application/problem+json`) ' +
          'with a stable `code`, and `errors[]` with a JSON pointer for each invalid field.',
      },
      servers: [{ url: server, description: 'This service' }],
      tags: TAGS.map((tag) => ({ ...tag })),
      security: BEARER,
    });
    if (documents.size > 16) documents.clear();
    documents.set(server, doc);
  }
  return doc;
}

/** The server URL clients use: the configured public URL, or the origin the request came to. */
export function serverUrl(publicUrl: string | null, requestUrl: string): string {
  return publicUrl ?? new URL(requestUrl).origin;
}

/** GET /api/v1/openapi.json for `routes` (which it is mounted in). */
export function documentApi(routes: Routes): Routes {
  const api = router();
  // Public like /capabilities: limited by client address (audit #10).
  api.use(OPENAPI_PATH, rateLimit(1));
  api.openAPIRegistry.registerPath({
    method: 'get',
    path: OPENAPI_PATH,
    operationId: 'getOpenApiDocument',
    tags: ['service'],
    security: PUBLIC,
    summary: 'This document (OpenAPI 3.1)',
    responses: {
      200: { description: 'The document', content: { 'application/json': { schema: z.object({ openapi: z.string() }).passthrough() } } },
      ...problemResponses(429, 500),
    },
  });
  api.get(OPENAPI_PATH, (c) => c.json(openApiDocument(routes, serverUrl(c.var.platform.config.publicUrl, c.req.url)) as object));
  return api;
}
