import type { Limits } from '../config.js';
import type { ProbeResult, ProbeStream } from '../engine/engine.js';
import type { AudioOptions, ConvertRequest, TrimOperation, VideoOptions } from '../schemas/convert.js';
import { BitrateParseError, parseBitrate } from './bitrate.js';
import {
  AUDIO_CODEC_LIMITS,
  FORMATS,
  NAMED_RESOLUTIONS,
  VIDEO_CRF_RANGE,
  checkCodecForFormat,
  isAudioOnly,
  isIndirectInputFormat,
  type AudioCodec,
  type FormatSpec,
  type NamedResolution,
  type OutputFormat,
  type VideoCodec,
  type VideoPreset,
} from './formats.js';
import { TimeParseError, formatSecondsArg, parseTimeSeconds } from './time.js';

/**
 * The convert planner: a validated request and the probe of its input become one ffmpeg argv. Every argument is
 * an enum value, a fixed flag or a number this module validated; nothing from the request is copied as text
 * (audit: ffmpeg argument injection). Paths are relative to the job's temp dir, the engine's cwd.
 */

/** The input's file name inside the job's temp dir. */
export const INPUT_FILE = 'input';

/** Every ffmpeg run starts like this: no banner, no stdin, machine-readable progress on stdout only. */
export const BASE_ARGS: readonly string[] = ['-hide_banner', '-nostdin', '-y', '-progress', 'pipe:1', '-nostats'];

export interface PlanOutput {
  /** Shown to clients, used in the output's URL and as its download file name. */
  name: string;
  /** Relative to the job's temp dir. */
  file: string;
  contentType: string;
}

/** What an engine must have to run a plan: ffmpeg's own names, as `ffmpeg -encoders|-decoders|-filters|-muxers` list them. */
export interface PlanRequirements {
  encoders: string[];
  decoders: string[];
  filters: string[];
  muxers: string[];
}

export interface ConvertPlan {
  args: string[];
  outputs: PlanOutput[];
  /** The output duration after trims; null when the input's duration is unknown or zero. */
  expectedDurationS: number | null;
  /** True when every kept stream is copied (`-c copy`): nothing is decoded or encoded. */
  streamCopy: boolean;
  requirements: PlanRequirements;
}

export type PlanProblemCode =
  | 'INVALID_CODEC_FORMAT'
  | 'INVALID_OPTION'
  | 'INVALID_BITRATE'
  | 'INVALID_TRIM'
  | 'LIMIT_EXCEEDED'
  | 'NO_VIDEO_STREAM'
  | 'NO_AUDIO_STREAM'
  | 'UNSUPPORTED_INPUT';

export interface PlanProblem {
  code: PlanProblemCode;
  /** JSON pointer into the request body. */
  pointer: string;
  message: string;
  allowed?: (string | number)[];
  suggestion?: string;
}

/** Frame size bounds whatever the limits say: 8K, in either orientation. */
export const MAX_LONG_SIDE = 7680;
export const MAX_SHORT_SIDE = 4320;

const DEFAULT_CRF: Readonly<Record<VideoCodec, number>> = { h264: 23, h265: 28, vp9: 31, vp8: 10 };
const DEFAULT_PRESET: VideoPreset = 'medium';

// libvpx has no presets; its speed knob is -cpu-used (higher is faster) under the "good" deadline.
const VPX_CPU_USED: Readonly<Record<VideoPreset, number>> = {
  ultrafast: 5,
  superfast: 5,
  veryfast: 4,
  faster: 4,
  fast: 3,
  medium: 2,
  slow: 1,
  slower: 0,
  veryslow: 0,
};

export function isPlanProblems(result: ConvertPlan | PlanProblem[]): result is PlanProblem[] {
  return Array.isArray(result);
}

/**
 * Checks what can be checked without the input (codecs against the container, the key's limits, trim sanity), so
 * that a request is refused at submission rather than after its input was fetched (audit: late validation).
 */
export function validateConvert(req: ConvertRequest, limits: Limits): PlanProblem[] {
  return analyse(req, null, limits).problems;
}

