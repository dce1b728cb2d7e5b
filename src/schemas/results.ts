/**
 * A completed job's `result`, by kind: what the document promises of each (src/kinds/<kind>.ts makes them). Every
 * end-to-end test that waits for a completed job checks its result against these (test/helpers/api.ts), so the
 * document and the kinds cannot drift apart.
 */
import { z } from '@hono/zod-openapi';
import { QUALITY_METRICS } from '../media/quality.js';
import { ProbeResultSchema } from './probe.js';

const MetricSummarySchema = z
  .object({
    mean: z.number(),
    harmonic_mean: z.number().optional().openapi({ description: 'VMAF only: n / Σ 1/(1+x) − 1, which weighs the worst frames more' }),
    pooled: z.number().optional().openapi({ description: 'PSNR only: the PSNR of the mean squared error over all frames' }),
    min: z.number(),
    max: z.number(),
    p1: z.number(),
    p5: z.number(),
    p50: z.number(),
    p95: z.number(),
    frames: z.number().int(),
  })
  .strict()
  .openapi('MetricSummary');

export const ConvertResultSchema = z
  .object({
    input: ProbeResultSchema,
    inputs: z.array(ProbeResultSchema).optional().openapi({ description: 'Every input, when there are several (concat, watermark)' }),
    stream_copy: z.boolean().openapi({ description: 'The streams were copied, not encoded again' }),
    loudness: z
      .object({ input_i: z.number(), input_tp: z.number(), input_lra: z.number(), input_thresh: z.number(), target_offset: z.number() })
      .strict()
      .optional()
      .openapi({ description: 'What the first pass of a two-pass loudnorm measured' }),
  })
  .strict()
  .openapi('ConvertResult');

export const ProbeJobResultSchema = ProbeResultSchema.openapi('ProbeJobResult');

export const AnalyzeResultSchema = z
  .object({
    metrics: z.object(Object.fromEntries(QUALITY_METRICS.map((m) => [m, MetricSummarySchema.optional()]))).strict(),
    frames_compared: z.number().int(),
    vmaf_model: z.string().optional(),
    subsample: z.number().int(),
    alignment: z
      .object({
        scaled: z.object({ from: z.string(), to: z.string(), flags: z.literal('bicubic') }).strict().nullable().openapi({ description: "The input's frame size scaled to the reference's; null when they match" }),
        fps: z.object({ from: z.number(), to: z.number() }).strict().nullable().openapi({ description: "The input's frame rate converted to the reference's" }),
        duration: z.object({ input_s: z.number().nullable(), reference_s: z.number().nullable(), compared_s: z.number().nullable() }).strict(),
      })
      .strict()
      .nullable(),
    warnings: z.array(z.string()),
    input: ProbeResultSchema,
    reference: ProbeResultSchema,
  })
  .strict()
  .openapi('AnalyzeResult');

const MeasuredBitrate = z.object({ target: z.number().nullable(), peak: z.number(), average: z.number() }).strict();

const RungQualitySchema = z
  .object({
    target_vmaf: z.number(),
    crf: z.number(),
    max_bitrate: z.number().nullable(),
    samples: z.array(z.object({ crf: z.number(), bitrate: z.number(), vmaf: z.number().nullable() }).strict()),
    vmaf: z.object({ subsample: z.number().int(), partial: z.boolean() }).passthrough(),
    met: z.boolean(),
  })
  .strict();

export const StreamResultSchema = z
  .object({
    input: ProbeResultSchema,
    archive: z.string().optional().openapi({ description: 'The name of the zip of the whole package, when asked for' }),
    format: z.enum(['hls', 'dash', 'cmaf']),
    segment_format: z.enum(['fmp4', 'ts']),
    segment_duration_s: z.number(),
    manifests: z.object({ hls: z.string().optional(), dash: z.string().optional() }).strict().openapi({ description: 'Output names of the master playlist and the MPD' }),
    rungs: z.array(
      z
        .object({
          name: z.string(),
          codec: z.string(),
          width: z.number().int(),
          height: z.number().int(),
          fps: z.number(),
          codecs: z.string().openapi({ description: 'The RFC 6381 codecs string, read from the segments' }),
          bitrate: MeasuredBitrate,
          segments: z.number().int(),
          bytes: z.number().int(),
          quality: RungQualitySchema.optional(),
        })
        .strict(),
    ),
    audio: z.object({ codec: z.string(), codecs: z.string(), channels: z.number().int(), bitrate: MeasuredBitrate, segments: z.number().int() }).strict().nullable(),
    thumbnails: z.object({ sprite: z.string(), vtt: z.string(), playlist: z.string().optional() }).strict().nullable(),
    total_bytes: z.number().int(),
    warnings: z.array(z.string()),
  })
  .strict()
  .openapi('StreamResult');

/** Each kind's result schema, by the job's `kind`. */
export const RESULT_SCHEMAS = {
  convert: ConvertResultSchema,
  probe: ProbeJobResultSchema,
  analyze: AnalyzeResultSchema,
  stream: StreamResultSchema,
} as const;

export const JobResultSchema = z
  .union([ConvertResultSchema, StreamResultSchema, AnalyzeResultSchema, ProbeJobResultSchema])
  .nullable()
  .openapi({ description: 'Once completed, by `kind`: ConvertResult, StreamResult, AnalyzeResult, or the probe itself (ProbeJobResult)' });
