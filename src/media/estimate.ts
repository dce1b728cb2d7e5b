/**
 * The speed and size model of each engine, and the estimates made from it: how long a job should take on an
 * engine, how large its outputs should be, and how much memory it needs. Pure: the numbers come from a plan, a
 * probe (when there is one) and the constants below, which `npm run bench` (bench/speed.ts) calibrates by
 * running the same small jobs on native ffmpeg and on the wasm engine; it prints a block to paste here.
 *
 * Work is counted in megapixel-frames (width x height x frames / 1e6) for video and images, in seconds of media
 * for audio, and in bytes for stream copy. These are estimates: they rank engines and give clients an idea; they
 * are not promises.
 */
import { NAMED_RESOLUTIONS } from './formats.js';

export type EngineName = 'native' | 'wasm';

export interface SpeedModel {
  /** Video and image encoders: megapixel-frames per second, decoding and scaling included, at the default preset. */
  videoMpxPerS: Readonly<Record<string, number>>;
  /** For an encoder the table does not name. */
  videoDefaultMpxPerS: number;
  /** Audio encoders: seconds of audio per second of work. */
  audioRealtime: Readonly<Record<string, number>>;
  audioDefaultRealtime: number;
  /** Stream copy (remux): bytes of input per second. */
  copyBytesPerS: number;
  /** Per run, once the engine is up: process start, instance hand-over, file copies of a small job. */
  runOverheadMs: number;
}

// Calibrated by `npm run bench` (bench/speed.ts) on the development machine (2 cores shared with other work, so the
// best of several runs of each job): 320x240 and 640x360 clips of 4 s for video, 30 s of audio, a 1280x720 clip for
// stream copy, with the planner's default settings. Measured there: native ffmpeg's process start is ~250 ms, a
// warm wasm instance starts a job in ~15 ms; x264 (medium) runs ~35 Mpx-frames/s native and ~6 in wasm (wasm/native
// ~2-4x on these small jobs, ~6x in pure encoding); libvpx VP8 is as fast in wasm as native. Encoders the bench
// does not run (x265, VP9, images) are estimates relative to those. Re-run it and paste its output to recalibrate.
export const SPEED_MODELS: Readonly<Record<EngineName, SpeedModel>> = {
  native: {
    videoMpxPerS: { libx264: 35, libx265: 6, libvpx: 4, 'libvpx-vp9': 3, png: 40, mjpeg: 120, libwebp: 20, libwebp_anim: 6, gif: 20 },
    videoDefaultMpxPerS: 5,
    audioRealtime: { aac: 220, libmp3lame: 700, libopus: 350, libvorbis: 250, flac: 1000, pcm_s16le: 3000 },
    audioDefaultRealtime: 250,
    copyBytesPerS: 250e6,
    runOverheadMs: 250,
  },
  wasm: {
    videoMpxPerS: { libx264: 6, libvpx: 4.5, png: 8, mjpeg: 20, libwebp: 3, libwebp_anim: 1, gif: 4 },
    videoDefaultMpxPerS: 1,
    audioRealtime: { aac: 100, libmp3lame: 160, libopus: 180, libvorbis: 60, flac: 150, pcm_s16le: 500 },
    audioDefaultRealtime: 60,
    copyBytesPerS: 27e6,
    runOverheadMs: 15,
  },
};

/** x264/x265 presets (and the libvpx speeds the planner maps them to) relative to medium. */
export const PRESET_SPEED: Readonly<Record<string, number>> = {
  ultrafast: 6,
  superfast: 4.5,
  veryfast: 3,
  faster: 1.8,
  fast: 1.4,
  medium: 1,
  slow: 0.6,
  slower: 0.3,
  veryslow: 0.15,
};

const IMAGE_ENCODERS = new Set(['png', 'mjpeg', 'libwebp', 'libwebp_anim', 'gif', 'apng']);
const AUDIO_ENCODERS = new Set(['aac', 'libmp3lame', 'libopus', 'opus', 'libvorbis', 'vorbis', 'flac', 'pcm_s16le', 'libfdk_aac', 'alac']);

