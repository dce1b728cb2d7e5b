/**
 * GET /capabilities: the engines this deployment runs (native ffmpeg and the wasm engine on Node), what each can
 * encode, decode and filter, what routing knows of each (memory limit, start-up, what it lists but cannot do); the
 * limits.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { router } from './env.js';

export const capabilitiesApi = router();

const EngineSchema = z.object({
  name: z.enum(['native', 'wasm']),
  version: z.string(),
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
    },
  }),
  async (c) => {
    const { platform } = c.var;
    const engines = await platform.engines();
    const profiles = (await platform.routing?.()) ?? [];
    const described = engines.map((engine) => {
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
