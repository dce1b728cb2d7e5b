/** What thumbnails and sprite share: the still-image formats, and frame selection at given times. */
import { FORMATS, type FormatSpec } from '../formats.js';
import { formatNumber } from '../graph.js';
import type { At, Composer } from './context.js';

export const STILL_FORMATS = ['jpg', 'png', 'webp'] as const;

/** The output format when it can hold still frames; records a problem otherwise. */
export function stillFormat(c: Composer, at: At): FormatSpec | null {
  if ((STILL_FORMATS as readonly string[]).includes(c.format.name)) return c.format;
  c.problem({
    code: 'INVALID_CODEC_FORMAT',
    pointer: at(),
    message: `still frames cannot be written as ${c.format.name}`,
    allowed: [...STILL_FORMATS],
    suggestion: `set output to ${STILL_FORMATS.join(', ')}`,
  });
  return null;
}

export function stillSpec(name: (typeof STILL_FORMATS)[number]): FormatSpec {
  return FORMATS[name];
}

/**
 * A `select` expression keeping, for each time T, the first frame at or after T: t >= T while the frame before was
 * still before T (prev_t is NaN for the first frame, and a comparison with NaN is false).
 */
export function selectAt(times: readonly number[]): string {
  return times.map((t) => `gte(t,${formatNumber(t)})*not(gte(prev_t,${formatNumber(t)}))`).join('+');
}
