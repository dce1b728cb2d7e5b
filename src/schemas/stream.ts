import { z } from '@hono/zod-openapi';
import { NAMED_RESOLUTIONS, VIDEO_PRESETS } from '../media/formats.js';
import { LADDER_CODECS, SEGMENT_FORMATS, STREAM_AUDIO_CODECS, STREAM_FORMATS, STREAM_OPERATIONS } from '../media/stream-formats.js';
import { OperationSchema } from './operations.js';
import { Bitrate, StorageUri, WebhookEvents, WebhookUrl } from './values.js';

/**
 * The body of POST /api/v1/stream: one input packaged for adaptive streaming (HLS, DASH, or CMAF: one set of fMP4
 * segments under both an HLS master playlist and a DASH MPD). Shapes, enums and absolute bounds are checked here;
 * what depends on the codecs together, the key's limits or the input is checked by the planner
 * (src/media/stream-plan.ts), before anything is stored.
 */

const RungName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, { message: 'a rung name is 1 to 32 of a-z, 0-9, "_" and "-"' })
  .openapi({ example: '720p' });

export const RungVideoSchema = z
  .object({
    codec: z.enum(LADDER_CODECS).default('h264'),
    bitrate: Bitrate.openapi({ description: 'Target average bitrate of the rung' }),
    max_bitrate: Bitrate.optional().openapi({ description: 'Peak bitrate (VBV maxrate); 1.07 x bitrate by default' }),
    crf: z.number().int().min(0).max(63).optional().openapi({ description: 'Constant quality, capped by max_bitrate' }),
    profile: z.enum(['baseline', 'main', 'high']).optional().openapi({ description: 'H.264 profile (high by default)' }),
    preset: z.enum(VIDEO_PRESETS).optional(),
  })
  .strict()
  .openapi('RungVideo');

export const RungSchema = z
  .object({
    name: RungName.optional(),
    height: z.number().int().min(144).max(4320).optional().openapi({ description: 'Frame height; the width keeps the aspect ratio' }),
    resolution: z.enum(Object.keys(NAMED_RESOLUTIONS) as [keyof typeof NAMED_RESOLUTIONS]).optional(),
    video: RungVideoSchema,
  })
  .strict()
  .superRefine((rung, ctx) => {
    if ((rung.height === undefined) === (rung.resolution === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['height'], message: 'give either height or resolution' });
    }
  })
  .openapi('Rung');

export const StreamAudioSchema = z
  .object({
    codec: z.enum(STREAM_AUDIO_CODECS).default('aac'),
    bitrate: Bitrate.default('128k'),
    channels: z.union([z.literal(1), z.literal(2)]).default(2),
  })
  .strict()
  .openapi('StreamAudio');

export const ThumbnailTrackSchema = z
  .object({
    interval_s: z.number().int().min(1).max(60).default(10).openapi({ description: 'One tile every this many seconds' }),
    columns: z.number().int().min(1).max(20).default(5),
    tile_width: z.number().int().min(32).max(640).default(160),
  })
  .strict()
  .openapi('ThumbnailTrack');

const VmafTarget = z.number().min(20).max(99);

export const StreamQualitySchema = z
  .object({
    target_vmaf: VmafTarget.openapi({ description: 'The VMAF (default model) every rung must reach, at the lowest bitrate that does', example: 93 }),
    rungs: z
      .record(RungName, VmafTarget)
      .optional()
      .openapi({ description: 'Targets of single rungs, by name ("240p"), in place of target_vmaf', example: { '240p': 85 } }),
  })
  .strict()
  .openapi('StreamQuality', {
    description:
      'A ladder by quality ("auto" ladders only): short samples of the input are encoded at a few CRFs per rung and measured with VMAF against the source scaled to the rung; each rung gets the highest CRF that meets its target, and the result reports the VMAF measured on the final output. Needs an engine with libvmaf.',
  });

