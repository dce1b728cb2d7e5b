/**
 * sprite: one image of tiles (frames evenly spaced, or one every interval), and a WebVTT index whose cues point
 * players at each tile (`sprite.jpg#xywh=x,y,w,h`) for seek-bar previews. The index is text the planner writes;
 * the tiles come from select + scale + tile in one decode.
 */
import { filter } from '../graph.js';
import { frameFits, frameLimitText } from '../limits.js';
import { TimeParseError, parseTimeSeconds } from '../time.js';
import { positiveInt, round6, type Frame, type OperationModule } from './context.js';
import type { OperationOf } from '../../schemas/operations.js';
import { selectAt, stillFormat } from './stills.js';

export const SPRITE_INDEX = 'sprite.vtt';

export const sprite: OperationModule<'sprite'> = {
  stage: 'finish',
  needs: 'video',
  apply(op, at, c) {
    const format = stillFormat(c, at);
    if (!format) return;
    const video = c.video!;
    const duration = c.duration;
    let interval: number | undefined;
    if (op.interval !== undefined) {
      try {
        interval = parseTimeSeconds(op.interval);
      } catch (error) {
        if (!(error instanceof TimeParseError)) throw error;
        c.problem({ code: 'INVALID_OPTION', pointer: at('interval'), message: error.message });
        return;
      }
      if (interval < 0.1) {
        c.problem({ code: 'INVALID_OPTION', pointer: at('interval'), message: 'interval must be at least 0.1 s' });
        return;
      }
    }
    // The number of tiles is known before the probe unless it follows from an interval.
    const count = interval !== undefined ? (duration === null ? null : Math.ceil(duration / interval)) : (op.count ?? 25);
    if (count !== null && count > 1000) {
      c.problem({ code: 'LIMIT_EXCEEDED', pointer: at('interval'), message: `that makes ${count} tiles; at most 1000`, suggestion: String(round6(duration! / 1000)) });
      return;
    }
    // The sheet is one image: bounded like any frame (audit #30), before the probe too, so a sheet that cannot
    // fit is refused at submission rather than after its input was fetched.
    const sheet = count === null ? null : sheetOf(op, count, video.frame);
    if (sheet && !frameFits(sheet.width, sheet.height, c.limits)) {
      c.problem({
        code: 'LIMIT_EXCEEDED',
        pointer: at(),
        message:
          `the sheet would be ${sheet.width}x${sheet.height}${sheet.assumed ? ' (tiles taken as 16:9 until the input is probed)' : ''}, ` +
          `larger than the output limit (${frameLimitText(c.limits)})`,
        suggestion: 'use fewer tiles, a smaller tile_width, or more columns',
      });
      return;
    }
    if (duration === null || count === null) {
      if (c.probed) c.problem({ code: 'UNSUPPORTED_INPUT', pointer: at(), message: 'the input duration is unknown, so tiles cannot be spaced over it' });
      return;
    }
    const fps = video.frame.fps;
    if (fps !== null && count > Math.floor(duration * fps)) {
      c.problem({ code: 'INVALID_OPTION', pointer: at(interval !== undefined ? 'interval' : 'count'), message: `the output has only about ${Math.floor(duration * fps)} frames` });
      return;
    }
    const starts = Array.from({ length: count }, (_v, k) => round6(interval !== undefined ? k * interval : (k * duration) / count));
    const times = interval !== undefined ? starts : starts.map((_s, k) => round6(((k + 0.5) * duration) / count));

    if (sheet!.assumed) {
      if (c.probed) c.problem({ code: 'UNSUPPORTED_INPUT', pointer: at(), message: 'the frame size of the input is unknown, so tiles cannot be sized' });
      return;
    }
    const { columns, rows, tileW, tileH } = sheet!;

    video.add(filter('select', { expr: selectAt(times) }), filter('scale', { w: tileW, h: tileH }), filter('tile', { layout: `${columns}x${rows}` }));
    video.frame = { ...video.frame, width: sheet!.width, height: sheet!.height };
    const sheetFile = `sprite.${format.extension}`;
    c.files.push({ file: SPRITE_INDEX, text: webvtt(sheetFile, starts, duration, columns, tileW, tileH) });
    c.output = {
      target: sheetFile,
      files: [
        { name: sheetFile, file: sheetFile, contentType: format.contentType },
        { name: SPRITE_INDEX, file: SPRITE_INDEX, contentType: 'text/vtt; charset=utf-8' },
      ],
      args: ['-frames:v', '1', '-update', '1'],
      stills: true,
      timed: true,
    };
  },
};

interface Sheet {
  columns: number;
  rows: number;
  tileW: number;
  tileH: number;
  width: number;
  height: number;
  /** The frame size is not known yet: tiles are taken as 16:9, as limit checks before the probe do elsewhere. */
  assumed: boolean;
}

function sheetOf(op: OperationOf<'sprite'>, count: number, frame: Frame): Sheet {
  const W = positiveInt(frame.width);
  const H = positiveInt(frame.height);
  const assumed = W === null || H === null;
  const tileW = op.tile_width ?? 160;
  const tileH = Math.max(2, Math.round(assumed ? (tileW * 9) / 16 : (tileW * H) / W));
  const columns = Math.min(op.columns ?? 5, count);
  const rows = Math.ceil(count / columns);
  return { columns, rows, tileW, tileH, width: columns * tileW, height: rows * tileH, assumed };
}

/** A WebVTT index: cue k covers [starts[k], starts[k+1]) and names tile k of the sheet. */
export function webvtt(sheet: string, starts: readonly number[], duration: number, columns: number, tileW: number, tileH: number): string {
  const lines = ['WEBVTT', ''];
  starts.forEach((start, k) => {
    const end = Math.min(starts[k + 1] ?? duration, duration);
    const x = (k % columns) * tileW;
    const y = Math.floor(k / columns) * tileH;
    lines.push(`${clock(start)} --> ${clock(end)}`, `${sheet}#xywh=${x},${y},${tileW},${tileH}`, '');
  });
  return lines.join('\n');
}

function clock(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}
