/**
 * The output formats of this version, the codecs each container can hold, and how API names map to ffmpeg
 * encoders, muxers, file extensions and content types. Codec/container pairs are checked here before any job
 * exists (audit: codec/container mismatches).
 */

export const OUTPUT_FORMATS = ['mp4', 'webm', 'mkv', 'mov', 'mp3', 'm4a', 'ogg', 'wav', 'flac'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const VIDEO_CODECS = ['h264', 'h265', 'vp9', 'vp8'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];

export const AUDIO_CODECS = ['aac', 'mp3', 'opus', 'vorbis', 'flac', 'pcm_s16le'] as const;
export type AudioCodec = (typeof AUDIO_CODECS)[number];

export type StreamKind = 'video' | 'audio';

export interface FormatSpec {
  name: OutputFormat;
  /** ffmpeg muxer for `-f`. */
  muxer: string;
  extension: string;
  contentType: string;
  /** Empty for audio-only formats. */
  videoCodecs: readonly VideoCodec[];
  audioCodecs: readonly AudioCodec[];
  defaultVideo: VideoCodec | null;
  defaultAudio: AudioCodec;
}

export const FORMATS: Readonly<Record<OutputFormat, FormatSpec>> = {
  mp4: {
    name: 'mp4',
    muxer: 'mp4',
    extension: 'mp4',
    contentType: 'video/mp4',
    videoCodecs: ['h264', 'h265'],
    audioCodecs: ['aac', 'mp3', 'opus'],
    defaultVideo: 'h264',
    defaultAudio: 'aac',
  },
  webm: {
    name: 'webm',
    muxer: 'webm',
    extension: 'webm',
    contentType: 'video/webm',
    videoCodecs: ['vp9', 'vp8'],
    audioCodecs: ['opus', 'vorbis'],
    defaultVideo: 'vp9',
    defaultAudio: 'opus',
  },
  mkv: {
    name: 'mkv',
    muxer: 'matroska',
    extension: 'mkv',
    contentType: 'video/x-matroska',
    videoCodecs: ['h264', 'h265', 'vp9', 'vp8'],
    audioCodecs: ['aac', 'opus', 'vorbis', 'mp3', 'flac'],
    defaultVideo: 'h264',
    defaultAudio: 'aac',
  },
  mov: {
    name: 'mov',
    muxer: 'mov',
    extension: 'mov',
    contentType: 'video/quicktime',
    videoCodecs: ['h264', 'h265'],
    audioCodecs: ['aac'],
    defaultVideo: 'h264',
    defaultAudio: 'aac',
  },
  mp3: {
    name: 'mp3',
    muxer: 'mp3',
    extension: 'mp3',
    contentType: 'audio/mpeg',
    videoCodecs: [],
    audioCodecs: ['mp3'],
    defaultVideo: null,
    defaultAudio: 'mp3',
  },
  m4a: {
    name: 'm4a',
    // ffmpeg's muxer for .m4a files is called ipod.
    muxer: 'ipod',
    extension: 'm4a',
    contentType: 'audio/mp4',
    videoCodecs: [],
    audioCodecs: ['aac'],
    defaultVideo: null,
    defaultAudio: 'aac',
  },
  ogg: {
    name: 'ogg',
    muxer: 'ogg',
    extension: 'ogg',
    contentType: 'audio/ogg',
    videoCodecs: [],
    audioCodecs: ['opus', 'vorbis'],
    defaultVideo: null,
    defaultAudio: 'opus',
  },
  wav: {
    name: 'wav',
    muxer: 'wav',
    extension: 'wav',
    contentType: 'audio/wav',
    videoCodecs: [],
    audioCodecs: ['pcm_s16le'],
    defaultVideo: null,
    defaultAudio: 'pcm_s16le',
  },
  flac: {
    name: 'flac',
    muxer: 'flac',
    extension: 'flac',
    contentType: 'audio/flac',
    videoCodecs: [],
    audioCodecs: ['flac'],
    defaultVideo: null,
    defaultAudio: 'flac',
  },
};

export const VIDEO_ENCODERS: Readonly<Record<VideoCodec, string>> = {
  h264: 'libx264',
  h265: 'libx265',
  vp9: 'libvpx-vp9',
  vp8: 'libvpx',
};

export const AUDIO_ENCODERS: Readonly<Record<AudioCodec, string>> = {
  aac: 'aac',
  mp3: 'libmp3lame',
  opus: 'libopus',
  vorbis: 'libvorbis',
  flac: 'flac',
  pcm_s16le: 'pcm_s16le',
};

export interface AudioCodecLimits {
  /** Sample rates the encoder accepts; null when any rate works. */
  sampleRates: readonly number[] | null;
  maxChannels: number;
  /** Lossless and PCM codecs have no bitrate to choose. */
  acceptsBitrate: boolean;
}

// Encoder constraints of ffmpeg 5.1 that otherwise only show up as "Error while opening encoder" at run time.
export const AUDIO_CODEC_LIMITS: Readonly<Record<AudioCodec, AudioCodecLimits>> = {
  aac: { sampleRates: [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000], maxChannels: 8, acceptsBitrate: true },
  mp3: { sampleRates: [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000], maxChannels: 2, acceptsBitrate: true },
  opus: { sampleRates: [8000, 12000, 16000, 24000, 48000], maxChannels: 8, acceptsBitrate: true },
  vorbis: { sampleRates: null, maxChannels: 8, acceptsBitrate: true },
  flac: { sampleRates: null, maxChannels: 8, acceptsBitrate: false },
  pcm_s16le: { sampleRates: null, maxChannels: 8, acceptsBitrate: false },
};

/** The CRF range each video encoder accepts (libvpx's VP8 refuses a CRF below its minimum quantizer of 4). */
export const VIDEO_CRF_RANGE: Readonly<Record<VideoCodec, { min: number; max: number }>> = {
  h264: { min: 0, max: 51 },
  h265: { min: 0, max: 51 },
  vp9: { min: 0, max: 51 },
  vp8: { min: 4, max: 51 },
};

/** x264/x265 speed presets, also mapped onto libvpx speed settings. */
export const VIDEO_PRESETS = [
  'ultrafast',
  'superfast',
  'veryfast',
  'faster',
  'fast',
  'medium',
  'slow',
  'slower',
  'veryslow',
] as const;
export type VideoPreset = (typeof VIDEO_PRESETS)[number];

/** Named resolutions and the length of the short side they stand for. */
export const NAMED_RESOLUTIONS = {
  '2160p': 2160,
  '1440p': 1440,
  '1080p': 1080,
  '720p': 720,
  '480p': 480,
  '360p': 360,
  '240p': 240,
} as const;
export type NamedResolution = keyof typeof NAMED_RESOLUTIONS;

/** The sample rates a request may ask for; each codec accepts a subset (AUDIO_CODEC_LIMITS). */
export const SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000] as const;

