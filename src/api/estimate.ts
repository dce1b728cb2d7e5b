/**
 * POST /estimate: what a convert request would do, without running it. The body is the one POST /convert takes;
 * the inputs are probed (where the platform can), the request planned, the engine routed, and the answer gives the
 * plan (engine and why, stream copy or not, outputs), the expected output duration and size, and the expected
 * processing time on each engine from the speed model (src/media/estimate.ts, calibrated by `npm run bench`).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { ProbeResult } from '../engine/engine.js';
import { InputUnavailableError } from '../jobs/inputs.js';
import {
  SPEED_MODELS,
  expectedOutputBytes,
  expectedWorkMs,
  profileOf,
  withAssumptions,
  type EngineName,
} from '../media/estimate.js';
import { inputsOf, isPlanProblems, planConvert, validateConvert } from '../media/plan.js';
import { routeJob, type Candidate } from '../media/routing.js';
import { problems } from '../problems.js';
import { ConvertRequestSchema } from '../schemas/convert.js';
import { JSON_BODY, KEYED, problemResponses } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { router } from './env.js';
import { jsonBodyLimit, limitsFor, rateLimit, requireJson, requireKey } from './middleware.js';
import { ASSUMED_PROBE, inputBytesOf, routeProblem } from './engine-choice.js';
import { checkInput } from './submit.js';

export const estimateApi = router();

// The scope and cost of POST /probe: an estimate fetches and probes the inputs as a probe job does.
estimateApi.use('/estimate', requireKey('jobs:write'), rateLimit(2), requireJson, jsonBodyLimit);

const PROBE_TIMEOUT_MS = 30_000;

const EngineEstimateSchema = z.object({
  name: z.enum(['native', 'wasm']),
  /** null where the platform does not know its engines' capabilities (jobs are routed when they run). */
  capable: z.boolean().nullable(),
  missing: z.array(z.string()),
  processing_s: z.number().nullable(),
});

const EstimateSchema = z
  .object({
    engine: z.enum(['native', 'wasm']).nullable(),
    engine_reason: z.string(),
    stream_copy: z.boolean(),
    input: z.object({
      size_bytes: z.number().int().nullable(),
      duration_s: z.number().nullable(),
      probed: z.boolean(),
      partial: z.boolean().openapi({ description: 'Only the first part of a large input was probed' }),
    }),
    outputs: z.array(z.object({ name: z.string(), content_type: z.string() })),
    expected: z.object({
      duration_s: z.number().nullable().openapi({ description: 'Output media duration' }),
      size_bytes: z.number().int().nullable().openapi({ description: 'All outputs together' }),
      processing_s: z.number().nullable().openapi({ description: 'On the chosen engine, start-up included' }),
    }),
    engines: z.array(EngineEstimateSchema),
  })
  .openapi('Estimate');

estimateApi.openapi(
  createRoute({
    method: 'post',
    path: '/estimate',
    operationId: 'estimate',
    tags: ['jobs'],
    security: BEARER,
    summary: 'Estimate a convert request: engine, stream copy, outputs, expected duration, size and processing time',
    request: { body: { required: true, content: { 'application/json': { schema: ConvertRequestSchema } } } },
    responses: {
      200: { description: 'The estimate', content: { 'application/json': { schema: EstimateSchema } } },
      ...problemResponses(...KEYED, ...JSON_BODY),
    },
  }),
  async (c) => {
    const request = c.req.valid('json');
    const { platform } = c.var;
    const limits = limitsFor(c);
    const invalid = validateConvert(request, limits);
    if (invalid.length > 0) throw problems.planned(invalid);

    const inputs = inputsOf(request);
    for (const input of inputs) await checkInput(c, input.pointer, input.uri);

    // Every input probed where the platform can; what cannot be probed here is assumed, as at submission.
    const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
    const probed = await Promise.all(
      inputs.map(async (input) => {
        if (!platform.probeInput) return null;
        try {
          return await platform.probeInput(input.uri, signal);
        } catch (error) {
          if (error instanceof InputUnavailableError) {
            throw problems.unprocessable('INPUT_NOT_FOUND', 'The input cannot be read.', [{ pointer: input.pointer, message: 'unreadable input' }]);
          }
          throw error;
        }
      }),
    );
    probed.forEach((result, i) => {
      if (result && result.probe === null) {
        throw problems.unprocessable('INVALID_INPUT', 'The input is not a media file ffmpeg can read.', [
          { pointer: inputs[i]!.pointer, message: 'not a media file' },
        ]);
      }
    });
    const probes: ProbeResult[] = probed.map((result) => result?.probe ?? ASSUMED_PROBE);
    const plan = planConvert(request, probes, limits);
    if (isPlanProblems(plan)) throw problems.planned(plan);

    const main = probed[0] ?? null;
    const inputBytes = probed.every((p) => p !== null)
      ? probed.reduce((sum, p) => sum + (p?.bytes ?? 0), 0)
      : await inputBytesOf(c, inputsOf(request));
    const profile = profileOf({ plan, probe: main?.probe ?? null, request, inputBytes });
    const forced = request.options.engine === 'auto' ? null : request.options.engine;

    let engine: EngineName | null = forced;
    let reason = forced ? 'forced by options.engine' : 'the engine is chosen when the job runs';
    let engines: z.infer<typeof EngineEstimateSchema>[];
    let processingMs: number | null = null;
    if (platform.routing) {
      const route = routeJob({ requirements: plan.requirements, profile, forced }, await platform.routing());
      if (!route.ok) throw routeProblem(route);
      engine = route.engine;
      reason = route.reason;
      processingMs = main?.probe ? route.expectedMs : null;
      engines = route.candidates.map((candidate) => describe(candidate, main?.probe != null));
    } else {
      const filled = withAssumptions(profile);
      engines = (['native', 'wasm'] as const).map((name) => {
        const ms = main?.probe ? expectedWorkMs(SPEED_MODELS[name], filled) : null;
        return { name, capable: null, missing: [], processing_s: ms === null ? null : seconds(ms) };
      });
    }

    return c.json(
      {
        engine,
        engine_reason: reason,
        stream_copy: plan.streamCopy,
        input: {
          size_bytes: inputBytes,
          duration_s: main?.probe?.duration_s ?? null,
          probed: main?.probe != null,
          partial: main?.partial ?? false,
        },
        outputs: plan.outputs.map((output) => ({ name: output.name, content_type: output.contentType })),
        expected: {
          duration_s: plan.expectedDurationS,
          size_bytes: main?.probe ? expectedOutputBytes(profile) : null,
          processing_s: processingMs === null ? null : seconds(processingMs),
        },
        engines,
      },
      200,
    );
  },
);

function describe(candidate: Candidate, known: boolean): z.infer<typeof EngineEstimateSchema> {
  return {
    name: candidate.engine,
    capable: candidate.capable,
    missing: candidate.missing.map((m) => m.reason),
    processing_s: known ? seconds(candidate.expectedMs) : null,
  };
}

function seconds(ms: number): number {
  return Math.round(ms / 10) / 100;
}

