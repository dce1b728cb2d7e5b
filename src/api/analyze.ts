/**
 * POST /analyze: VMAF, PSNR and SSIM of a distorted file against its reference. Validated before anything is stored
 * (audit #13): the schema, then what the request alone tells (src/media/quality.ts), then the engines: the metrics a
 * request leaves out are the ones an engine here can compute, and a request for VMAF that no engine with libvmaf can
 * run is refused with 422 naming libvmaf. Then stored and dispatched as every job is (submit.ts).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { analyzeKind } from '../kinds/analyze.js';
import { profileOf } from '../media/estimate.js';
import { defaultMetrics, isQualityProblems, LIBVMAF, planQuality, QUALITY_METRICS } from '../media/quality.js';
import { routeJob, type EngineProfile, type Missing } from '../media/routing.js';
import { AnalyzeRequestSchema, type AnalyzeRequest } from '../schemas/analyze.js';
import { acceptedResponse, IdempotencyHeaders, problemResponses, SUBMIT_PROBLEMS } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { routeProblem, uploadBytesOf, type Routed } from './engine-choice.js';
import { router, type AppEnv } from './env.js';
import { jsonBodyLimit, rateLimit, requireJson, requireKey } from './middleware.js';
import { acceptJob } from './submit.js';

/** Tokens one request takes from the key's bucket (audit #10): two inputs decoded and compared, as heavy as a convert. */
export const ANALYZE_COST = 10;

export const analyzeApi = router();

analyzeApi.use('/analyze', requireKey('jobs:write'), rateLimit(ANALYZE_COST), requireJson, jsonBodyLimit);

analyzeApi.openapi(
  createRoute({
    method: 'post',
    path: '/analyze',
    operationId: 'analyze',
    tags: ['jobs'],
    security: BEARER,
    summary: 'Measure the quality of an encode against its reference: VMAF, PSNR, SSIM, per frame and summarised',
    request: {
      headers: IdempotencyHeaders,
      body: { required: true, content: { 'application/json': { schema: AnalyzeRequestSchema } } },
    },
    responses: {
      202: acceptedResponse,
      ...problemResponses(...SUBMIT_PROBLEMS),
    },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const forced = body.options.engine === 'auto' ? null : body.options.engine;
    const { platform } = c.var;
    const engines = (await platform.routing?.()) ?? null;
    // A request that names no metric gets what the engines here can do; one that names a VMAF model wants VMAF.
    const metrics = body.metrics ?? (engines && body.vmaf_model === undefined ? defaultMetrics(engines, forced) : [...QUALITY_METRICS]);
    const request: AnalyzeRequest = { ...body, metrics };
    const accepted = await acceptJob(c, analyzeKind, request, () => routeAnalyze(c, request, engines, forced));
    return c.json(accepted.body, 202, accepted.headers);
  },
);

/**
 * The engine, from the run's requirements (known without the probes: the metric filters, the aligning ones assumed)
 * and the inputs' sizes; null where this platform routes when the job runs.
 */
async function routeAnalyze(
  c: Context<AppEnv>,
  request: AnalyzeRequest,
  engines: EngineProfile[] | null,
  forced: 'native' | 'wasm' | null,
): Promise<Routed> {
  if (!engines) return { engine: forced, reason: forced ? 'forced by options.engine' : null };
  const shape = planQuality(request, null);
  if (isQualityProblems(shape)) throw new Error('a validated analyze request has no plan shape');
  const profile = profileOf({
    plan: { args: shape.args, streamCopy: false, expectedDurationS: null, requirements: shape.requirements },
    probe: null,
    request,
    inputBytes: await uploadBytesOf(c, [request.input, request.reference]),
  });
  const route = routeJob({ requirements: shape.requirements, profile, forced }, engines);
  if (!route.ok) throw routeProblem(route, { pointer: (missing) => pointerOf(missing, request), suggestions: SUGGESTIONS });
  return { engine: route.engine, reason: route.reason };
}

const SUGGESTIONS: Readonly<Record<string, string>> = {
  [LIBVMAF]: 'ask for psnr and ssim only (every engine has them), or use a deployment whose engine has libvmaf',
};

/** Where in an analyze request a missing capability comes from. */
function pointerOf(missing: Missing, request: AnalyzeRequest): string {
  if (missing.kind === 'memory' || missing.kind === 'decoder') return '/input';
  const metric = missing.name === LIBVMAF ? 'vmaf' : missing.name;
  const index = request.metrics.indexOf(metric as AnalyzeRequest['metrics'][number]);
  return index >= 0 ? `/metrics/${index}` : '/metrics';
}
