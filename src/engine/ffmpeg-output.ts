/**
 * ffprobe's one argv and the parsers of ffmpeg's and ffprobe's output, shared by every engine (native, wasm on Node
 * and in workerd): no I/O and no Node API, so that they load anywhere.
 */
import { isIndirectInputFormat } from '../media/formats.js';
import { engineError, type ProbeResult, type ProbeStream } from './engine.js';

/**
 * The arguments of every probe, on every engine. Only plain files: a crafted input must not make ffprobe fetch URLs
 * (SSRF); the file: prefix keeps a name like "-x" or "http://..." from being read as an option or a URL.
 */
export function probeArgs(file: string): string[] {
  return ['-v', 'error', '-protocol_whitelist', 'file', '-print_format', 'json', '-show_format', '-show_streams', `file:${file}`];
}

/**
 * ffprobe's output as a ProbeResult, or PROBE_FAILED: output that is not a probe of one media file. The playlist
 * demuxers may already have opened other local files; their metadata must not be returned.
 */
export function acceptProbe(stdout: string, logTail = ''): ProbeResult {
  const result = parseProbeOutput(stdout, logTail);
  if (result.format === null && result.streams.length === 0) throw engineError('PROBE_FAILED', logTail);
  if (isIndirectInputFormat(result.format)) throw engineError('PROBE_FAILED', '', 'indirect');
  return result;
}

// ---------------------------------------------------------------------------------------------------- probe

const STREAM_TYPES = new Set<ProbeStream['type']>(['video', 'audio', 'subtitle', 'data', 'attachment']);

/** Parses `ffprobe -print_format json -show_format -show_streams` output. Throws PROBE_FAILED on bad JSON. */
export function parseProbeOutput(text: string, logTail = ''): ProbeResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw engineError('PROBE_FAILED', logTail);
  }
  const root = record(json);
  const format = record(root.format);
  const streams = Array.isArray(root.streams) ? root.streams.map(parseStream).filter(isStream) : [];
  const streamDurations = streams.map((stream) => stream.duration_s ?? 0);
  const duration = decimal(format.duration) ?? (streamDurations.some((d) => d > 0) ? Math.max(...streamDurations) : null);
  return {
    format: shortText(format.format_name),
    duration_s: duration,
    size: wholeNumber(format.size),
    bit_rate: wholeNumber(format.bit_rate),
    streams,
  };
}

function parseStream(value: unknown): ProbeStream | null {
  const raw = record(value);
  const index = wholeNumber(raw.index);
  if (index === null) return null;
  const codecType = shortText(raw.codec_type) as ProbeStream['type'] | null;
  // Cover art is a one-frame "video" stream; marking it as an attachment keeps it from being planned as the video.
  const attachedPicture = record(raw.disposition).attached_pic === 1;
  const type: ProbeStream['type'] = attachedPicture
    ? 'attachment'
    : codecType !== null && STREAM_TYPES.has(codecType)
      ? codecType
      : 'data';
  const stream: ProbeStream = {
    index,
    type,
    codec: shortText(raw.codec_name),
    duration_s: decimal(raw.duration),
    bit_rate: wholeNumber(raw.bit_rate),
  };
  if (codecType === 'video') {
    const width = wholeNumber(raw.width);
    const height = wholeNumber(raw.height);
    if (width !== null && width > 0) stream.width = width;
    if (height !== null && height > 0) stream.height = height;
    stream.fps = frameRate(raw.avg_frame_rate);
  }
  if (codecType === 'audio') {
    const sampleRate = wholeNumber(raw.sample_rate);
    const channels = wholeNumber(raw.channels);
    if (sampleRate !== null && sampleRate > 0) stream.sample_rate = sampleRate;
    if (channels !== null && channels > 0) stream.channels = channels;
  }
  return stream;
}

function isStream(stream: ProbeStream | null): stream is ProbeStream {
  return stream !== null;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function shortText(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 128 ? value : null;
}

/** A finite number >= 0 from a JSON number or ffprobe's decimal strings; 'N/A' and the rest give null. */
function decimal(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== 'string' || !/^\d{1,15}(?:\.\d{1,9})?$/.test(value)) return null;
  return Number(value);
}

function wholeNumber(value: unknown): number | null {
  const number = decimal(value);
  return number !== null && Number.isSafeInteger(number) ? number : null;
}

/** "30000/1001" -> 29.97...; "0/0" and other non-rates -> null. */
function frameRate(value: unknown): number | null {
  const match = typeof value === 'string' ? /^(\d{1,9})\/(\d{1,9})$/.exec(value) : null;
  if (!match) return null;
  const numerator = Number(match[1]);
  const denominator = Number(match[2]);
  if (numerator === 0 || denominator === 0) return null;
  return Math.round((numerator / denominator) * 1000) / 1000;
}

// --------------------------------------------------------------------------------------------- capabilities

/**
 * Names from `ffmpeg -encoders | -decoders | -filters | -muxers`: each entry is a column of flag characters,
 * then the name. Legend lines ("V..... = Video") have '=' where the name would be.
 */
export function parseListing(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z.|]{1,6})\s+(\S+)/.exec(line);
    const name = match?.[2];
    if (!name || name === '=' || /^-+$/.test(name)) continue;
    for (const part of name.split(',')) if (part) names.add(part);
  }
  return [...names].sort();
}

export function parseVersion(text: string): string {
  return /^ffmpeg version (\S+)/m.exec(text)?.[1] ?? 'unknown';
}
