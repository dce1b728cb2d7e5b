/**
 * `output.video.resolution` and `output.video.fps`, applied after the operations, and the checks on the frame that
 * leaves the graph: within the key's limits, and even-sized when a 4:2:0 encoder gets it.
 *
 * A resolution is sized by the resize operation's own rule (ops/resize.ts `compute`), so the two never disagree: a
 * named size is `resize { size }`, WIDTHxHEIGHT is `resize { width, height, fit: fill }`, and neither makes the frame
 * larger than the input unless `output.video.upscale` asks for it.
 */
import { NAMED_RESOLUTIONS, type NamedResolution } from './formats.js';
import { filter } from './graph.js';
import { frameFits, frameLimitText, largestNamedFitting } from './limits.js';
import type { NormalisedOutput } from './encode.js';
import { evenFloor, evenRound, type Composer, type VideoPipe } from './ops/context.js';
import { compute } from './ops/resize.js';

/** Scales to `output.video.resolution` (never up unless `upscale`) and checks the final frame against the limits. */
export function applyOutputResolution(c: Composer, video: VideoPipe, output: NormalisedOutput): boolean {
  const resolution = output.video ? output.video.resolution : undefined;
  const upscale = output.video ? output.video.upscale === true : false;
  const pointer = output.detailed ? '/output/video/resolution' : '/output';
  const { width: inputWidth, height: inputHeight } = video.frame;

  if (resolution === undefined) {
    if (output.video && output.video.upscale !== undefined) {
      c.problem({ code: 'INVALID_OPTION', pointer: '/output/video/upscale', message: 'upscale applies only with resolution' });
      return false;
    }
    if (inputWidth === null || inputHeight === null || frameFits(inputWidth, inputHeight, c.limits)) return true;
    c.problem({
      code: 'LIMIT_EXCEEDED',
      pointer,
      message: `the input is ${inputWidth}x${inputHeight}, larger than the output limit`,
      suggestion: `set output.video.resolution to ${largestNamedFitting(inputWidth, inputHeight, c.limits) ?? 'a smaller size'}`,
    });
    return false;
  }

  if (resolution in NAMED_RESOLUTIONS) {
    const shortSide = NAMED_RESOLUTIONS[resolution as NamedResolution];
    const portrait = inputWidth !== null && inputHeight !== null && inputHeight > inputWidth;
    // Without a known frame size assume 16:9 landscape for the limit check.
    const aspect = inputWidth !== null && inputHeight !== null ? inputWidth / inputHeight : 16 / 9;
    const longSide = evenRound(shortSide * (portrait ? 1 / aspect : aspect));
    const [width, height] = portrait ? [shortSide, longSide] : [longSide, shortSide];
    if (!frameFits(width, height, c.limits)) {
      c.problem({ code: 'LIMIT_EXCEEDED', pointer, message: `${resolution} (${width}x${height}) is larger than the output limit` });
      return false;
    }
    if (inputWidth !== null && inputHeight !== null) {
      scaleLikeResize(video, compute({ type: 'resize', size: resolution as NamedResolution, upscale }, inputWidth, inputHeight));
      return true;
    }
    // Before the probe: the scale the plan needs, sized later (-2 keeps the aspect ratio with an even length).
    video.add(filter('scale', { w: -2, h: shortSide }));
    return true;
  }

  const match = /^(\d{1,5})x(\d{1,5})$/.exec(resolution);
  const width = match ? Number(match[1]) : NaN;
  const height = match ? Number(match[2]) : NaN;
  if (!(width >= 2 && height >= 2)) {
    c.problem({ code: 'INVALID_OPTION', pointer, message: 'resolution must be WIDTHxHEIGHT with sides of at least 2' });
    return false;
  }
  if (width % 2 !== 0 || height % 2 !== 0) {
    c.problem({ code: 'INVALID_OPTION', pointer, message: 'width and height must be even', suggestion: `${evenRound(width)}x${evenRound(height)}` });
    return false;
  }
  if (!frameFits(width, height, c.limits)) {
    c.problem({ code: 'LIMIT_EXCEEDED', pointer, message: `${width}x${height} is larger than the output limit (${frameLimitText(c.limits)})` });
    return false;
  }
  if (inputWidth !== null && inputHeight !== null) {
    scaleLikeResize(video, compute({ type: 'resize', width, height, fit: 'fill', upscale }, inputWidth, inputHeight));
    return true;
  }
  // Before the probe the requested size is the largest the frame can be.
  video.add(filter('scale', { w: width, h: height }));
  video.frame = { ...video.frame, width, height };
  return true;
}

function scaleLikeResize(video: VideoPipe, resized: ReturnType<typeof compute>): void {
  video.add(...resized.filters);
  video.frame = { ...video.frame, width: resized.width, height: resized.height };
}

/** 4:2:0 needs even sides; an odd frame loses a row or column rather than failing in the encoder. */
export function evenFrame(video: VideoPipe): void {
  const { width, height } = video.frame;
  if (width === null || height === null) return;
  const w = evenFloor(width);
  const h = evenFloor(height);
  if (w === width && h === height) return;
  video.add(filter('scale', { w, h }));
  video.frame = { ...video.frame, width: w, height: h };
}

/** `output.video.fps` as the output option -r (the frame rate the encoder writes). */
export function outputRateArgs(output: NormalisedOutput): string[] {
  const fps = output.video ? output.video.fps : undefined;
  return fps === undefined ? [] : ['-r', String(fps)];
}