export function planConvert(req: ConvertRequest, input: ProbeResult, limits: Limits): ConvertPlan | PlanProblem[] {
  const { problems, format, trim, video, audio } = analyse(req, input, limits);
  if (problems.length > 0 || !trim) return problems;

  const file = `output.${format.extension}`;
  const args = [
    ...BASE_ARGS,
    // Only plain files: no network fetches or other protocols from inside a crafted input (SSRF).
    '-protocol_whitelist',
    'file',
    ...trim.inputArgs,
    '-i',
    INPUT_FILE,
    ...(video ? ['-map', `0:${video.streamIndex}`] : []),
    ...(audio ? ['-map', `0:${audio.streamIndex}`] : []),
    ...(video ? video.args : ['-vn']),
    ...(audio ? audio.args : ['-an']),
    ...muxerArgs(format),
    '-f',
    format.muxer,
    file,
  ];
  const filters = [...(video?.filters ?? [])];
  return {
    args,
    // The name is also the download's file name, so it carries the extension.
    outputs: [{ name: file, file, contentType: format.contentType }],
    expectedDurationS: trim.expectedDurationS,
    streamCopy: false,
    requirements: {
      encoders: [video?.encoder, audio?.encoder].filter(isString),
      decoders: [video?.decoder, audio?.decoder].filter(isString),
      filters,
      muxers: [format.muxer],
    },
  };
}

interface Analysis {
  problems: PlanProblem[];
  format: FormatSpec;
  trim: TrimPlan | null;
  video: StreamPlan | null;
  audio: StreamPlan | null;
}

/** Plans every part and collects every problem at once; `input` is null when validating before the probe. */
function analyse(req: ConvertRequest, input: ProbeResult | null, limits: Limits): Analysis {
  const problems: PlanProblem[] = [];
  const output = normaliseOutput(req.output);
  const format = FORMATS[output.format];

  if (input) checkInput(input, limits, problems);
  const trim = planTrim(req.operations ?? [], input, problems);
  const video = planVideo(output, format, input, limits, problems);
  const audio = planAudio(output, format, input, limits, problems);

  if (problems.length === 0 && !video && !audio) {
    problems.push({
      code: 'INVALID_OPTION',
      pointer: '/output',
      message: 'the output would contain no stream',
      suggestion: 'keep audio or video enabled, and check that the input has that kind of stream',
    });
  }
  return { problems, format, trim, video, audio };
}

interface NormalisedOutput {
  format: OutputFormat;
  /** undefined: defaults; false: dropped. */
  video: VideoOptions | false | undefined;
  audio: AudioOptions | false | undefined;
  /** Whether the request spelled the output as an object (pointers then reach into it). */
  detailed: boolean;
}

function normaliseOutput(output: ConvertRequest['output']): NormalisedOutput {
  if (typeof output === 'string') return { format: output, video: undefined, audio: undefined, detailed: false };
  return { format: output.format, video: output.video, audio: output.audio, detailed: true };
}

function checkInput(input: ProbeResult, limits: Limits, problems: PlanProblem[]): void {
  if (isIndirectInputFormat(input.format)) {
    problems.push({
      code: 'UNSUPPORTED_INPUT',
      pointer: '/input',
      message: 'the input must be a single media file, not a playlist or a list of other files',
    });
  }
  const duration = knownDuration(input);
  if (duration !== null && duration > limits.inputDurationS) {
    problems.push({
      code: 'LIMIT_EXCEEDED',
      pointer: '/input',
      message: `the input lasts ${Math.ceil(duration)} s, more than the limit of ${limits.inputDurationS} s`,
    });
  }
}

function knownDuration(input: ProbeResult | null): number | null {
  const duration = input?.duration_s ?? null;
  return duration !== null && Number.isFinite(duration) && duration > 0 ? duration : null;
}

// ---------------------------------------------------------------------------------------------------- trim

interface TrimPlan {
  inputArgs: string[];
  expectedDurationS: number | null;
}

