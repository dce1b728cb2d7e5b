import { z } from '@hono/zod-openapi';
import { NAMED_RESOLUTIONS } from '../media/formats.js';
import { HEX_COLOR, NAMED_COLORS, POSITIONS } from '../media/ops/shared.js';
import { FONTS, METADATA_KEYS } from '../media/vocabulary.js';
import { decimal, freeText, StorageUri, TimeValue } from './values.js';

/**
 * The operations of POST /convert, one strict schema each: shapes, enums and absolute bounds. What depends on the
 * input (a crop inside the frame, a thumbnail inside the duration) or on the key's tier is checked by the planner,
 * src/media/ops/<type>.ts, which also makes the operation's ffmpeg arguments.
 */

/** The largest frame side anything may have (8K UHD's long side). */
const SIDE = z.number().int().min(2).max(7680);
const Position = z.enum(POSITIONS).openapi({ description: 'Where on a 3x3 grid of the frame' });
const Color = z
  // abort: a failed pattern then ends its branch like a failed name does, so zod reports both branches and the
  // problem can list the names (src/issues.ts); otherwise only the pattern's failure would be reported.
  .union([z.enum(NAMED_COLORS), z.string().regex(HEX_COLOR, { message: 'colour must be a name or #RRGGBB', abort: true })])
  .openapi({ description: `One of ${NAMED_COLORS.join(', ')}, or #RRGGBB`, example: '#ffcc00' });
const Opacity = decimal(0, 1, 3);
const Margin = z.number().int().min(0).max(2000);

export const TrimOperationSchema = z
  .object({
    type: z.literal('trim'),
    start: TimeValue.optional(),
    end: TimeValue.optional(),
    duration: TimeValue.optional(),
    mode: z
      .enum(['accurate', 'keyframe'])
      .optional()
      .openapi({ description: 'accurate (default): cut at the exact frame. keyframe: cut at the keyframe before start, which lets the streams be copied' }),
  })
  .strict()
  .openapi('TrimOperation');

export const ResizeOperationSchema = z
  .object({
    type: z.literal('resize'),
    width: SIDE.optional(),
    height: SIDE.optional(),
    size: z.enum(Object.keys(NAMED_RESOLUTIONS) as [keyof typeof NAMED_RESOLUTIONS]).optional().openapi({ description: 'The short side, keeping the aspect ratio' }),
    fit: z.enum(['contain', 'cover', 'fill', 'pad']).optional().openapi({ description: 'With width and height: fit inside (default), fill and crop, stretch, or fit and pad' }),
    upscale: z.boolean().optional().openapi({ description: 'Allow a frame larger than the input (default false)' }),
    pad_color: Color.optional(),
  })
  .strict()
  .superRefine((op, ctx) => {
    if (op.size !== undefined && (op.width !== undefined || op.height !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['size'], message: 'give size, or width and/or height, not both' });
    }
    if (op.size === undefined && op.width === undefined && op.height === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give size, or width and/or height' });
    }
  })
  .openapi('ResizeOperation');

export const CropOperationSchema = z
  .object({
    type: z.literal('crop'),
    width: SIDE,
    height: SIDE,
    x: z.number().int().min(0).max(7680).optional().openapi({ description: 'Left edge; centred when absent' }),
    y: z.number().int().min(0).max(7680).optional().openapi({ description: 'Top edge; centred when absent' }),
  })
  .strict()
  .openapi('CropOperation');

export const RotateOperationSchema = z
  .object({ type: z.literal('rotate'), degrees: z.union([z.literal(90), z.literal(180), z.literal(270)]).openapi({ description: 'Clockwise' }) })
  .strict()
  .openapi('RotateOperation');

export const FlipOperationSchema = z
  .object({ type: z.literal('flip'), direction: z.enum(['horizontal', 'vertical', 'both']) })
  .strict()
  .openapi('FlipOperation');

export const FpsOperationSchema = z
  .object({ type: z.literal('fps'), fps: decimal(0.1, 240, 3).openapi({ example: 29.97 }) })
  .strict()
  .openapi('FpsOperation');

export const SpeedOperationSchema = z
  .object({ type: z.literal('speed'), factor: decimal(0.25, 4, 3).openapi({ description: '2 plays twice as fast; video and audio together' }) })
  .strict()
  .openapi('SpeedOperation');

