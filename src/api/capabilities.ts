/** GET /capabilities: the engines this deployment runs and what each can encode, decode and filter; the limits. */
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
    return c.json({ runtime: platform.runtime, engines, limits: { ...platform.config.limits } }, 200);
  },
);
