/**
 * Builds the Hono app from a Platform. Every runtime (runtime/node.ts, runtime/worker.ts, runtime/deno.ts) calls this
 * and nothing else of the HTTP layer; each resource's routes live in its own module under api/.
 */
import { HTTPException } from 'hono/http-exception';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { analyzeApi } from './api/analyze.js';
import { capabilitiesApi } from './api/capabilities.js';
import { convertApi } from './api/convert.js';
import { estimateApi } from './api/estimate.js';
import { router } from './api/env.js';
import { documentApi } from './api/openapi.js';
import { docsApi } from './api/docs.js';
import { healthApi } from './api/health.js';
import { jobsApi } from './api/jobs.js';
import { presetsApi } from './api/presets.js';
import { linksApi } from './api/links.js';
import { previewApi } from './api/preview.js';
import { streamApi } from './api/stream.js';
import { TUS_EXPOSED_HEADERS, tusApi } from './api/tus.js';
import { uploadsApi } from './api/uploads.js';
import { webhooksApi } from './api/webhooks.js';
import type { Platform } from './platform.js';
import { Problem, problems } from './problems.js';
import { StoreUnavailableError } from './storage/guarded.js';

export function createApp(platform: Platform) {
  const app = router();

  app.use('*', requestId({ headerName: 'X-Request-Id', limitLength: 128 }));
  app.use('*', secureHeaders({ crossOriginResourcePolicy: 'same-site' }));
  if (platform.config.corsOrigins.length > 0) {
    const exposeHeaders = ['X-Request-Id', 'RateLimit', 'RateLimit-Policy', 'Retry-After', ...TUS_EXPOSED_HEADERS];
    const corsHandler = cors({ origin: platform.config.corsOrigins, exposeHeaders });
    app.use('*', async (c, next) => {
      // Hono's cors answers every OPTIONS as a preflight; only one with Access-Control-Request-Method is. A plain
      // OPTIONS is an operation (tus discovery) and gets its answer, with the headers of a CORS response.
      if (c.req.method !== 'OPTIONS' || c.req.header('access-control-request-method') !== undefined) return corsHandler(c, next);
      await next();
      const origin = c.req.header('origin');
      if (origin !== undefined && platform.config.corsOrigins.includes(origin)) {
        c.res.headers.set('Access-Control-Allow-Origin', origin);
        c.res.headers.set('Access-Control-Expose-Headers', exposeHeaders.join(','));
        c.res.headers.append('Vary', 'Origin');
      }
    });
  }
  app.use('*', async (c, next) => {
    c.set('platform', platform);
    await next();
  });

  app.route('/', apiRoutes());
  // Pages and their assets: not operations of the API, so not in its document.
  app.route('/', docsApi);
  app.route('/', previewApi);

  answerWrongMethods(app);

  app.notFound((c) => problems.notFound().toResponse(c.var.requestId ?? ''));
  app.onError((error, c) => {
    const instance = c.var.requestId ?? '';
    if (error instanceof Problem) return error.toResponse(instance);
    if (error instanceof StoreUnavailableError) {
      // The store's breaker is open: nothing was done, and it is worth trying again shortly.
      const response = problems.unavailable('Storage is unavailable right now; try again shortly.').toResponse(instance);
      response.headers.set('retry-after', '5');
      return response;
    }
    if (error instanceof HTTPException) {
      if (error.status === 413) return problems.tooLarge(platform.config.limits.bodyBytes).toResponse(instance);
      if (error.status === 400) return problems.badRequest('The request body is not valid JSON.').toResponse(instance);
    }
    // The client gets a request id; the details stay in the server log (audit #9).
    platform.log.error('unhandled error', {
      request_id: instance,
      path: new URL(c.req.url).pathname,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return problems.internal().toResponse(instance);
  });

  return app;
}

/** A known path with an unsupported method gets 405 with Allow, not 404. */
function answerWrongMethods(app: ReturnType<typeof router>): void {
  const allowed = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === 'ALL' || route.path.endsWith('*')) continue;
    const set = allowed.get(route.path) ?? new Set<string>();
    set.add(route.method);
    if (route.method === 'GET') set.add('HEAD');
    allowed.set(route.path, set);
  }
  for (const [path, methods] of allowed) {
    app.all(path, () => {
      throw problems.methodNotAllowed([...methods].sort());
    });
  }
}

/**
 * Every resource's routes, without the middleware that needs a Platform: what the OpenAPI document is made of
 * (`npm run openapi` prints it from here, with no server).
 */
export function apiRoutes() {
  const routes = router();
  routes.route('/', healthApi);
  routes.route('/api/v1', capabilitiesApi);
  routes.route('/api/v1', tusApi);
  routes.route('/api/v1', uploadsApi);
  routes.route('/api/v1', convertApi);
  routes.route('/api/v1', analyzeApi);
  routes.route('/api/v1', estimateApi);
  routes.route('/api/v1', streamApi);
  routes.route('/api/v1', jobsApi);
  routes.route('/api/v1', webhooksApi);
  routes.route('/api/v1', presetsApi);
  routes.route('/api/v1', linksApi);
  routes.route('/', documentApi(routes));
  return routes;
}

export type App = ReturnType<typeof createApp>;