export const WatermarkOperationSchema = z
  .object({
    type: z.literal('watermark'),
    image: StorageUri,
    position: Position.optional(),
    margin: Margin.optional(),
    opacity: Opacity.optional(),
    scale: decimal(0.01, 1, 3).optional().openapi({ description: 'Width of the watermark as a fraction of the frame width; the image size when absent' }),
  })
  .strict()
  .openapi('WatermarkOperation');

export const TextOperationSchema = z
  .object({
    type: z.literal('text'),
    text: freeText(1, 500),
    position: Position.optional(),
    margin: Margin.optional(),
    font: z.enum(FONTS).optional(),
    size: z.number().int().min(6).max(512).optional().openapi({ description: 'Font size in pixels (default 32)' }),
    color: Color.optional(),
    opacity: Opacity.optional(),
    box: z.boolean().optional(),
    box_color: Color.optional(),
    box_opacity: Opacity.optional(),
    start: TimeValue.optional().openapi({ description: 'Show from this time of the output' }),
    end: TimeValue.optional().openapi({ description: 'Show until this time of the output' }),
  })
  .strict()
  .openapi('TextOperation');

export const DenoiseOperationSchema = z
  .object({ type: z.literal('denoise'), strength: z.enum(['light', 'medium', 'strong']).optional() })
  .strict()
  .openapi('DenoiseOperation');

export const DeinterlaceOperationSchema = z
  .object({ type: z.literal('deinterlace'), mode: z.enum(['frame', 'field']).optional().openapi({ description: 'field doubles the frame rate' }) })
  .strict()
  .openapi('DeinterlaceOperation');

export const SharpenOperationSchema = z
  .object({ type: z.literal('sharpen'), amount: decimal(0.1, 3, 2).optional() })
  .strict()
  .openapi('SharpenOperation');

export const BlurOperationSchema = z
  .object({ type: z.literal('blur'), sigma: decimal(0.1, 50, 2).optional() })
  .strict()
  .openapi('BlurOperation');

export const ColorOperationSchema = z
  .object({
    type: z.literal('color'),
    brightness: decimal(-1, 1, 3).optional(),
    contrast: decimal(0, 3, 3).optional(),
    saturation: decimal(0, 3, 3).optional(),
    gamma: decimal(0.1, 10, 3).optional(),
  })
  .strict()
  .refine((op) => op.brightness !== undefined || op.contrast !== undefined || op.saturation !== undefined || op.gamma !== undefined, {
    message: 'give at least one of brightness, contrast, saturation, gamma',
  })
  .openapi('ColorOperation');

export const HueOperationSchema = z
  .object({ type: z.literal('hue'), degrees: decimal(-360, 360, 2).optional(), saturation: decimal(-10, 10, 3).optional() })
  .strict()
  .refine((op) => op.degrees !== undefined || op.saturation !== undefined, { message: 'give degrees and/or saturation' })
  .openapi('HueOperation');

export const StabilizeOperationSchema = z
  .object({ type: z.literal('stabilize'), strength: z.enum(['light', 'medium', 'strong']).optional() })
  .strict()
  .openapi('StabilizeOperation');

export const LoudnormOperationSchema = z
  .object({
    type: z.literal('loudnorm'),
    integrated: decimal(-70, -5, 1).optional().openapi({ description: 'Target integrated loudness, LUFS (default -16)' }),
    true_peak: decimal(-9, 0, 1).optional().openapi({ description: 'Maximum true peak, dBTP (default -1.5)' }),
    lra: decimal(1, 50, 1).optional().openapi({ description: 'Target loudness range, LU (default 11)' }),
    two_pass: z.boolean().optional().openapi({ description: 'Measure first, then normalise linearly (default true)' }),
  })
  .strict()
  .openapi('LoudnormOperation');

export const VolumeOperationSchema = z
  .object({ type: z.literal('volume'), db: decimal(-60, 30, 2).openapi({ description: 'Gain in dB' }) })
  .strict()
  .openapi('VolumeOperation');

export const RemoveAudioOperationSchema = z.object({ type: z.literal('remove_audio') }).strict().openapi('RemoveAudioOperation');

