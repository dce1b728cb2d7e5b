/**
 * text: a caption drawn with drawtext at a grid position, optionally in a box and for a time window. The text is
 * NFC-normalised and becomes the value of drawtext's `text` option, escaped by graph.ts so that it stays that one
 * value (audit #32); `expansion=none` keeps drawtext from reading %{...} sequences in it. The font is chosen by
 * family through fontconfig, never by a path.
 */
import { filter, formatNumber } from '../graph.js';
import { normaliseText } from '../text.js';
import { TimeParseError, parseTimeSeconds } from '../time.js';
import { colorArg, placement } from './shared.js';
import type { OperationModule } from './context.js';
import { FONTS } from '../vocabulary.js';

const FONT_FAMILIES: Readonly<Record<(typeof FONTS)[number], string>> = { sans: 'Sans', serif: 'Serif', mono: 'Monospace' };

export const text: OperationModule<'text'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, at, c) {
    const seconds = (value: number | string | undefined, field: string): number | undefined | null => {
      if (value === undefined) return undefined;
      try {
        return parseTimeSeconds(value);
      } catch (error) {
        if (!(error instanceof TimeParseError)) throw error;
        c.problem({ code: 'INVALID_OPTION', pointer: at(field), message: error.message });
        return null;
      }
    };
    const start = seconds(op.start, 'start');
    const end = seconds(op.end, 'end');
    if (start === null || end === null) return;
    if (start !== undefined && end !== undefined && end <= start) {
      c.problem({ code: 'INVALID_OPTION', pointer: at('end'), message: 'end must be after start' });
      return;
    }

    const size = op.size ?? 32;
    const { x, y } = placement(op.position ?? 'bottom', op.margin ?? 16, { frameW: 'w', frameH: 'h', boxW: 'text_w', boxH: 'text_h' });
    const box = op.box === true;
    c.video!.add(
      filter('drawtext', {
        font: FONT_FAMILIES[op.font ?? 'sans'],
        text: normaliseText(op.text),
        expansion: 'none',
        fontsize: size,
        fontcolor: colorArg(op.color ?? 'white', op.opacity ?? 1),
        x,
        y,
        box: box ? 1 : undefined,
        boxcolor: box ? colorArg(op.box_color ?? 'black', op.box_opacity ?? 0.5) : undefined,
        boxborderw: box ? Math.max(1, Math.round(size / 4)) : undefined,
        enable: start !== undefined || end !== undefined ? window(start ?? 0, end) : undefined,
      }),
    );
  },
};

/** drawtext's timeline option: shown while t is in [start, end]. */
function window(start: number, end: number | undefined): string {
  return end === undefined ? `gte(t,${formatNumber(start)})` : `between(t,${formatNumber(start)},${formatNumber(end)})`;
}