export function encoderKind(encoder: string): 'video' | 'image' | 'audio' {
  if (AUDIO_ENCODERS.has(encoder) || encoder.startsWith('pcm_')) return 'audio';
  if (IMAGE_ENCODERS.has(encoder)) return 'image';
  return 'video';
}

// --------------------------------------------------------------------------------------------- job profile

/** What the model needs to know about one job; every field may be unknown before the input is probed. */
export interface JobProfile {
  streamCopy: boolean;
  /** ffmpeg encoder names (the plan's requirements). */
  encoders: string[];
  /** Seconds of output media; null when unknown. */
  durationS: number | null;
  inputBytes: number | null;
  inputDurationS: number | null;
  /** The output frame, for video and image outputs; null for audio only or when unknown. */
  frame: { width: number; height: number; fps: number } | null;
  /** The input's frame, which the decoder holds; null or absent when unknown (it is at least the output frame). */
  source?: { width: number; height: number } | null;
  /** Frames written by image outputs (a thumbnail is 1); null means one per frame of the duration. */
  imageFrames: number | null;
  preset: string | null;
  crf: number | null;
  videoBitrate: number | null;
  audioBitrate: number | null;
}

/** Assumptions for what is not known before a probe: a 720p, 30 fps, 2.5 Mbit/s input. */
export const ASSUMED = {
  width: 1280,
  height: 720,
  fps: 30,
  inputBytesPerS: 2_500_000 / 8,
} as const;

/** Fills what a probe would have said from the input size and the assumptions above (the input is 720p). */
export function withAssumptions(profile: JobProfile): JobProfile {
  const hasPicture = profile.encoders.some((e) => encoderKind(e) !== 'audio');
  let { durationS, inputDurationS } = profile;
  if (inputDurationS === null && profile.inputBytes !== null) inputDurationS = profile.inputBytes / ASSUMED.inputBytesPerS;
  if (durationS === null) durationS = inputDurationS;
  const frame = profile.frame ?? (hasPicture ? { width: ASSUMED.width, height: ASSUMED.height, fps: ASSUMED.fps } : null);
  const source = profile.source ?? (hasPicture ? { width: ASSUMED.width, height: ASSUMED.height } : null);
  return { ...profile, durationS, inputDurationS, frame, source };
}

// ----------------------------------------------------------------------------------------------- time

export interface TimeEstimate {
  /** Work at the model's speed plus the per-run overhead, in milliseconds; null when the duration is unknown. */
  workMs: number | null;
}

/** Expected run time of a job on an engine with this speed model (start-up of the engine not included). */
export function expectedWorkMs(model: SpeedModel, profile: JobProfile): number | null {
  if (profile.streamCopy) {
    if (profile.inputBytes === null) return null;
    const share = shareOfInput(profile);
    return model.runOverheadMs + ((profile.inputBytes * share) / model.copyBytesPerS) * 1000;
  }
  if (profile.durationS === null) return null;
  let seconds = 0;
  const presetFactor = profile.preset ? (PRESET_SPEED[profile.preset] ?? 1) : 1;
  for (const encoder of profile.encoders) {
    const kind = encoderKind(encoder);
    if (kind === 'audio') {
      seconds += profile.durationS / (model.audioRealtime[encoder] ?? model.audioDefaultRealtime);
      continue;
    }
    if (!profile.frame) continue;
    const frames = kind === 'image' && profile.imageFrames !== null ? profile.imageFrames : profile.durationS * profile.frame.fps;
    const mpx = (profile.frame.width * profile.frame.height * frames) / 1e6;
    const speed = (model.videoMpxPerS[encoder] ?? model.videoDefaultMpxPerS) * (kind === 'video' ? presetFactor : 1);
    seconds += mpx / speed;
  }
  return model.runOverheadMs + seconds * 1000;
}

