/**
 * GET /capabilities: the engines this deployment runs (native ffmpeg and the wasm engine on Node), what each can
 * encode, decode and filter, what routing knows of each (memory limit, start-up, what it lists but cannot do); the
 * limits.
 *
 * Public, and so limited by client address (audit #10). The engine build string tells an attacker which ffmpeg
 * vulnerabilities apply, so only a request with a valid API key sees it.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { problemResponses } from '../schemas/job.js';
import { router } from './env.js';
import { optionalKey, rateLimit } from './middleware.js';

export const capabilitiesApi = router();

capabilitiesApi.use('/capabilities', optionalKey(), rateLimit(1));

const EngineSchema = z.object({
  name: z.enum(['native', 'wasm']),
  version: z.string().optional().openapi({ description: 'The engine build; only shown to a request with an API key' }),
  encoders: z.array(z.string()),
  decoders: z.array(z.string()),
  filters: z.array(z.string()),
  muxers: z.array(z.string()),
  // What routing knows of the engine (absent where the platform does not route).
  memory_limit_bytes: z.number().int().nullable().optional().openapi({ description: 'Per job; null when the engine streams from disk' }),
  startup_ms: z.number().optional(),
  excluded: z
    .array(z.object({ kind: z.string(), name: z.string(), reason: z.string() }))
    .optional()
    .openapi({ description: 'Listed by the engine but not usable: left out of encoders, filters...' }),
});

capabilitiesApi.openapi(
  createRoute({
    method: 'get',
    path: '/capabilities',
    summary: 'Engines, their codecs and filters, and the default limits',
    // Anonymous, or with a key (which also shows each engine's version).
    security: [{}, { bearer: [] }],
    responses: {
      200: {
        description: 'Capabilities',
        content: {
          'application/json': {
            schema: z
              .object({ runtime: z.string(), engines: z.array(EngineSchema), limits: z.record(z.string(), z.number()) })
              .openapi('Capabilities'),
          },
        },
      },
      401: problemResponses[401],
      429: problemResponses[429],
    },
  }),
  async (c) => {
    const { platform } = c.var;
    const engines = await platform.engines();
    const profiles = (await platform.routing?.()) ?? [];
    const withKey = (c.var as { apiKey?: unknown }).apiKey !== undefined;
    const described = engines.map(({ version, ...listed }) => {
      const engine = withKey ? { ...listed, version } : listed;
      const profile = profiles.find((p) => p.name === engine.name);
      if (!profile) return engine;
      return {
        ...engine,
        memory_limit_bytes: profile.memoryLimitBytes,
        startup_ms: profile.startupMs,
        excluded: [...(profile.excluded ?? [])],
      };
    });
    return c.json({ runtime: platform.runtime, engines: described, limits: { ...platform.config.limits } }, 200);
  },
);
