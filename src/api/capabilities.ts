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
import { OPTIONAL_KEY } from './openapi.js';
import type { Limits } from '../config.js';
import { LIMIT_NAMES } from '../limit-names.js';
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

const int = () => z.number().int();

/** The default tier's limits, named in snake_case like every other field of the API. */
const LimitsSchema = z
  .object({
    body_bytes: int().openapi({ description: 'JSON request bodies' }),
    upload_bytes: int(),
    input_bytes: int().openapi({ description: 'Remote or local inputs fetched for a job' }),
    input_duration_s: int(),
    output_pixels: int().openapi({ description: 'Of every output frame or image (video, thumbnails, sprite sheets, GIF/WebP frames)' }),
    max_fps: int(),
    max_bitrate: int().openapi({ description: 'Bits per second' }),
    operations: int().openapi({ description: 'Per job' }),
    outputs: int().openapi({ description: 'Files one job may produce' }),
    variants: int().openapi({ description: 'Rungs of one streaming ladder' }),
    concurrent_jobs: int().openapi({ description: 'Queued or running per key' }),
    requests: int().openapi({ description: 'Per window_s, per key' }),
    window_s: int(),
    output_link_ttl_s: int().openapi({ description: 'How long an output’s signed url works without the key' }),
    retention_s: int().openapi({ description: 'How long uploads and outputs are kept, then deleted' }),
  })
  .openapi('Limits');

function limitsView(limits: Limits): z.infer<typeof LimitsSchema> {
  // Every name is one of the schema's (a new limit fails the type check until both say it).
  const names: Record<keyof Limits, keyof z.infer<typeof LimitsSchema>> = LIMIT_NAMES;
  const entries = (Object.keys(names) as (keyof Limits)[]).map((name) => [names[name], limits[name]]);
  return Object.fromEntries(entries) as z.infer<typeof LimitsSchema>;
}

capabilitiesApi.openapi(
  createRoute({
    method: 'get',
    path: '/capabilities',
    operationId: 'getCapabilities',
    tags: ['service'],
    summary: 'Engines, their codecs and filters, and the default limits',
    // Anonymous, or with a key (which also shows each engine's version).
    security: OPTIONAL_KEY,
    responses: {
      200: {
        description: 'Capabilities',
        content: {
          'application/json': {
            schema: z
              .object({ runtime: z.string(), engines: z.array(EngineSchema), limits: LimitsSchema })
              .openapi('Capabilities'),
          },
        },
      },
      ...problemResponses(401, 429, 500),
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
    return c.json({ runtime: platform.runtime, engines: described, limits: limitsView(platform.config.limits) }, 200);
  },
);
