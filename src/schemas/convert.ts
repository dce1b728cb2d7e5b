import { z } from '@hono/zod-openapi';
import { BitrateParseError, parseBitrate } from '../media/bitrate.js';
import {
  AUDIO_CODECS,
  NAMED_RESOLUTIONS,
  OUTPUT_FORMATS,
  SAMPLE_RATES,
  VIDEO_CODECS,
  VIDEO_PRESETS,
} from '../media/formats.js';
import { MAX_TIME_S, TimeParseError, parseTimeSeconds } from '../media/time.js';

/**
 * Request bodies of POST /api/v1/convert and /api/v1/probe. Shapes, enums and absolute bounds are checked here,
 * at the edge of the API; what depends on the input file or on the key's limits is checked by the planner.
 */

/** The largest bitrate any configuration allows; the key's own limit is applied by the planner. */
const BITRATE_CEILING = 1_000_000_000;

const StorageUri = z
  .string()
  .min(1)
  .max(2048)
  .openapi({ description: 'A storage URI such as upload:<uuid> or local:relative/path', example: 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e' });

const Bitrate = z
  .union([
    z.number().int().min(1).max(BITRATE_CEILING),
    z.string().max(32).superRefine(reportParseError((text) => parseBitrate(text, BITRATE_CEILING))),
  ])
  .openapi({ description: 'Bits per second: an integer, or a decimal with k, M or G', example: '2.5M' });

const TimeValue = z
  .union([
    z.number().min(0).max(MAX_TIME_S),
    z.string().max(32).superRefine(reportParseError((text) => parseTimeSeconds(text))),
  ])
  .openapi({ description: 'Seconds, or hh:mm:ss.fff / mm:ss.fff', example: '00:01:30.500' });

const RESOLUTION = new RegExp(`^(?:\\d{1,5}x\\d{1,5}|${Object.keys(NAMED_RESOLUTIONS).join('|')})$`);

const Resolution = z
  .string()
  .regex(RESOLUTION, { message: 'resolution must be WIDTHxHEIGHT or one of ' + Object.keys(NAMED_RESOLUTIONS).join(', ') })
  .openapi({ description: 'WIDTHxHEIGHT, or a named height (short side) keeping the aspect ratio', example: '1280x720' });

export const VideoOptionsSchema = z
  .object({
    codec: z.enum(VIDEO_CODECS).optional(),
    crf: z.number().int().min(0).max(51).optional(),
    preset: z.enum(VIDEO_PRESETS).optional(),
    bitrate: Bitrate.optional(),
    resolution: Resolution.optional(),
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

export const OutputSchema = z
  .union([
    OutputFormatSchema,
    z
      .object({
        format: OutputFormatSchema,
        video: z.union([VideoOptionsSchema, z.literal(false)]).optional(),
        audio: z.union([AudioOptionsSchema, z.literal(false)]).optional(),
      })
      .strict(),
  ])
  .openapi('ConvertOutput');

export const TrimOperationSchema = z
  .object({
    type: z.literal('trim'),
    start: TimeValue.optional(),
    end: TimeValue.optional(),
    duration: TimeValue.optional(),
  })
  .strict()
  .openapi('TrimOperation');

export const OperationSchema = z.discriminatedUnion('type', [TrimOperationSchema]).openapi('Operation');

export const JobOptionsSchema = z
  .object({
    priority: z.number().int().min(-10).max(10).default(0),
    engine: z.enum(['auto', 'native', 'wasm']).default('auto'),
  })
  .strict()
  .openapi('JobOptions');

export const ConvertRequestSchema = z
  .object({
    input: StorageUri,
    output: OutputSchema,
    operations: z.array(OperationSchema).max(20).optional(),
    // prefault runs the inner defaults when options is absent, so a parsed request always carries them.
    options: JobOptionsSchema.prefault({}),
    webhook_url: z.string().max(2048).url().optional(),
  })
  .strict()
  .openapi('ConvertRequest');

export const ProbeRequestSchema = z.object({ input: StorageUri }).strict().openapi('ProbeRequest');

/** A convert request after parsing (defaults applied). */
export type ConvertRequest = z.infer<typeof ConvertRequestSchema>;
/** A convert request as a client may send it. */
export type ConvertRequestInput = z.input<typeof ConvertRequestSchema>;
export type ConvertOutput = z.infer<typeof OutputSchema>;
export type VideoOptions = z.infer<typeof VideoOptionsSchema>;
export type AudioOptions = z.infer<typeof AudioOptionsSchema>;
export type TrimOperation = z.infer<typeof TrimOperationSchema>;
export type ProbeRequest = z.infer<typeof ProbeRequestSchema>;

/** Turns a parser's typed error into a zod issue carrying the parser's own message. */
function reportParseError(parse: (text: string) => unknown) {
  return (text: string, ctx: z.RefinementCtx): void => {
    try {
      parse(text);
    } catch (error) {
      if (!(error instanceof BitrateParseError || error instanceof TimeParseError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
    }
  };
}
