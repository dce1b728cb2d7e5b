/**
 * What @ffmpeg/core 0.12 lists but cannot do. Its `-encoders` and `-filters` listings name these, yet a job using
 * them fails, crashes the instance or never ends; the wasm engine leaves them out of its capabilities so that
 * routing sends such jobs to native ffmpeg, or refuses them with the reason, instead of running them.
 */
export interface ExcludedCapability {
  kind: 'encoder' | 'decoder' | 'filter' | 'muxer';
  name: string;
  /** Why, in words a client may read. */
  reason: string;
}

export const WASM_EXCLUDED: readonly ExcludedCapability[] = [
  { kind: 'encoder', name: 'libvpx-vp9', reason: 'VP9 encoding crashes in ffmpeg.wasm with a memory access out of bounds' },
  { kind: 'encoder', name: 'libx265', reason: 'H.265 encoding never finishes in ffmpeg.wasm' },
  { kind: 'filter', name: 'drawtext', reason: 'ffmpeg.wasm has no fonts for drawtext' },
  { kind: 'filter', name: 'subtitles', reason: 'ffmpeg.wasm has no fonts to render subtitles' },
  { kind: 'filter', name: 'ass', reason: 'ffmpeg.wasm has no fonts to render subtitles' },
];