/** The part of the input the output covers (a trim keeps less). */
function shareOfInput(profile: JobProfile): number {
  const { durationS, inputDurationS } = profile;
  if (durationS === null || inputDurationS === null || inputDurationS <= 0) return 1;
  return Math.min(1, Math.max(0, durationS / inputDurationS));
}

// ----------------------------------------------------------------------------------------------- size

/** Bits per pixel of each encoder at its default quality (the planner's default CRF) on ordinary footage. */
export const BITS_PER_PIXEL: Readonly<Record<string, number>> = {
  libx264: 0.1,
  libx265: 0.06,
  libvpx: 0.12,
  'libvpx-vp9': 0.07,
  'libaom-av1': 0.05,
};
const DEFAULT_BITS_PER_PIXEL = 0.1;
/** Bytes per pixel of one still image. */
export const IMAGE_BYTES_PER_PIXEL: Readonly<Record<string, number>> = { png: 1.2, mjpeg: 0.15, libwebp: 0.1, libwebp_anim: 0.05, gif: 0.3 };
/** What each audio encoder writes at its default settings, in bits per second. */
export const AUDIO_DEFAULT_BITRATE: Readonly<Record<string, number>> = {
  aac: 128_000,
  libmp3lame: 128_000,
  libopus: 96_000,
  libvorbis: 112_000,
  flac: 700_000,
  pcm_s16le: 1_536_000,
};
/** Per CRF step above the default, x264 and libvpx write about 11 % less (6 steps halve the bitrate). */
const CRF_STEP = 2 ** (-1 / 6);
const DEFAULT_CRF: Readonly<Record<string, number>> = { libx264: 23, libx265: 28, libvpx: 10, 'libvpx-vp9': 31 };

/** Expected bytes of all outputs together; null when the duration (or, for stream copy, the input size) is unknown. */
export function expectedOutputBytes(profile: JobProfile): number | null {
  if (profile.streamCopy) return profile.inputBytes === null ? null : Math.round(profile.inputBytes * shareOfInput(profile));
  if (profile.durationS === null) return null;
  let bits = 0;
  for (const encoder of profile.encoders) {
    const kind = encoderKind(encoder);
    if (kind === 'audio') {
      bits += (profile.audioBitrate ?? AUDIO_DEFAULT_BITRATE[encoder] ?? 128_000) * profile.durationS;
      continue;
    }
    if (!profile.frame) continue;
    const pixels = profile.frame.width * profile.frame.height;
    if (kind === 'image') {
      const frames = profile.imageFrames ?? profile.durationS * profile.frame.fps;
      bits += pixels * frames * 8 * (IMAGE_BYTES_PER_PIXEL[encoder] ?? 0.5);
      continue;
    }
    if (profile.videoBitrate !== null) {
      bits += profile.videoBitrate * profile.durationS;
      continue;
    }
    const crfShift = profile.crf !== null && DEFAULT_CRF[encoder] !== undefined ? profile.crf - DEFAULT_CRF[encoder] : 0;
    const bpp = (BITS_PER_PIXEL[encoder] ?? DEFAULT_BITS_PER_PIXEL) * CRF_STEP ** crfShift;
    bits += bpp * pixels * profile.frame.fps * profile.durationS;
  }
  return Math.round(bits / 8);
}

// --------------------------------------------------------------------------------------------- memory

// Measured inside workerd (test/workers/wasm-memory.test.ts: the wasm engine of wasm/workerd.ts, a fresh instance per
// job, its memoryBytes() high-water mark = the core's linear memory after the run plus its files; the core's growth
// steps included). An idle instance holds 32.0 MiB. x264 at the default preset (medium) grew it by 190-220 bytes per
// output pixel: 320x240 -> 46.4 MiB, 640x360 -> 81.1, 854x480 -> 116.0, 1280x720 -> 200.9 (2-4 s clips). Per output
// pixel at 640x360 by preset: ultrafast 4, superfast 32, veryfast 66, faster 108, fast 159, medium 219, slow 292,
// slower 379, veryslow 484. libvpx (VP8): 29 per pixel at 1280x720 (58.9 MiB), nothing measurable at 320x240. GIF:
// about 90; animated WebP 27; a PNG still next to nothing (1280x720: 33.7 MiB). Decoding an H.264 source (x264 medium: B-frames, 3 references) to a 240p output added 15-19 bytes per
// source pixel: 1280x720 -> 67.9 MiB, 1920x1080 -> 81.2 MiB. The constants below are those figures rounded up, so
// the estimate stays above what a job really takes.

