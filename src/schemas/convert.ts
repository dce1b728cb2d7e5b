import { z } from '@hono/zod-openapi';
import { AUDIO_CODECS, NAMED_RESOLUTIONS, OUTPUT_FORMATS, PICTURE_CODECS, SAMPLE_RATES, VIDEO_PRESETS } from '../media/formats.js';
import { OperationSchema } from './operations.js';
import { Bitrate, StorageUri, WebhookEvents, WebhookUrl } from './values.js';

/**
 * Request bodies of POST /api/v1/convert and /api/v1/probe, and of presets. Shapes, enums and absolute bounds are
 * checked here, at the edge of the API; what depends on the input file or on the key's limits is checked by the
 * planner (src/media/plan.ts).
 */

export { TrimOperationSchema, OperationSchema } from './operations.js';
export type { Operation, TrimOperation } from './operations.js';

const RESOLUTION = new RegExp(`^(?:\\d{1,5}x\\d{1,5}|${Object.keys(NAMED_RESOLUTIONS).join('|')})$`);

const Resolution = z
  .string()
  .regex(RESOLUTION, { message: 'resolution must be WIDTHxHEIGHT or one of ' + Object.keys(NAMED_RESOLUTIONS).join(', ') })
  .openapi({ description: 'WIDTHxHEIGHT, or a named height (short side) keeping the aspect ratio', example: '1280x720' });

export const VideoOptionsSchema = z
  .object({
    codec: z.enum(PICTURE_CODECS).optional(),
    crf: z.number().int().min(0).max(51).optional(),
    preset: z.enum(VIDEO_PRESETS).optional(),
    bitrate: Bitrate.optional(),
    resolution: Resolution.optional(),
    upscale: z
      .boolean()
      .optional()
      .openapi({ description: 'With resolution: allow a frame larger than the input (default false), as resize does' }),
    // 240 is the highest frame rate any configuration allows; the key's limit is applied by the planner.
    fps: z.number().int().min(1).max(240).optional(),
  })
  .strict()
  .openapi('VideoOptions');

export const AudioOptionsSchema = z
  .object({
    codec: z.enum(AUDIO_CODECS).optional(),
    bitrate: Bitrate.optional(),
    channels: z.number().int().min(1).max(8).optional(),
    sample_rate: z
      .number()
      .int()
      .refine((rate) => (SAMPLE_RATES as readonly number[]).includes(rate), {
        message: `sample_rate must be one of ${SAMPLE_RATES.join(', ')}`,
      })
      .optional()
      .openapi({ enum: [...SAMPLE_RATES] }),
  })
  .strict()
  .openapi('AudioOptions');

export const OutputFormatSchema = z.enum(OUTPUT_FORMATS).openapi('OutputFormat');

const OutputObjectSchema = z
  .object({
    format: OutputFormatSchema,
    video: z.union([VideoOptionsSchema, z.literal(false)]).optional(),
    audio: z.union([AudioOptionsSchema, z.literal(false)]).optional(),
  })
  .strict();

export const OutputSchema = z.union([OutputFormatSchema, OutputObjectSchema]).openapi('ConvertOutput');

/** An output that overrides a preset's: any part may be left to the preset. */
const OutputOverrideSchema = z
  .union([OutputFormatSchema, OutputObjectSchema.extend({ format: OutputFormatSchema.optional() }).strict()])
  .openapi('ConvertOutputOverride');

/** The most operations any tier allows; the key's own limit is applied by the planner. */
export const OPERATIONS_CEILING = 100;

const STREAM_COPY = ['auto', 'never'] as const;
const ENGINES = ['auto', 'native', 'wasm'] as const;

export const JobOptionsSchema = z
  .object({
    priority: z.number().int().min(-10).max(10).default(0),
    engine: z.enum(ENGINES).default('auto'),
    stream_copy: z
      .enum(STREAM_COPY)
      .default('auto')
      .openapi({ description: 'auto: copy streams that need no change instead of re-encoding them; never: always re-encode' }),
  })
  .strict()
  .openapi('JobOptions');

/** Job options as a client or a preset spells them: no defaults, so a merge can tell what was set. */
const JobOptionsOverrideSchema = z
  .object({
    priority: z.number().int().min(-10).max(10).optional(),
    engine: z.enum(ENGINES).optional(),
    stream_copy: z.enum(STREAM_COPY).optional(),
  })
  .strict();

export const PRESET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const PresetNameSchema = z
  .string()
  .regex(PRESET_NAME, { message: 'preset names are 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit' })
  .openapi({ example: 'web-720p' });

const Operations = z.array(OperationSchema).max(OPERATIONS_CEILING);

/** A complete convert request: what the planner takes and what a job stores (presets already applied). */
export const ConvertRequestSchema = z
  .object({
    input: StorageUri,
    /** The preset this request was made from, kept for reference; its values are already merged in. */
    preset: PresetNameSchema.optional(),
    output: OutputSchema,
    operations: Operations.optional(),
    // prefault runs the inner defaults when options is absent, so a parsed request always carries them.
    options: JobOptionsSchema.prefault({}),
    webhook_url: WebhookUrl.optional(),
    webhook_events: WebhookEvents.optional(),
  })
  .strict()
  .openapi('ConvertRequest');

/**
 * The body of POST /convert: a complete request, or a preset's name with any of its fields overridden (the output
 * and its video/audio settings field by field; an operation replaces the preset's operation of the same type).
 */
export const ConvertBodySchema = z
  .object({
    input: StorageUri,
    preset: PresetNameSchema.optional().openapi({ description: 'A built-in preset or one of this key, to start from' }),
    output: OutputOverrideSchema.optional(),
    operations: Operations.optional(),
    options: JobOptionsOverrideSchema.optional(),
    webhook_url: WebhookUrl.optional(),
    webhook_events: WebhookEvents.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.preset !== undefined) return;
    if (body.output === undefined) ctx.addIssue({ code: 'custom', path: ['output'], message: 'output is required unless a preset is named' });
    else if (typeof body.output === 'object' && body.output.format === undefined) {
      ctx.addIssue({ code: 'custom', path: ['output', 'format'], message: 'output.format is required unless a preset is named' });
    }
  })
  .openapi('ConvertBody');

/** A stored preset: a convert request without its input. */
export const PresetBodySchema = z
  .object({
    description: z.string().max(500).optional(),
    output: OutputSchema,
    operations: Operations.optional(),
    options: JobOptionsOverrideSchema.optional(),
  })
  .strict()
  .openapi('PresetBody');

export const ProbeRequestSchema = z
  .object({ input: StorageUri, webhook_url: WebhookUrl.optional(), webhook_events: WebhookEvents.optional() })
  .strict()
  .openapi('ProbeRequest');

/** A convert request after parsing (defaults applied). */
export type ConvertRequest = z.infer<typeof ConvertRequestSchema>;
/** A convert request as a client may send it. */
export type ConvertRequestInput = z.input<typeof ConvertRequestSchema>;
export type ConvertBody = z.infer<typeof ConvertBodySchema>;
export type PresetBody = z.infer<typeof PresetBodySchema>;
export type ConvertOutput = z.infer<typeof OutputSchema>;
export type VideoOptions = z.infer<typeof VideoOptionsSchema>;
export type AudioOptions = z.infer<typeof AudioOptionsSchema>;
export type ProbeRequest = z.infer<typeof ProbeRequestSchema>;