export const ExtractAudioOperationSchema = z.object({ type: z.literal('extract_audio') }).strict().openapi('ExtractAudioOperation');

export const ConcatOperationSchema = z
  .object({
    type: z.literal('concat'),
    inputs: z.array(StorageUri).min(1).max(20).openapi({ description: 'Appended after the main input, in order' }),
  })
  .strict()
  .openapi('ConcatOperation');

export const ThumbnailsOperationSchema = z
  .object({
    type: z.literal('thumbnails'),
    count: z.number().int().min(1).max(1000).optional().openapi({ description: 'N frames evenly spaced over the output' }),
    at: z.array(TimeValue).min(1).max(1000).optional().openapi({ description: 'Frames at these times of the output' }),
  })
  .strict()
  .refine((op) => (op.count === undefined) !== (op.at === undefined), { message: 'give either count or at' })
  .openapi('ThumbnailsOperation');

export const SpriteOperationSchema = z
  .object({
    type: z.literal('sprite'),
    count: z.number().int().min(1).max(1000).optional().openapi({ description: 'Tiles evenly spaced over the output (default 25)' }),
    interval: TimeValue.optional().openapi({ description: 'One tile every interval seconds' }),
    columns: z.number().int().min(1).max(50).optional(),
    tile_width: z.number().int().min(16).max(1280).optional(),
  })
  .strict()
  .refine((op) => op.count === undefined || op.interval === undefined, { message: 'give count or interval, not both' })
  .openapi('SpriteOperation');

const MetadataValue = freeText(0, 1024);
type MetadataKey = (typeof METADATA_KEYS)[number];

/**
 * Tags, keyed from METADATA_KEYS only (a strict object: anything else is refused, `__proto__` included, which a
 * record would drop without a word). The keys are also checked as sent, before zod builds the object, so that a
 * wrong key's problem lists the allowed keys and suggests the closest one.
 */
const MetadataTags = z.preprocess(
  (tags, ctx) => {
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return tags;
    for (const key of Object.keys(tags)) {
      if ((METADATA_KEYS as readonly string[]).includes(key)) continue;
      ctx.addIssue({
        // The shape zod gives a record key outside its allowed set.
        code: 'invalid_key',
        origin: 'record',
        issues: [{ code: 'invalid_value', values: [...METADATA_KEYS], path: [], message: 'not an allowed metadata key' }],
        path: [key],
        message: `${key.slice(0, 64)} is not an allowed metadata key`,
      } as never);
    }
    return tags;
  },
  z
    .object(Object.fromEntries(METADATA_KEYS.map((key) => [key, MetadataValue.optional()])) as Record<MetadataKey, z.ZodOptional<typeof MetadataValue>>)
    .strict(),
);

export const MetadataOperationSchema = z
  .object({
    type: z.literal('metadata'),
    tags: MetadataTags.optional().openapi({ description: `Container tags; keys from ${METADATA_KEYS.join(', ')}` }),
    strip: z.boolean().optional().openapi({ description: "Drop the input's own metadata (default false)" }),
  })
  .strict()
  .openapi('MetadataOperation');

export const OperationSchema = z
  .discriminatedUnion('type', [
    TrimOperationSchema,
    ResizeOperationSchema,
    CropOperationSchema,
    RotateOperationSchema,
    FlipOperationSchema,
    FpsOperationSchema,
    SpeedOperationSchema,
    WatermarkOperationSchema,
    TextOperationSchema,
    DenoiseOperationSchema,
    DeinterlaceOperationSchema,
    SharpenOperationSchema,
    BlurOperationSchema,
    ColorOperationSchema,
    HueOperationSchema,
    StabilizeOperationSchema,
    LoudnormOperationSchema,
    VolumeOperationSchema,
    RemoveAudioOperationSchema,
    ExtractAudioOperationSchema,
    ConcatOperationSchema,
    ThumbnailsOperationSchema,
    SpriteOperationSchema,
    MetadataOperationSchema,
  ])
  .openapi('Operation');

export type Operation = z.infer<typeof OperationSchema>;
export type OperationType = Operation['type'];
export type OperationOf<T extends OperationType> = Extract<Operation, { type: T }>;
export type TrimOperation = OperationOf<'trim'>;
