/** Frame-size limits: 8K in either orientation whatever the tier, and the tier's pixel count. */
import type { Limits } from '../config.js';
import { NAMED_RESOLUTIONS, type NamedResolution } from './formats.js';

export const MAX_LONG_SIDE = 7680;
export const MAX_SHORT_SIDE = 4320;

export function frameFits(width: number, height: number, limits: Limits): boolean {
  return (
    Math.max(width, height) <= MAX_LONG_SIDE &&
    Math.min(width, height) <= MAX_SHORT_SIDE &&
    width * height <= limits.outputPixels
  );
}

export function frameLimitText(limits: Limits): string {
  return `${MAX_LONG_SIDE}x${MAX_SHORT_SIDE}, ${limits.outputPixels} pixels`;
}

/** The largest named resolution a frame of this aspect can be scaled to within the limits. */
export function largestNamedFitting(width: number, height: number, limits: Limits): NamedResolution | null {
  const names = Object.keys(NAMED_RESOLUTIONS) as NamedResolution[];
  for (const name of names) {
    const shortSide = NAMED_RESOLUTIONS[name];
    const longSide = Math.max(2, Math.round((shortSide * Math.max(width, height)) / Math.min(width, height) / 2) * 2);
    if (frameFits(longSide, shortSide, limits)) return name;
  }
  return null;
}