function planTrim(operations: TrimOperation[], input: ProbeResult | null, problems: PlanProblem[]): TrimPlan | null {
  const inputDuration = knownDuration(input);
  const trims = operations.map((operation, index) => ({ operation, index })).filter((t) => t.operation.type === 'trim');
  const extra = trims[1];
  if (extra) {
    problems.push({
      code: 'INVALID_TRIM',
      pointer: `/operations/${extra.index}`,
      message: 'only one trim operation is supported',
    });
    return null;
  }
  const only = trims[0];
  if (!only) return { inputArgs: [], expectedDurationS: inputDuration };

  const at = (field: string) => `/operations/${only.index}/${field}`;
  const start = trimTime(only.operation.start, at('start'), problems);
  const end = trimTime(only.operation.end, at('end'), problems);
  const duration = trimTime(only.operation.duration, at('duration'), problems);
  if (start === null || end === null || duration === null) return null;

  const startS = start ?? 0;
  let failed = false;
  const refuse = (field: string, message: string) => {
    problems.push({ code: 'INVALID_TRIM', pointer: at(field), message });
    failed = true;
  };
  if (end !== undefined && duration !== undefined) refuse('duration', 'give either end or duration, not both');
  if (end !== undefined && end <= startS) refuse('end', 'end must be after start');
  if (duration !== undefined && duration <= 0) refuse('duration', 'duration must be greater than zero');
  if (inputDuration !== null && startS >= inputDuration) {
    refuse('start', `start is at or after the end of the input (${formatSecondsArg(inputDuration)} s)`);
  }
  if (failed) return null;

  // Input options: ffmpeg seeks to the keyframe before start and decodes up to it, so the cut is frame
  // accurate and fast; -to is then measured on the input's timeline.
  const inputArgs: string[] = [];
  if (startS > 0) inputArgs.push('-ss', formatSecondsArg(startS));
  if (end !== undefined) inputArgs.push('-to', formatSecondsArg(end));
  if (duration !== undefined) inputArgs.push('-t', formatSecondsArg(duration));

  let expectedDurationS: number | null = null;
  if (inputDuration !== null) {
    const windowEnd = end ?? (duration !== undefined ? startS + duration : inputDuration);
    expectedDurationS = round6(Math.min(inputDuration, windowEnd) - startS);
  }
  return { inputArgs, expectedDurationS };
}

/** undefined when absent, null when invalid (a problem was recorded). */
function trimTime(value: number | string | undefined, pointer: string, problems: PlanProblem[]): number | undefined | null {
  if (value === undefined) return undefined;
  try {
    return parseTimeSeconds(value);
  } catch (error) {
    if (!(error instanceof TimeParseError)) throw error;
    problems.push({ code: 'INVALID_TRIM', pointer, message: error.message });
    return null;
  }
}

// --------------------------------------------------------------------------------------------------- video

interface StreamPlan {
  streamIndex: number;
  args: string[];
  encoder: string;
  /** The input stream's codec, which ffmpeg names its decoder after; null when the probe did not say. */
  decoder: string | null;
  filters: string[];
}