/** What an idle wasm core instance holds: its initial linear memory (32 MiB in workerd and on Node). */
export const WASM_BASE_BYTES = 32 * 1024 ** 2;
/**
 * What a video or image encoder holds while it runs, per pixel of the output frame, at its default settings:
 * x264's look-ahead and reference frames (with their half-pel planes), libvpx's frame buffers. An encoder not named
 * here is counted as x264 is.
 */
export const ENCODER_BYTES_PER_PIXEL: Readonly<Record<string, number>> = { libx264: 240, libvpx: 40, gif: 120, libwebp_anim: 40, png: 16 };
const DEFAULT_ENCODER_BYTES_PER_PIXEL = 240;
/** x264's memory by preset relative to medium (look-ahead depth and references); measured, rounded up. */
export const PRESET_MEMORY: Readonly<Record<string, number>> = {
  ultrafast: 0.1,
  superfast: 0.2,
  veryfast: 0.35,
  faster: 0.5,
  fast: 0.75,
  medium: 1,
  slow: 1.35,
  slower: 1.75,
  veryslow: 2.2,
};
/**
 * Decoding the source, per pixel of the input frame: H.264 keeps up to 16 reference frames (4:2:0, 1.5 bytes per
 * pixel each), the filter graph a few more.
 */
export const DECODE_BYTES_PER_PIXEL = 24;

/**
 * Memory a job needs on the wasm engine, which holds every file in memory: the instance, the input, the outputs,
 * the decoder's frames at the source size and each encoder's at the output size. Native ffmpeg streams from disk,
 * so this only matters for engines with a memory cap.
 */
export function expectedMemoryBytes(profile: JobProfile): number {
  const files = (profile.inputBytes ?? 0) + (expectedOutputBytes(profile) ?? 0);
  const pictures = profile.encoders.filter((e) => encoderKind(e) !== 'audio');
  let frames = 0;
  if (!profile.streamCopy && pictures.length > 0 && profile.frame) {
    const pixels = profile.frame.width * profile.frame.height;
    for (const encoder of pictures) frames += pixels * encoderBytesPerPixel(encoder, profile.preset);
    // Never scaled up, so the source is at least the output frame when it is not known.
    const source = profile.source ?? profile.frame;
    frames += source.width * source.height * DECODE_BYTES_PER_PIXEL;
  }
  return Math.round(WASM_BASE_BYTES + files + frames);
}

function encoderBytesPerPixel(encoder: string, preset: string | null): number {
  const perPixel = ENCODER_BYTES_PER_PIXEL[encoder] ?? DEFAULT_ENCODER_BYTES_PER_PIXEL;
  // The planner maps presets to libvpx speeds too, but only x264's memory follows its preset this much.
  const x264 = encoder === 'libx264' || encoder === 'libx265' || !(encoder in ENCODER_BYTES_PER_PIXEL);
  return perPixel * (x264 && preset ? (PRESET_MEMORY[preset] ?? Math.max(...Object.values(PRESET_MEMORY))) : 1);
}

// -------------------------------------------------------------------------------------------- profiles

/** The parts of a plan the model reads (ConvertPlan has them). */
export interface PlanShape {
  args: readonly string[];
  streamCopy: boolean;
  expectedDurationS: number | null;
  requirements: { encoders: readonly string[] };
}

/** The parts of a probe the model reads (ProbeResult has them). */
export interface ProbeShape {
  duration_s: number | null;
  size: number | null;
  streams: readonly { type: string; width?: number; height?: number; fps?: number | null }[];
}

