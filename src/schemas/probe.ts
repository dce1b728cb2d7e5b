/**
 * What ffprobe tells of a media file, as every engine reports it (native, wasm, a worker over the protocol) and as a
 * probe job's result holds it. The one schema: engines build it from ffprobe's JSON (src/engine/ffmpeg-output.ts),
 * and a protocol client checks a peer's answer against it before trusting a byte of it.
 */
import { z } from 'zod';

export const PROBE_STREAM_TYPES = ['video', 'audio', 'subtitle', 'data', 'attachment'] as const;

export const ProbeStreamSchema = z.object({
  index: z.number().int(),
  type: z.enum(PROBE_STREAM_TYPES),
  codec: z.string().nullable(),
  width: z.number().optional(),
  height: z.number().optional(),
  fps: z.number().nullable().optional(),
  sample_rate: z.number().optional(),
  channels: z.number().optional(),
  duration_s: z.number().nullable().optional(),
  bit_rate: z.number().nullable().optional(),
});
export type ProbeStream = z.infer<typeof ProbeStreamSchema>;

export const ProbeResultSchema = z.object({
  format: z.string().nullable(),
  duration_s: z.number().nullable(),
  size: z.number().nullable(),
  bit_rate: z.number().nullable(),
  streams: z.array(ProbeStreamSchema).max(1024),
});
export type ProbeResult = z.infer<typeof ProbeResultSchema>;