function planVideo(
  output: NormalisedOutput,
  format: FormatSpec,
  input: ProbeResult | null,
  limits: Limits,
  problems: PlanProblem[],
): StreamPlan | null {
  const options = output.video;
  if (options === false) return null;
  if (isAudioOnly(format.name)) {
    if (options !== undefined) {
      const check = checkCodecForFormat(format.name, 'video', options.codec ?? 'h264');
      problems.push({
        code: 'INVALID_CODEC_FORMAT',
        pointer: '/output/video',
        message: `${format.name} is an audio format and holds no video`,
        allowed: [],
        ...(check.ok ? {} : { suggestion: check.suggestion }),
      });
    }
    return null;
  }

  const stream = firstStream(input, 'video');
  if (!stream) {
    problems.push({
      code: 'NO_VIDEO_STREAM',
      pointer: options !== undefined ? '/output/video' : '/output',
      message: 'the input has no video stream',
      suggestion: 'set output.video to false, or choose an audio format such as m4a or mp3',
    });
    return null;
  }

  const video = options ?? {};
  const at = (field: string) => (output.detailed ? `/output/video/${field}` : '/output');
  const codec = (video.codec ?? format.defaultVideo) as VideoCodec;
  const check = checkCodecForFormat(format.name, 'video', codec);
  if (!check.ok) {
    problems.push({
      code: 'INVALID_CODEC_FORMAT',
      pointer: at('codec'),
      message: `${format.name} cannot hold ${codec} video`,
      allowed: check.allowed,
      suggestion: check.suggestion,
    });
    return null;
  }

  const before = problems.length;
  const crfRange = VIDEO_CRF_RANGE[codec];
  if (video.crf !== undefined && (video.crf < crfRange.min || video.crf > crfRange.max)) {
    problems.push({
      code: 'INVALID_OPTION',
      pointer: at('crf'),
      message: `crf for ${codec} must be between ${crfRange.min} and ${crfRange.max}`,
    });
  }
  const bitrate = bitrateOption(video.bitrate, limits, at('bitrate'), problems);
  if (video.fps !== undefined && video.fps > limits.maxFps) {
    problems.push({ code: 'LIMIT_EXCEEDED', pointer: at('fps'), message: `fps must be at most ${limits.maxFps}` });
  }
  const scale = planScale(video.resolution, stream, limits, at('resolution'), problems);
  if (problems.length > before || scale === null) return null;

  const args = ['-c:v', check.encoder, ...rateControl(codec, video, bitrate, limits), ...speedArgs(codec, video.preset)];
  if (codec === 'h265') {
    // Apple players only accept HEVC in MP4/QuickTime under the hvc1 tag; x265's own log is noise in the tail.
    if (format.muxer === 'mp4' || format.muxer === 'mov') args.push('-tag:v', 'hvc1');
    args.push('-x265-params', 'log-level=error');
  }
  // 4:2:0 is what every browser and device decodes; sources in 4:4:4 or RGB would otherwise stay so.
  args.push('-pix_fmt', 'yuv420p');
  if (scale.filter) args.push('-vf', scale.filter);
  if (video.fps !== undefined) args.push('-r', String(video.fps));
  return { streamIndex: stream.index, args, encoder: check.encoder, decoder: stream.codec, filters: scale.filter ? ['scale'] : [] };
}

function rateControl(codec: VideoCodec, video: VideoOptions, bitrate: number | undefined, limits: Limits): string[] {
  const crf = video.crf;
  if (codec === 'h264' || codec === 'h265') {
    // With both, CRF sets the quality and the bitrate caps it (capped CRF).
    if (bitrate !== undefined && crf !== undefined) {
      return ['-crf', String(crf), '-maxrate', String(bitrate), '-bufsize', String(bitrate * 2)];
    }
    if (bitrate !== undefined) return ['-b:v', String(bitrate)];
    return ['-crf', String(crf ?? DEFAULT_CRF[codec])];
  }
  // libvpx: CRF with a bitrate is constrained quality; a bitrate alone is VBR.
  if (bitrate !== undefined && crf !== undefined) return ['-crf', String(crf), '-b:v', String(bitrate)];
  if (bitrate !== undefined) return ['-b:v', String(bitrate)];
  const quality = String(crf ?? DEFAULT_CRF[codec]);
  // VP9 has a true constant-quality mode (-b:v 0). VP8 does not: without a bitrate libvpx caps it at 256 kbit/s,
  // so the key's bitrate limit serves as a ceiling that the quality target, not the cap, decides.
  return codec === 'vp9' ? ['-crf', quality, '-b:v', '0'] : ['-crf', quality, '-b:v', String(limits.maxBitrate)];
}

function speedArgs(codec: VideoCodec, preset: VideoPreset | undefined): string[] {
  const chosen = preset ?? DEFAULT_PRESET;
  if (codec === 'h264' || codec === 'h265') return ['-preset', chosen];
  const args = ['-deadline', 'good', '-cpu-used', String(VPX_CPU_USED[chosen])];
  // VP9 is only multi-threaded per frame row when asked to be.
  if (codec === 'vp9') args.push('-row-mt', '1');
  return args;
}

interface ScalePlan {
  /** null when the input frame size is kept. */
  filter: string | null;
}