export function isOutputFormat(value: string): value is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(value);
}

export function isAudioOnly(format: OutputFormat): boolean {
  return FORMATS[format].videoCodecs.length === 0;
}

export type CodecCheck =
  | { ok: true; codec: string; encoder: string }
  | { ok: false; allowed: string[]; suggestion: string };

/**
 * Checks that `format` can hold `codec` as its `kind` stream. When refused, `allowed` lists the codecs the format
 * takes and `suggestion` names a fix: another codec for this format, or formats that do take the codec.
 */
export function checkCodecForFormat(format: OutputFormat, kind: StreamKind, codec: string): CodecCheck {
  const spec = FORMATS[format];
  const allowed: readonly string[] = kind === 'video' ? spec.videoCodecs : spec.audioCodecs;
  if (allowed.includes(codec)) {
    const encoder =
      kind === 'video' ? VIDEO_ENCODERS[codec as VideoCodec] : AUDIO_ENCODERS[codec as AudioCodec];
    return { ok: true, codec, encoder };
  }
  return { ok: false, allowed: [...allowed], suggestion: suggest(format, kind, codec, allowed) };
}

function suggest(format: OutputFormat, kind: StreamKind, codec: string, allowed: readonly string[]): string {
  if (allowed.length === 0) {
    const videoFormats = OUTPUT_FORMATS.filter((name) => !isAudioOnly(name));
    return `${format} is audio only: drop the video settings or use one of ${videoFormats.join(', ')}`;
  }
  const holders = formatsHolding(kind, codec);
  const sameCodec = holders.length > 0 ? ` or keep ${codec} with format ${holders.join(' or ')}` : '';
  return `use ${kind} codec ${allowed[0]} with ${format}${sameCodec}`;
}

/** The formats that can hold `codec` as a `kind` stream, in the order of OUTPUT_FORMATS. */
export function formatsHolding(kind: StreamKind, codec: string): OutputFormat[] {
  return OUTPUT_FORMATS.filter((name) => {
    const codecs: readonly string[] = kind === 'video' ? FORMATS[name].videoCodecs : FORMATS[name].audioCodecs;
    return codecs.includes(codec);
  });
}

/**
 * Demuxers that open other files or network addresses named inside the input (playlists, concat lists, session
 * descriptions). A job's input must be one media file; these would let an upload read other tenants' blobs.
 */
export const INDIRECT_INPUT_FORMATS: readonly string[] = ['hls', 'dash', 'concat', 'sdp', 'rtsp', 'rtp', 'sap'];

/** True when ffprobe's comma-separated format name names any indirect demuxer. */
export function isIndirectInputFormat(formatName: string | null): boolean {
  if (formatName === null) return false;
  return formatName.split(',').some((name) => INDIRECT_INPUT_FORMATS.includes(name.trim()));
}
