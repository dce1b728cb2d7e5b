/**
 * The encoders of the output and their options, from `output.video` / `output.audio`: the codec checked against the
 * container (formats.ts), rate control, speed, and the encoder constraints ffmpeg would otherwise only report at
 * run time. Whether a stream is encoded at all (or copied) is decided by plan.ts.
 */
import type { Limits } from '../config.js';
import type { AudioOptions, ConvertRequest, VideoOptions } from '../schemas/convert.js';
import { BitrateParseError, parseBitrate } from './bitrate.js';
import {
  AUDIO_CODEC_LIMITS,
  STILL_WEBP_ENCODER,
  VIDEO_CRF_RANGE,
  checkCodecForFormat,
  isVideoCodec,
  type AudioCodec,
  type FormatSpec,
  type OutputFormat,
  type PictureCodec,
  type VideoCodec,
  type VideoPreset,
} from './formats.js';
import type { PlanProblem } from './problems.js';

export interface NormalisedOutput {
  format: OutputFormat;
  /** undefined: defaults; false: dropped. */
  video: VideoOptions | false | undefined;
  audio: AudioOptions | false | undefined;
  /** Whether the request spelled the output as an object (pointers then reach into it). */
  detailed: boolean;
}

export function normaliseOutput(output: ConvertRequest['output']): NormalisedOutput {
  if (typeof output === 'string') return { format: output, video: undefined, audio: undefined, detailed: false };
  return { format: output.format, video: output.video, audio: output.audio, detailed: true };
}

export interface Encoding {
  codec: PictureCodec | AudioCodec;
  encoder: string;
  /** -c:v/-c:a and the encoder's options. */
  args: string[];
  /** True when the request set an option that only an encoder can honour (crf, bitrate, channels...). */
  tuned: boolean;
}

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

/** The video encoder; `stills` when the frames are written as separate images (thumbnails, sprite). */
export function videoEncoding(
  output: NormalisedOutput,
  format: FormatSpec,
  limits: Limits,
  stills: boolean,
  problems: PlanProblem[],
): Encoding | null {
  const video = output.video || {};
  const at = (field: string) => (output.detailed ? `/output/video/${field}` : '/output');
  const codec = (video.codec ?? format.defaultVideo) as PictureCodec;
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
  const checkFps = () => {
    if (video.fps !== undefined && video.fps > limits.maxFps) {
      problems.push({ code: 'LIMIT_EXCEEDED', pointer: at('fps'), message: `fps must be at most ${limits.maxFps}` });
    }
  };
  if (!isVideoCodec(codec)) {
    checkFps();
    for (const field of ['crf', 'preset', 'bitrate'] as const) {
      if (video[field] !== undefined) problems.push({ code: 'INVALID_OPTION', pointer: at(field), message: `${format.name} output takes no ${field}` });
    }
    if (problems.length > before) return null;
    return { codec, encoder: imageEncoder(codec, stills, check.encoder), args: imageArgs(codec, stills), tuned: false };
  }

  const crfRange = VIDEO_CRF_RANGE[codec];
  if (video.crf !== undefined && (video.crf < crfRange.min || video.crf > crfRange.max)) {
    problems.push({ code: 'INVALID_OPTION', pointer: at('crf'), message: `crf for ${codec} must be between ${crfRange.min} and ${crfRange.max}` });
  }
  const bitrate = bitrateOption(video.bitrate, limits, at('bitrate'), problems);
  checkFps();
  if (problems.length > before) return null;

  const args = ['-c:v', check.encoder, ...rateControl(codec, video, bitrate, limits), ...speedArgs(codec, video.preset)];
  if (codec === 'h265') {
    // Apple players only accept HEVC in MP4/QuickTime under the hvc1 tag; x265's own log is noise in the tail.
    if (format.muxer === 'mp4' || format.muxer === 'mov') args.push('-tag:v', 'hvc1');
    args.push('-x265-params', 'log-level=error');
  }
  // 4:2:0 is what every browser and device decodes; sources in 4:4:4 or RGB would otherwise stay so.
  args.push('-pix_fmt', 'yuv420p');
  const tuned = video.crf !== undefined || video.bitrate !== undefined || video.preset !== undefined;
  return { codec, encoder: check.encoder, args, tuned };
}

function imageEncoder(codec: PictureCodec, stills: boolean, encoder: string): string {
  return codec === 'webp' && stills ? STILL_WEBP_ENCODER : encoder;
}

function imageArgs(codec: PictureCodec, stills: boolean): string[] {
  switch (codec) {
    case 'gif':
      return ['-c:v', 'gif'];
    case 'webp':
      return stills ? ['-c:v', STILL_WEBP_ENCODER, '-quality', '80'] : ['-c:v', 'libwebp_anim', '-quality', '75'];
    case 'png':
      return ['-c:v', 'png'];
    case 'jpeg':
      // -q:v 2 is near the top of MJPEG's 2..31 quality scale.
      return ['-c:v', 'mjpeg', '-q:v', '2'];
    default:
      throw new Error(`not an image codec: ${codec}`);
  }
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

export function audioEncoding(output: NormalisedOutput, format: FormatSpec, limits: Limits, problems: PlanProblem[]): Encoding | null {
  const audio = output.audio || {};
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
    problems.push({ code: 'INVALID_OPTION', pointer: at('channels'), message: `${codec} holds at most ${codecLimits.maxChannels} channels` });
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
  const tuned = audio.bitrate !== undefined || audio.channels !== undefined || audio.sample_rate !== undefined;
  return { codec, encoder: check.encoder, args, tuned };
}

function bitrateOption(value: string | number | undefined, limits: Limits, pointer: string, problems: PlanProblem[]): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseBitrate(value, limits.maxBitrate);
  } catch (error) {
    if (!(error instanceof BitrateParseError)) throw error;
    problems.push({ code: error.code, pointer, message: error.message });
    return undefined;
  }
}