function planScale(
  resolution: string | undefined,
  stream: ProbeStream,
  limits: Limits,
  pointer: string,
  problems: PlanProblem[],
): ScalePlan | null {
  const inputWidth = positiveInt(stream.width);
  const inputHeight = positiveInt(stream.height);

  if (resolution === undefined) {
    if (inputWidth === null || inputHeight === null) return { filter: null };
    if (!frameFits(inputWidth, inputHeight, limits)) {
      problems.push({
        code: 'LIMIT_EXCEEDED',
        pointer,
        message: `the input is ${inputWidth}x${inputHeight}, larger than the output limit`,
        suggestion: `set output.video.resolution to ${largestNamedFitting(inputWidth, inputHeight, limits) ?? 'a smaller size'}`,
      });
      return null;
    }
    // 4:2:0 needs even dimensions; an odd-sized input is cropped by one pixel rather than failing.
    const width = evenFloor(inputWidth);
    const height = evenFloor(inputHeight);
    return { filter: width === inputWidth && height === inputHeight ? null : `scale=${width}:${height}` };
  }

  if (resolution in NAMED_RESOLUTIONS) {
    const shortSide = NAMED_RESOLUTIONS[resolution as NamedResolution];
    const portrait = inputWidth !== null && inputHeight !== null && inputHeight > inputWidth;
    // Without a known frame size assume 16:9 landscape for the limit check.
    const aspect = inputWidth !== null && inputHeight !== null ? inputWidth / inputHeight : 16 / 9;
    const longSide = evenRound(shortSide * (portrait ? 1 / aspect : aspect));
    const [width, height] = portrait ? [shortSide, longSide] : [longSide, shortSide];
    if (!frameFits(width, height, limits)) {
      problems.push({ code: 'LIMIT_EXCEEDED', pointer, message: `${resolution} (${width}x${height}) is larger than the output limit` });
      return null;
    }
    // -2 lets ffmpeg keep the aspect ratio with an even length.
    return { filter: portrait ? `scale=${shortSide}:-2` : `scale=-2:${shortSide}` };
  }

  const match = /^(\d{1,5})x(\d{1,5})$/.exec(resolution);
  const width = match ? Number(match[1]) : NaN;
  const height = match ? Number(match[2]) : NaN;
  if (!(width >= 2 && height >= 2)) {
    problems.push({ code: 'INVALID_OPTION', pointer, message: 'resolution must be WIDTHxHEIGHT with sides of at least 2' });
    return null;
  }
  if (width % 2 !== 0 || height % 2 !== 0) {
    problems.push({
      code: 'INVALID_OPTION',
      pointer,
      message: 'width and height must be even',
      suggestion: `${evenRound(width)}x${evenRound(height)}`,
    });
    return null;
  }
  if (!frameFits(width, height, limits)) {
    problems.push({
      code: 'LIMIT_EXCEEDED',
      pointer,
      message: `${width}x${height} is larger than the output limit (${MAX_LONG_SIDE}x${MAX_SHORT_SIDE}, ${limits.outputPixels} pixels)`,
    });
    return null;
  }
  return { filter: `scale=${width}:${height}` };
}

function frameFits(width: number, height: number, limits: Limits): boolean {
  return (
    Math.max(width, height) <= MAX_LONG_SIDE &&
    Math.min(width, height) <= MAX_SHORT_SIDE &&
    width * height <= limits.outputPixels
  );
}

function largestNamedFitting(width: number, height: number, limits: Limits): NamedResolution | null {
  const names = Object.keys(NAMED_RESOLUTIONS) as NamedResolution[];
  for (const name of names) {
    const shortSide = NAMED_RESOLUTIONS[name];
    const longSide = evenRound((shortSide * Math.max(width, height)) / Math.min(width, height));
    if (frameFits(longSide, shortSide, limits)) return name;
  }
  return null;
}

// --------------------------------------------------------------------------------------------------- audio

