/**
 * The `auto` ladder: rungs chosen from the input, never above its height (nothing is upscaled) and at its own frame
 * rate, with bitrates that a viewer of that size expects. The table is H.264's at 30 fps (close to the bitrates the
 * hosted APIs and Apple's authoring guide use); other codecs need less for the same picture, high frame rates more.
 */
import type { LadderCodec } from './stream-formats.js';

/** Height -> H.264 bitrate at 30 fps (bits/s). */
export const AUTO_LADDER: readonly { height: number; bitrate: number }[] = [
  { height: 2160, bitrate: 12_000_000 },
  { height: 1440, bitrate: 7_000_000 },
  { height: 1080, bitrate: 4_500_000 },
  { height: 720, bitrate: 2_500_000 },
  { height: 480, bitrate: 1_200_000 },
  { height: 360, bitrate: 700_000 },
  { height: 240, bitrate: 350_000 },
];

/** How much of H.264's bitrate each codec needs for about the same quality. */
export const CODEC_EFFICIENCY: Readonly<Record<LadderCodec, number>> = { h264: 1, h265: 0.65, vp9: 0.7, av1: 0.55 };

/** Above 30 fps a rung carries more pictures: more bits, though not twice as many. */
const HIGH_FPS_FACTOR = 1.4;

export interface AutoRung {
  height: number;
  bitrate: number;
}

/**
 * The rungs for an input of `height` at `fps`: every table height at or below it, at most `max` of them (the largest
 * first); an input smaller than the smallest rung gets one rung at its own height.
 */
export function autoLadder(height: number, fps: number | null, codec: LadderCodec, max: number): AutoRung[] {
  const factor = CODEC_EFFICIENCY[codec] * (fps !== null && fps > 31 ? HIGH_FPS_FACTOR : 1);
  const fitting = AUTO_LADDER.filter((rung) => rung.height <= height);
  const chosen = fitting.length > 0 ? fitting.slice(0, Math.max(1, max)) : [{ height: evenDown(height), bitrate: AUTO_LADDER.at(-1)!.bitrate }];
  return chosen.map((rung) => ({ height: rung.height, bitrate: Math.round((rung.bitrate * factor) / 1000) * 1000 }));
}

function evenDown(value: number): number {
  return Math.max(2, value - (value % 2));
}