const StreamOptionsSchema = z
  .object({
    priority: z.number().int().min(-10).max(10).default(0),
    engine: z.enum(['auto', 'native', 'wasm']).default('auto'),
    archive: z.boolean().default(false).openapi({ description: 'Also keep the whole package as one .zip output' }),
  })
  .strict();

export const StreamRequestSchema = z
  .object({
    input: StorageUri,
    format: z.enum(STREAM_FORMATS),
    segment_format: z.enum(SEGMENT_FORMATS).default('fmp4').openapi({ description: 'ts for HLS with H.264 only' }),
    segment_duration_s: z.number().int().min(1).max(10).default(4),
    ladder: z
      .union([z.literal('auto'), z.array(RungSchema).min(1).max(16)])
      .default('auto')
      .openapi({ description: '"auto": rungs chosen from the input (never above its height or frame rate), or the rungs themselves' }),
    /** The codec of an `auto` ladder's rungs. */
    codec: z.enum(LADDER_CODECS).default('h264').openapi({ description: 'The video codec of an "auto" ladder' }),
    audio: z.union([StreamAudioSchema, z.literal(false)]).prefault({}),
    operations: z
      .array(OperationSchema)
      .max(20)
      .optional()
      .openapi({ description: `Applied before the ladder: ${STREAM_OPERATIONS.join(', ')}` }),
    quality: StreamQualitySchema.optional(),
    thumbnails: z.union([ThumbnailTrackSchema, z.literal(false)]).default(false),
    options: StreamOptionsSchema.prefault({}),
    webhook_url: WebhookUrl.optional(),
    webhook_events: WebhookEvents.optional(),
  })
  .strict()
  .openapi('StreamRequest');

/** The stream request of the service ffedge replaces (rendiff): mapped onto StreamRequest by toStreamRequest. */
export const RendiffStreamSchema = z
  .object({
    input: StorageUri,
    output: z.string().max(2048).optional(),
    type: z.enum(['hls', 'dash']).default('hls'),
    variants: z
      .array(z.object({ resolution: z.enum(Object.keys(NAMED_RESOLUTIONS) as [keyof typeof NAMED_RESOLUTIONS]), bitrate: Bitrate }).strict())
      .min(1)
      .max(16)
      .optional(),
    segment_duration: z.number().int().min(1).max(10).optional(),
    options: z.object({ priority: z.number().int().min(-10).max(10).optional() }).strict().optional(),
    webhook_url: WebhookUrl.optional(),
    webhook_events: WebhookEvents.optional(),
  })
  .strict()
  .openapi('RendiffStreamRequest');

export const StreamBodySchema = z.union([StreamRequestSchema, RendiffStreamSchema]).openapi('StreamBody');

export type StreamRequest = z.infer<typeof StreamRequestSchema>;
export type Rung = z.infer<typeof RungSchema>;
export type RendiffStream = z.infer<typeof RendiffStreamSchema>;

/** rendiff's defaults when it names no variants: 1080p at 5 Mb/s, 720p at 2.5, 480p at 1 (never above the input). */
const RENDIFF_VARIANTS = [
  { resolution: '1080p', bitrate: '5M' },
  { resolution: '720p', bitrate: '2.5M' },
  { resolution: '480p', bitrate: '1M' },
] as const;

/** A rendiff body as the StreamRequest it means; its `output` path has no meaning here, and is refused by the route. */
export function toStreamRequest(body: RendiffStream): StreamRequest {
  return StreamRequestSchema.parse({
    input: body.input,
    format: body.type,
    segment_duration_s: body.segment_duration ?? 6,
    ladder: (body.variants ?? RENDIFF_VARIANTS).map((variant) => ({ resolution: variant.resolution, video: { codec: 'h264', bitrate: variant.bitrate } })),
    ...(body.options?.priority !== undefined ? { options: { priority: body.options.priority } } : {}),
    ...(body.webhook_url ? { webhook_url: body.webhook_url } : {}),
    ...(body.webhook_events ? { webhook_events: body.webhook_events } : {}),
  });
}