function planAudio(
  output: NormalisedOutput,
  format: FormatSpec,
  input: ProbeResult | null,
  limits: Limits,
  problems: PlanProblem[],
): StreamPlan | null {
  const options = output.audio;
  if (options === false) return null;
  const stream = firstStream(input, 'audio');
  if (!stream) {
    // A silent video stays a video; only an explicit or audio-only request needs the sound.
    if (options !== undefined || isAudioOnly(format.name)) {
      problems.push({
        code: 'NO_AUDIO_STREAM',
        pointer: options !== undefined ? '/output/audio' : '/output',
        message: 'the input has no audio stream',
        ...(isAudioOnly(format.name) ? {} : { suggestion: 'set output.audio to false' }),
      });
    }
    return null;
  }

  const audio = options ?? {};
  const at = (field: string) => (output.detailed ? `/output/audio/${field}` : '/output');
  const codec = (audio.codec ?? format.defaultAudio) as AudioCodec;
  const check = checkCodecForFormat(format.name, 'audio', codec);
  if (!check.ok) {
    problems.push({
      code: 'INVALID_CODEC_FORMAT',
      pointer: at('codec'),
      message: `${format.name} cannot hold ${codec} audio`,
      allowed: check.allowed,
      suggestion: check.suggestion,
    });
    return null;
  }

  const before = problems.length;
  const codecLimits = AUDIO_CODEC_LIMITS[codec];
  let bitrate: number | undefined;
  if (audio.bitrate !== undefined && !codecLimits.acceptsBitrate) {
    problems.push({ code: 'INVALID_OPTION', pointer: at('bitrate'), message: `${codec} is lossless and takes no bitrate` });
  } else {
    bitrate = bitrateOption(audio.bitrate, limits, at('bitrate'), problems);
  }
  if (audio.channels !== undefined && audio.channels > codecLimits.maxChannels) {
    problems.push({
      code: 'INVALID_OPTION',
      pointer: at('channels'),
      message: `${codec} holds at most ${codecLimits.maxChannels} channels`,
    });
  }
  const rates = codecLimits.sampleRates;
  if (audio.sample_rate !== undefined && rates !== null && !rates.includes(audio.sample_rate)) {
    problems.push({
      code: 'INVALID_OPTION',
      pointer: at('sample_rate'),
      message: `${codec} does not support a sample rate of ${audio.sample_rate} Hz`,
      allowed: [...rates],
    });
  }
  if (problems.length > before) return null;

  const args = ['-c:a', check.encoder];
  if (bitrate !== undefined) args.push('-b:a', String(bitrate));
  if (audio.channels !== undefined) args.push('-ac', String(audio.channels));
  if (audio.sample_rate !== undefined) args.push('-ar', String(audio.sample_rate));
  return { streamIndex: stream.index, args, encoder: check.encoder, decoder: stream.codec, filters: [] };
}

// ------------------------------------------------------------------------------------------------- helpers

function muxerArgs(format: FormatSpec): string[] {
  // Moves the index to the front so players can start before the whole file has arrived.
  return format.muxer === 'mp4' || format.muxer === 'mov' || format.muxer === 'ipod' ? ['-movflags', '+faststart'] : [];
}

function bitrateOption(
  value: string | number | undefined,
  limits: Limits,
  pointer: string,
  problems: PlanProblem[],
): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseBitrate(value, limits.maxBitrate);
  } catch (error) {
    if (!(error instanceof BitrateParseError)) throw error;
    problems.push({ code: error.code, pointer, message: error.message });
    return undefined;
  }
}

function firstStream(input: ProbeResult | null, type: 'video' | 'audio'): ProbeStream | undefined {
  // Before the probe, every stream is assumed present with an unknown frame size.
  if (input === null) return { index: 0, type, codec: null };
  return input.streams.find((stream) => stream.type === type && Number.isSafeInteger(stream.index) && stream.index >= 0);
}

function isString(value: string | null | undefined): value is string {
  return typeof value === 'string';
}

function positiveInt(value: number | undefined): number | null {
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : null;
}

function evenFloor(value: number): number {
  return Math.max(2, value - (value % 2));
}

function evenRound(value: number): number {
  return Math.max(2, Math.round(value / 2) * 2);
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
