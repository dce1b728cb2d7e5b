/**
 * The output formats of this version, the codecs each container can hold, and how API names map to ffmpeg
 * encoders, muxers, file extensions and content types. Codec/container pairs are checked here before any job
 * exists (audit: codec/container mismatches).
 */

export const OUTPUT_FORMATS = [
  'mp4',
  'webm',
  'mkv',
  'mov',
  'mp3',
  'm4a',
  'ogg',
  'wav',
  'flac',
  'ts',
  'aac',
  'opus',
  'gif',
  'webp',
  'png',
  'jpg',
] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Video codecs with rate control (crf, bitrate, preset). */
export const VIDEO_CODECS = ['h264', 'h265', 'vp9', 'vp8'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];

/** Image codecs: animated GIF/WebP and still PNG/JPEG/WebP frames. */
export const IMAGE_CODECS = ['gif', 'webp', 'png', 'jpeg'] as const;
export type ImageCodec = (typeof IMAGE_CODECS)[number];

/** What `output.video.codec` may name. */
export const PICTURE_CODECS = [...VIDEO_CODECS, ...IMAGE_CODECS] as const;
export type PictureCodec = VideoCodec | ImageCodec;

export const AUDIO_CODECS = ['aac', 'mp3', 'opus', 'vorbis', 'flac', 'pcm_s16le'] as const;
export type AudioCodec = (typeof AUDIO_CODECS)[number];

export type StreamKind = 'video' | 'audio';

/** media: audio and/or video files; image: GIF, WebP, PNG, JPEG (no audio). */
export type FormatKind = 'media' | 'image';

export interface FormatSpec {
  name: OutputFormat;
  kind: FormatKind;
  /** ffmpeg muxer for `-f`. */
  muxer: string;
  extension: string;
  contentType: string;
  /** Empty for audio-only formats. */
  videoCodecs: readonly PictureCodec[];
  /** Empty for image formats. */
  audioCodecs: readonly AudioCodec[];
  defaultVideo: PictureCodec | null;
  defaultAudio: AudioCodec | null;
}

function media(
  name: OutputFormat,
  muxer: string,
  contentType: string,
  videoCodecs: readonly VideoCodec[],
  audioCodecs: readonly AudioCodec[],
  extension: string = name,
): FormatSpec {
  return {
    name,
    kind: 'media',
    muxer,
    extension,
    contentType,
    videoCodecs,
    audioCodecs,
    defaultVideo: videoCodecs[0] ?? null,
    defaultAudio: audioCodecs[0] ?? null,
  };
}

function image(name: OutputFormat, muxer: string, contentType: string, codec: ImageCodec): FormatSpec {
  return { name, kind: 'image', muxer, extension: name, contentType, videoCodecs: [codec], audioCodecs: [], defaultVideo: codec, defaultAudio: null };
}

/**
 * The codec/container matrix. The first codec of each list is the format's default. Pairs ffmpeg can mux but that
 * common players refuse (VP9 in MP4, Opus in MPEG-TS) are left out on purpose.
 */
export const FORMATS: Readonly<Record<OutputFormat, FormatSpec>> = {
  mp4: media('mp4', 'mp4', 'video/mp4', ['h264', 'h265'], ['aac', 'mp3', 'opus']),
  webm: media('webm', 'webm', 'video/webm', ['vp9', 'vp8'], ['opus', 'vorbis']),
  mkv: media('mkv', 'matroska', 'video/x-matroska', ['h264', 'h265', 'vp9', 'vp8'], ['aac', 'opus', 'vorbis', 'mp3', 'flac']),
  mov: media('mov', 'mov', 'video/quicktime', ['h264', 'h265'], ['aac']),
  mp3: media('mp3', 'mp3', 'audio/mpeg', [], ['mp3']),
  // ffmpeg's muxer for .m4a files is called ipod.
  m4a: media('m4a', 'ipod', 'audio/mp4', [], ['aac']),
  ogg: media('ogg', 'ogg', 'audio/ogg', [], ['opus', 'vorbis']),
  wav: media('wav', 'wav', 'audio/wav', [], ['pcm_s16le']),
  flac: media('flac', 'flac', 'audio/flac', [], ['flac']),
  ts: media('ts', 'mpegts', 'video/mp2t', ['h264', 'h265'], ['aac', 'mp3']),
  // Raw AAC in ADTS frames, the form HLS audio renditions and radio streams use.
  aac: media('aac', 'adts', 'audio/aac', [], ['aac']),
  opus: media('opus', 'opus', 'audio/ogg', [], ['opus']),
  gif: image('gif', 'gif', 'image/gif', 'gif'),
  webp: image('webp', 'webp', 'image/webp', 'webp'),
  // Still images go through the image2 muxer; `-update 1` writes one file, a %03d pattern numbers several.
  png: image('png', 'image2', 'image/png', 'png'),
  jpg: image('jpg', 'image2', 'image/jpeg', 'jpeg'),
};

export const VIDEO_ENCODERS: Readonly<Record<PictureCodec, string>> = {
  h264: 'libx264',
  h265: 'libx265',
  vp9: 'libvpx-vp9',
  vp8: 'libvpx',
  gif: 'gif',
  // Animated WebP; still frames use libwebp (see ANIMATED_WEBP_ENCODER's caller).
  webp: 'libwebp_anim',
  png: 'png',
  jpeg: 'mjpeg',
};

/** The encoder for still WebP frames (thumbnails, sprites). */
export const STILL_WEBP_ENCODER = 'libwebp';

/**
 * Input codecs as ffprobe names them, mapped to the API's codec names: a stream whose codec the output format
 * holds can be copied without decoding.
 */
export const PROBE_CODEC_NAMES: Readonly<Record<string, PictureCodec | AudioCodec>> = {
  h264: 'h264',
  hevc: 'h265',
  vp9: 'vp9',
  vp8: 'vp8',
  aac: 'aac',
  mp3: 'mp3',
  opus: 'opus',
  vorbis: 'vorbis',
  flac: 'flac',
  pcm_s16le: 'pcm_s16le',
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

export function holdsAudio(format: OutputFormat): boolean {
  return FORMATS[format].audioCodecs.length > 0;
}

export function isVideoCodec(codec: string): codec is VideoCodec {
  return (VIDEO_CODECS as readonly string[]).includes(codec);
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
      kind === 'video' ? VIDEO_ENCODERS[codec as PictureCodec] : AUDIO_ENCODERS[codec as AudioCodec];
    return { ok: true, codec, encoder };
  }
  return { ok: false, allowed: [...allowed], suggestion: suggest(format, kind, codec, allowed) };
}

function suggest(format: OutputFormat, kind: StreamKind, codec: string, allowed: readonly string[]): string {
  if (allowed.length === 0 && kind === 'video') {
    const videoFormats = OUTPUT_FORMATS.filter((name) => FORMATS[name].kind === 'media' && !isAudioOnly(name));
    return `${format} is audio only: drop the video settings or use one of ${videoFormats.join(', ')}`;
  }
  if (allowed.length === 0) {
    const audioFormats = OUTPUT_FORMATS.filter((name) => holdsAudio(name));
    return `${format} holds no audio: set output.audio to false or use one of ${audioFormats.join(', ')}`;
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
