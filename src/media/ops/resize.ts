/**
 * resize: to a named size (the short side, keeping the aspect ratio), to a width or a height (the other side
 * follows the aspect ratio), or into a width x height box: `contain` fits inside it, `cover` fills it and crops the
 * overflow, `fill` stretches to it, `pad` fits inside and pads. Sides are even (4:2:0 needs it). Without `upscale`,
 * a frame is never made larger than it is. The sizes are computed here from the probed frame, so the filters carry
 * plain numbers.
 */
import { NAMED_RESOLUTIONS } from '../formats.js';
import { filter, type Filter } from '../graph.js';
import { frameFits, frameLimitText } from '../limits.js';
import { colorArg } from './shared.js';
import { evenFloor, evenRound, type At, type Composer, type OperationModule } from './context.js';
import type { OperationOf } from '../../schemas/operations.js';

type Resize = OperationOf<'resize'>;

export const resize: OperationModule<'resize'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, at, c) {
    if (!checkRequest(op, at, c)) return;
    const video = c.video!;
    const { width: w0, height: h0 } = video.frame;
    if (w0 === null || h0 === null) {
      if (c.probed) c.problem({ code: 'UNSUPPORTED_INPUT', pointer: at(), message: 'the frame size of the input is unknown, so it cannot be resized' });
      return;
    }
    const result = compute(op, w0, h0);
    if (!frameFits(result.width, result.height, c.limits)) {
      c.problem({
        code: 'LIMIT_EXCEEDED',
        pointer: at(),
        message: `the resized frame (${result.width}x${result.height}) is larger than the output limit (${frameLimitText(c.limits)})`,
      });
      return;
    }
    video.add(...result.filters);
    video.frame = { ...video.frame, width: result.width, height: result.height };
  },
};

/** What can be checked before the probe: even sides, and a requested box within the limits. */
function checkRequest(op: Resize, at: At, c: Composer): boolean {
  let ok = true;
  for (const side of ['width', 'height'] as const) {
    const value = op[side];
    if (value !== undefined && value % 2 !== 0) {
      c.problem({ code: 'INVALID_OPTION', pointer: at(side), message: `${side} must be even`, suggestion: String(evenRound(value)) });
      ok = false;
    }
  }
  if (op.width !== undefined && op.height !== undefined && !frameFits(op.width, op.height, c.limits)) {
    c.problem({ code: 'LIMIT_EXCEEDED', pointer: at(), message: `${op.width}x${op.height} is larger than the output limit (${frameLimitText(c.limits)})` });
    ok = false;
  }
  if (op.size !== undefined) {
    const short = NAMED_RESOLUTIONS[op.size];
    // Before the probe, assume 16:9.
    if (!frameFits(evenRound((short * 16) / 9), short, c.limits) && !c.probed) {
      c.problem({ code: 'LIMIT_EXCEEDED', pointer: at('size'), message: `${op.size} is larger than the output limit (${frameLimitText(c.limits)})` });
      ok = false;
    }
  }
  if (op.pad_color !== undefined && op.fit !== 'pad') {
    c.problem({ code: 'INVALID_OPTION', pointer: at('pad_color'), message: 'pad_color applies only with fit: pad' });
    ok = false;
  }
  if (op.fit !== undefined && (op.width === undefined || op.height === undefined)) {
    c.problem({ code: 'INVALID_OPTION', pointer: at('fit'), message: 'fit applies only when both width and height are given' });
    ok = false;
  }
  return ok;
}

interface Resized {
  width: number;
  height: number;
  filters: Filter[];
}

export function compute(op: Resize, w0: number, h0: number): Resized {
  const upscale = op.upscale === true;
  const scaleTo = (width: number, height: number, extra: Filter[] = []): Resized => {
    if (width === w0 && height === h0 && extra.length === 0) return { width, height, filters: [] };
    return { width, height, filters: [filter('scale', { w: width, h: height }), ...extra] };
  };
  // A scale factor, capped at 1 unless upscaling is allowed; sides rounded to even.
  const byFactor = (factor: number) => {
    const f = upscale ? factor : Math.min(1, factor);
    // At 1 an odd side loses a pixel rather than gaining one.
    const even = f === 1 ? evenFloor : evenRound;
    return { width: even(w0 * f), height: even(h0 * f) };
  };

  if (op.size !== undefined) {
    const short = NAMED_RESOLUTIONS[op.size];
    const s = byFactor(short / Math.min(w0, h0));
    return scaleTo(s.width, s.height);
  }
  if (op.width === undefined || op.height === undefined) {
    const s = op.width !== undefined ? byFactor(op.width / w0) : byFactor(op.height! / h0);
    return scaleTo(s.width, s.height);
  }

  const W = op.width;
  const H = op.height;
  switch (op.fit ?? 'contain') {
    case 'contain': {
      const s = byFactor(Math.min(W / w0, H / h0));
      return scaleTo(Math.min(s.width, W), Math.min(s.height, H));
    }
    case 'fill': {
      const width = upscale ? W : Math.min(W, evenFloor(w0));
      const height = upscale ? H : Math.min(H, evenFloor(h0));
      // The picture is stretched on purpose: square pixels, so players show it as it is.
      return scaleTo(width, height, width === w0 && height === h0 ? [] : [filter('setsar', { sar: 1 })]);
    }
    case 'cover': {
      const f = upscale ? Math.max(W / w0, H / h0) : Math.min(1, Math.max(W / w0, H / h0));
      const sw = Math.max(2, Math.ceil((w0 * f) / 2) * 2);
      const sh = Math.max(2, Math.ceil((h0 * f) / 2) * 2);
      const cw = Math.min(W, sw);
      const ch = Math.min(H, sh);
      const filters: Filter[] = [];
      if (sw !== w0 || sh !== h0) filters.push(filter('scale', { w: sw, h: sh }));
      if (cw !== sw || ch !== sh) filters.push(filter('crop', { w: cw, h: ch, x: Math.floor((sw - cw) / 2), y: Math.floor((sh - ch) / 2) }));
      return { width: cw, height: ch, filters };
    }
    case 'pad': {
      const s = byFactor(Math.min(W / w0, H / h0));
      const sw = Math.min(s.width, W);
      const sh = Math.min(s.height, H);
      const filters: Filter[] = [];
      if (sw !== w0 || sh !== h0) filters.push(filter('scale', { w: sw, h: sh }));
      filters.push(
        filter('pad', { w: W, h: H, x: Math.floor((W - sw) / 4) * 2, y: Math.floor((H - sh) / 4) * 2, color: colorArg(op.pad_color ?? 'black') }),
      );
      return { width: W, height: H, filters };
    }
  }
}
