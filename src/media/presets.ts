/**
 * Presets: named partial convert requests. The built-ins are here; a key's own live in the `presets` table
 * (src/api/presets.ts). A request names one and overrides any part of it; `applyPreset` is that merge, a pure
 * function whose result is validated as a complete request afterwards.
 *
 * The merge: the output's format and each video/audio setting are overridden one by one (`video: false` drops the
 * preset's video); options likewise; an operation in the request replaces the preset's operation of the same type
 * (text and watermark, which may repeat, are added instead), and the preset's remaining operations come first.
 * A size or frame rate given one way (output.video.resolution / .fps) replaces the preset's given the other way
 * (a resize / fps operation), and the other way round.
 */
import type { ConvertBody, PresetBody } from '../schemas/convert.js';
import type { Operation } from '../schemas/operations.js';
import { REPEATABLE } from './ops/index.js';

export const BUILTIN_PRESETS: Readonly<Record<string, PresetBody>> = {
  'web-1080p': {
    description: 'MP4 (H.264, AAC) for web players, at most 1080p',
    output: { format: 'mp4', video: { codec: 'h264', crf: 22, preset: 'medium' }, audio: { codec: 'aac', bitrate: '160k' } },
    operations: [{ type: 'resize', size: '1080p' }],
  },
  'web-720p': {
    description: 'MP4 (H.264, AAC) for web players, at most 720p',
    output: { format: 'mp4', video: { codec: 'h264', crf: 23, preset: 'medium' }, audio: { codec: 'aac', bitrate: '128k' } },
    operations: [{ type: 'resize', size: '720p' }],
  },
  'mobile-480p': {
    description: 'Small MP4 (H.264, AAC) for phones on slow networks, at most 480p',
    output: { format: 'mp4', video: { codec: 'h264', crf: 26, preset: 'fast' }, audio: { codec: 'aac', bitrate: '96k', channels: 2 } },
    operations: [{ type: 'resize', size: '480p' }],
  },
  'archive-hevc': {
    description: 'Matroska with high-quality H.265 and lossless FLAC audio, full size',
    output: { format: 'mkv', video: { codec: 'h265', crf: 20, preset: 'slow' }, audio: { codec: 'flac' } },
  },
  'podcast-audio': {
    description: 'Mono MP3 at 96 kbit/s, loudness normalised to -16 LUFS (EBU R128, two passes)',
    output: { format: 'mp3', audio: { codec: 'mp3', bitrate: '96k', channels: 1, sample_rate: 44100 } },
    operations: [{ type: 'loudnorm', integrated: -16, true_peak: -1.5, lra: 11 }],
  },
  'gif-preview': {
    description: 'An animated GIF of the first 5 seconds, 320 pixels wide at 10 frames per second',
    output: { format: 'gif' },
    operations: [
      { type: 'trim', duration: 5 },
      { type: 'resize', width: 320 },
      { type: 'fps', fps: 10 },
    ],
  },
  thumbnails: {
    description: 'Five JPEG thumbnails evenly spaced over the video, 320 pixels wide',
    output: { format: 'jpg' },
    operations: [
      { type: 'resize', width: 320 },
      { type: 'thumbnails', count: 5 },
    ],
  },
};

export function isBuiltinPreset(name: string): boolean {
  return Object.hasOwn(BUILTIN_PRESETS, name);
}

type OutputObject = Exclude<PresetBody['output'], string>;
type StreamSetting<T> = T | false | undefined;

/** The request that `body` makes of `preset`: still to be validated as a complete request. */
export function applyPreset(preset: PresetBody, body: ConvertBody): Record<string, unknown> {
  const presetOutput: OutputObject = typeof preset.output === 'string' ? { format: preset.output } : preset.output;
  const override = typeof body.output === 'string' ? { format: body.output } : (body.output ?? {});
  const bodyOps = body.operations ?? [];
  const bodyVideo = typeof override.video === 'object' ? override.video : undefined;
  const bodyHas = (type: Operation['type']) => bodyOps.some((op) => op.type === type);

  // A size or rate given one way in the request replaces the preset's given the other way.
  const replaced = new Set(bodyOps.filter((op) => !REPEATABLE.has(op.type)).map((op) => op.type));
  if (bodyVideo?.resolution !== undefined) replaced.add('resize');
  if (bodyVideo?.fps !== undefined) replaced.add('fps');
  let presetVideo = presetOutput.video;
  if (typeof presetVideo === 'object' && (bodyHas('resize') || bodyHas('fps'))) {
    const { resolution, upscale, fps, ...rest } = presetVideo;
    presetVideo = { ...rest, ...(bodyHas('resize') ? {} : { resolution, upscale }), ...(bodyHas('fps') ? {} : { fps }) };
  }

  const output: Record<string, unknown> = { format: override.format ?? presetOutput.format };
  const video = mergeSetting(presetVideo, override.video);
  const audio = mergeSetting(presetOutput.audio, override.audio);
  if (video !== undefined) output.video = video;
  if (audio !== undefined) output.audio = audio;

  const operations = [...(preset.operations ?? []).filter((op) => !replaced.has(op.type)), ...bodyOps];
  const options = { ...(preset.options ?? {}), ...(body.options ?? {}) };
  const merged: Record<string, unknown> = { input: body.input, preset: body.preset, output, options };
  if (operations.length > 0) merged.operations = operations;
  if (body.webhook_url !== undefined) merged.webhook_url = body.webhook_url;
  if (body.webhook_events !== undefined) merged.webhook_events = body.webhook_events;
  return dropUndefined(merged);
}

function mergeSetting<T extends object>(base: StreamSetting<T>, override: StreamSetting<T>): StreamSetting<T> {
  if (override === undefined) return base;
  if (override === false || base === undefined || base === false) return override;
  return dropUndefined({ ...base, ...override } as Record<string, unknown>) as T;
}

function dropUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
