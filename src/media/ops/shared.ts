/** Values several operations share: positions on a 3x3 grid, colours, and their ffmpeg spellings. */
import { formatNumber } from '../graph.js';

export const POSITIONS = [
  'top-left',
  'top',
  'top-right',
  'left',
  'center',
  'right',
  'bottom-left',
  'bottom',
  'bottom-right',
] as const;
export type Position = (typeof POSITIONS)[number];

export const NAMED_COLORS = ['white', 'black', 'red', 'green', 'blue', 'yellow', 'cyan', 'magenta', 'gray'] as const;
export type NamedColor = (typeof NAMED_COLORS)[number];
export const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

/** ffmpeg's colour syntax: a name or 0xRRGGBB, with @alpha. */
export function colorArg(color: string, opacity = 1): string {
  const base = HEX_COLOR.test(color) ? `0x${color.slice(1).toLowerCase()}` : color;
  if (!HEX_COLOR.test(color) && !(NAMED_COLORS as readonly string[]).includes(color)) throw new Error('unchecked colour');
  return opacity === 1 ? base : `${base}@${formatNumber(opacity)}`;
}

/**
 * x/y expressions placing a box of size (w, h) inside a frame of size (W, H) at a grid position with a margin.
 * The variable names are the filter's own (overlay: main_w/overlay_w; drawtext: w/text_w).
 */
export function placement(
  position: Position,
  margin: number,
  names: { frameW: string; frameH: string; boxW: string; boxH: string },
): { x: string; y: string } {
  const m = formatNumber(margin);
  const [vertical, horizontal] = splitPosition(position);
  const x =
    horizontal === 'left' ? m : horizontal === 'right' ? `${names.frameW}-${names.boxW}-${m}` : `(${names.frameW}-${names.boxW})/2`;
  const y =
    vertical === 'top' ? m : vertical === 'bottom' ? `${names.frameH}-${names.boxH}-${m}` : `(${names.frameH}-${names.boxH})/2`;
  return { x, y };
}

function splitPosition(position: Position): ['top' | 'middle' | 'bottom', 'left' | 'center' | 'right'] {
  switch (position) {
    case 'top-left':
      return ['top', 'left'];
    case 'top':
      return ['top', 'center'];
    case 'top-right':
      return ['top', 'right'];
    case 'left':
      return ['middle', 'left'];
    case 'center':
      return ['middle', 'center'];
    case 'right':
      return ['middle', 'right'];
    case 'bottom-left':
      return ['bottom', 'left'];
    case 'bottom':
      return ['bottom', 'center'];
    case 'bottom-right':
      return ['bottom', 'right'];
  }
}
