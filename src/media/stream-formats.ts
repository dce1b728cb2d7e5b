/**
 * What a streaming package may hold, and the names players need: packages and segment containers, the codecs each
 * takes, H.264 levels, and the RFC 6381 CODECS strings read from the packager's own initialisation segments.
 */

export const STREAM_FORMATS = ['hls', 'dash', 'cmaf'] as const;
export type StreamFormat = (typeof STREAM_FORMATS)[number];
export const SEGMENT_FORMATS = ['fmp4', 'ts'] as const;
export type SegmentFormat = (typeof SEGMENT_FORMATS)[number];
export const LADDER_CODECS = ['h264', 'h265', 'vp9', 'av1'] as const;
export type LadderCodec = (typeof LADDER_CODECS)[number];
export const STREAM_AUDIO_CODECS = ['aac', 'opus'] as const;
export type StreamAudioCodec = (typeof STREAM_AUDIO_CODECS)[number];

/** The operations that apply before the ladder: they change the picture or the sound, not the package. */
export const STREAM_OPERATIONS = [
  'trim',
  'crop',
  'rotate',
  'flip',
  'denoise',
  'deinterlace',
  'sharpen',
  'blur',
  'color',
  'hue',
  'text',
  'watermark',
  'volume',
] as const;

export const LADDER_ENCODERS: Readonly<Record<LadderCodec, string>> = {
  h264: 'libx264',
  h265: 'libx265',
  vp9: 'libvpx-vp9',
  av1: 'libsvtav1',
};
export const STREAM_AUDIO_ENCODERS: Readonly<Record<StreamAudioCodec, string>> = { aac: 'aac', opus: 'libopus' };

/**
 * Which segment container a codec can travel in. MPEG-TS carries H.264 (and AAC) only as HLS players read it; HEVC
 * in HLS needs fMP4 (with the hvc1 tag), and VP9, AV1 and Opus exist in fMP4 only.
 */
export function segmentFormatsFor(codec: LadderCodec | StreamAudioCodec): readonly SegmentFormat[] {
  return codec === 'h264' || codec === 'aac' ? SEGMENT_FORMATS : ['fmp4'];
}

/** The muxer the package is written with, and the folder it lives in under the job. */
export function packager(format: StreamFormat): { muxer: 'hls' | 'dash'; folder: string } {
  return format === 'hls' ? { muxer: 'hls', folder: 'hls' } : { muxer: 'dash', folder: format };
}

// -------------------------------------------------------------------------------------------- H.264 levels

/** Level, max frame size (macroblocks), max macroblocks per second, max bitrate (High profile, bits/s). */
const H264_LEVELS: readonly [string, number, number, number][] = [
  ['3.0', 1_620, 40_500, 12_500_000],
  ['3.1', 3_600, 108_000, 17_500_000],
  ['3.2', 5_120, 216_000, 25_000_000],
  ['4.0', 8_192, 245_760, 25_000_000],
  ['4.1', 8_192, 245_760, 62_500_000],
  ['4.2', 8_704, 522_240, 62_500_000],
  ['5.0', 22_080, 589_824, 168_750_000],
  ['5.1', 36_864, 983_040, 300_000_000],
  ['5.2', 36_864, 2_073_600, 300_000_000],
  ['6.2', 139_264, 16_711_680, 800_000_000],
];

/** The lowest H.264 level a rung fits in: its frame, its macroblock rate, its peak bitrate. */
export function h264Level(width: number, height: number, fps: number, maxBitrate: number): string {
  const macroblocks = Math.ceil(width / 16) * Math.ceil(height / 16);
  const found = H264_LEVELS.find(([, frame, rate, bitrate]) => macroblocks <= frame && macroblocks * fps <= rate && maxBitrate <= bitrate);
  return (found ?? H264_LEVELS.at(-1)!)[0];
}

const H264_PROFILE_BYTES: Readonly<Record<'baseline' | 'main' | 'high', string>> = {
  // profile_idc and the constraint flags libx264 writes for each profile.
  baseline: '42c0',
  main: '4d40',
  high: '6400',
};

/** avc1.PPCCLL for what the planner asked libx264 for (used where there is no init segment to read: MPEG-TS). */
export function h264Codecs(profile: 'baseline' | 'main' | 'high', level: string): string {
  const levelIdc = Math.round(Number(level) * 10);
  return `avc1.${H264_PROFILE_BYTES[profile]}${levelIdc.toString(16).padStart(2, '0')}`;
}

// ------------------------------------------------------------------------------------------ CODECS strings

const hex2 = (value: number) => value.toString(16).padStart(2, '0');
const dec2 = (value: number) => String(value).padStart(2, '0');

/**
 * The RFC 6381 codec string of the first video or audio sample entry of an ISO BMFF initialisation segment, read
 * from its configuration box (avcC, hvcC, vpcC, av1C, esds, dOps); null when none is found.
 */
export function codecsFromInit(bytes: Uint8Array): string | null {
  const at = (box: string) => {
    const needle = [...box].map((ch) => ch.charCodeAt(0));
    outer: for (let i = 4; i + 4 <= bytes.length; i++) {
      for (let k = 0; k < 4; k++) if (bytes[i + k] !== needle[k]) continue outer;
      return i + 4;
    }
    return -1;
  };
  const b = (i: number) => bytes[i] ?? 0;

  let i = at('avcC');
  if (i >= 0) return `avc1.${hex2(b(i + 1))}${hex2(b(i + 2))}${hex2(b(i + 3))}`;
  i = at('hvcC');
  if (i >= 0) {
    const space = (b(i + 1) >> 6) & 3;
    const tier = (b(i + 1) >> 5) & 1;
    const profile = b(i + 1) & 0x1f;
    let compatibility = ((b(i + 2) << 24) | (b(i + 3) << 16) | (b(i + 4) << 8) | b(i + 5)) >>> 0;
    // The compatibility flags are written in reverse bit order (ISO/IEC 14496-15, E.3).
    let reversed = 0;
    for (let bit = 0; bit < 32; bit++) {
      reversed = ((reversed << 1) | (compatibility & 1)) >>> 0;
      compatibility >>>= 1;
    }
    const constraints = [6, 7, 8, 9, 10, 11].map((k) => b(i + k));
    while (constraints.length > 0 && constraints.at(-1) === 0) constraints.pop();
    const prefix = ['', 'A', 'B', 'C'][space]!;
    const tail = constraints.length > 0 ? `.${constraints.map((c) => c.toString(16)).join('.')}` : '';
    return `hvc1.${prefix}${profile}.${reversed.toString(16)}.${tier ? 'H' : 'L'}${b(i + 12)}${tail}`;
  }
  i = at('vpcC');
  if (i >= 0) return `vp09.${dec2(b(i + 4))}.${dec2(b(i + 5))}.${dec2(b(i + 6) >> 4)}`;
  i = at('av1C');
  if (i >= 0) {
    const profile = b(i + 1) >> 5;
    const level = b(i + 1) & 0x1f;
    const tier = b(i + 2) >> 7;
    const high = (b(i + 2) >> 6) & 1;
    const twelve = (b(i + 2) >> 5) & 1;
    const depth = high ? (twelve ? 12 : 10) : 8;
    return `av01.${profile}.${dec2(level)}${tier ? 'H' : 'M'}.${dec2(depth)}`;
  }
  if (at('dOps') >= 0) return 'opus';
  // AAC in MP4 (esds, object type 0x40): AAC-LC unless the decoder config says otherwise.
  if (at('esds') >= 0 || at('mp4a') >= 0) return 'mp4a.40.2';
  return null;
}
