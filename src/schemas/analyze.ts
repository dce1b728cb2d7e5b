import { z } from '@hono/zod-openapi';
import { QUALITY_METRICS, SCALE_MODES, VMAF_MODELS } from '../media/quality.js';
import { StorageUri, WebhookEvents, WebhookUrl } from './values.js';

/**
 * The body of POST /api/v1/analyze: compare a distorted file with its reference. rendiff's `{ input, reference,
 * metrics }` is this shape. What depends on the files (sizes, frame rates, lengths) is checked by the quality planner
 * (src/media/quality.ts) once they are probed; what depends on the engines (libvmaf) at submission.
 */

const ENGINES = ['auto', 'native', 'wasm'] as const;

export const QualityMetricSchema = z.enum(QUALITY_METRICS).openapi('QualityMetric');

export const AnalyzeOptionsSchema = z
  .object({
    priority: z.number().int().min(-10).max(10).default(0),
    engine: z.enum(ENGINES).default('auto'),
  })
  .strict()
  .openapi('AnalyzeOptions');

export const AnalyzeRequestSchema = z
  .object({
    input: StorageUri.openapi({ description: 'The distorted file: an encode of the reference' }),
    reference: StorageUri.openapi({ description: 'The source the input was made from' }),
    metrics: z
      .array(QualityMetricSchema)
      .min(1)
      .max(QUALITY_METRICS.length)
      .superRefine((metrics, ctx) => {
        metrics.forEach((metric, index) => {
          if (metrics.indexOf(metric) !== index) ctx.addIssue({ code: 'custom', path: [index], message: `${metric} is named twice` });
        });
      })
      .optional()
      .openapi({
        description:
          'Default: every metric an engine here can compute: vmaf, psnr and ssim where an engine has libvmaf, else psnr and ssim. The job stores the metrics it was given.',
      }),
    vmaf_model: z
      .enum(VMAF_MODELS)
      .optional()
      .openapi({ description: 'default: vmaf_v0.6.1 (HD); 4k: vmaf_4k_v0.6.1; phone: the default model with its phone transform' }),
    subsample: z.number().int().min(1).max(100).default(1).openapi({ description: 'Compare every Nth frame (frames 0, N, 2N, ...)' }),
    scale: z
      .enum(SCALE_MODES)
      .default('bicubic')
      .openapi({ description: "bicubic: an input of another size is scaled to the reference's size; none: such inputs are refused" }),
    options: AnalyzeOptionsSchema.prefault({}),
    webhook_url: WebhookUrl.optional(),
    webhook_events: WebhookEvents.optional(),
  })
  .strict()
  .openapi('AnalyzeRequest');

export type AnalyzeBody = z.infer<typeof AnalyzeRequestSchema>;
/** What an analyze job stores: the body with its metrics decided at submission. */
export type AnalyzeRequest = AnalyzeBody & { metrics: z.infer<typeof QualityMetricSchema>[] };