/**
 * A job's profile from its plan, the probe of its input (null before it was probed) and the request, read
 * loosely: only the output hints the model uses (resolution, fps, preset, crf, bitrates) are looked at.
 */
export function profileOf(options: {
  plan: PlanShape;
  probe: ProbeShape | null;
  request: unknown;
  inputBytes: number | null;
}): JobProfile {
  const { plan, probe } = options;
  const output = field(options.request, 'output');
  const video = field(output, 'video');
  const audio = field(output, 'audio');
  const source = probe?.streams.find((s) => s.type === 'video' && (s.width ?? 0) > 0 && (s.height ?? 0) > 0);

  let frame: JobProfile['frame'] = null;
  const sourceFps = source?.fps && source.fps > 0 ? source.fps : ASSUMED.fps;
  const fps = positive(field(video, 'fps')) ?? positive(argValue(plan.args, '-r')) ?? sourceFps;
  const resolution = field(video, 'resolution');
  const sized = typeof resolution === 'string' ? /^(\d{1,5})x(\d{1,5})$/.exec(resolution) : null;
  const short = typeof resolution === 'string' ? (NAMED_RESOLUTIONS as Readonly<Record<string, number>>)[resolution] : undefined;
  const input = source?.width && source.height ? { width: source.width, height: source.height } : null;
  // A named resolution bounds the output's short side whatever the input: before a probe, of the assumed input.
  const scaled = input ?? (short ? { width: ASSUMED.width, height: ASSUMED.height } : null);
  // As the planner sizes it (ops/resize.ts): never larger than the input unless upscale is asked for.
  const upscale = field(video, 'upscale') === true;
  if (sized) {
    const [width, height] = [Number(sized[1]), Number(sized[2])];
    const capped = input !== null && !upscale;
    frame = { width: capped ? Math.min(width, input.width) : width, height: capped ? Math.min(height, input.height) : height, fps };
  } else if (scaled) {
    const factor = short ? short / Math.min(scaled.width, scaled.height) : 1;
    const scale = upscale && input ? factor : Math.min(1, factor);
    frame = { width: Math.round(scaled.width * scale), height: Math.round(scaled.height * scale), fps };
  }

  const frames = positive(argValue(plan.args, '-frames:v')) ?? positive(argValue(plan.args, '-vframes'));
  return {
    streamCopy: plan.streamCopy,
    encoders: [...plan.requirements.encoders],
    durationS: plan.expectedDurationS,
    inputBytes: options.inputBytes ?? probe?.size ?? null,
    inputDurationS: probe?.duration_s ?? null,
    frame,
    source: input,
    imageFrames: frames ?? null,
    preset: typeof field(video, 'preset') === 'string' ? (field(video, 'preset') as string) : null,
    crf: positive(field(video, 'crf')) ?? null,
    videoBitrate: bitrate(field(video, 'bitrate')),
    audioBitrate: bitrate(field(audio, 'bitrate')),
  };
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}

function argValue(args: readonly string[], flag: string): string | undefined {
  const at = args.lastIndexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

function positive(value: unknown): number | null {
  const number = typeof value === 'string' && /^\d{1,9}(?:\.\d{1,6})?$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) && number > 0 ? number : null;
}

/** "2.5M", "800k" or a number, in bits per second; null for anything else (the planner has refused it already). */
function bitrate(value: unknown): number | null {
  if (typeof value === 'number') return positive(value);
  const match = typeof value === 'string' ? /^(\d{1,12})(?:\.(\d{1,6}))?([kKmMgG]?)$/.exec(value) : null;
  if (!match) return null;
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(match[3] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(`${match[1]}.${match[2] ?? '0'}`) * unit);
}

/**
 * Start-up of each engine on Node before a job's own overhead: native ffmpeg's process start is in its run
 * overhead; a wasm job is counted as needing a new thread and instance (bench: "on a new thread"), because the pool
 * keeps few threads and ends idle ones, and routing happens at submission, before it can know which will be warm.
 */
export const NODE_STARTUP_MS: Readonly<Record<EngineName, number>> = { native: 0, wasm: 230 };
