/**
 * thumbnails: still frames at given times, or N evenly spaced (at the middle of N equal parts of the output).
 * One decode: `select` keeps the first frame at or after each time, and the image2 muxer numbers the files
 * thumb-001, thumb-002... in time order (`-fps_mode vfr`: without it ffmpeg would repeat the first selected frame to
 * fill the gaps of a constant frame rate). Output format png, jpg or webp.
 */
import { filter } from '../graph.js';
import { TimeParseError, formatSecondsArg, parseTimeSeconds } from '../time.js';
import { round6, type At, type Composer, type OperationModule } from './context.js';
import { selectAt, stillFormat } from './stills.js';

export const thumbnails: OperationModule<'thumbnails'> = {
  stage: 'finish',
  needs: 'video',
  apply(op, at, c) {
    const format = stillFormat(c, at);
    if (!format) return;
    const count = op.count ?? op.at!.length;
    if (count > c.limits.outputs) {
      c.problem({ code: 'LIMIT_EXCEEDED', pointer: at(op.count !== undefined ? 'count' : 'at'), message: `at most ${c.limits.outputs} outputs per job` });
      return;
    }
    const times = op.count !== undefined ? evenlySpaced(op.count, at, c) : listed(op.at!, at, c);
    if (!times) return;

    c.video!.add(filter('select', { expr: selectAt(times) }));
    const files = times.map((_t, k) => {
      const name = `thumb-${String(k + 1).padStart(3, '0')}.${format.extension}`;
      return { name, file: name, contentType: format.contentType };
    });
    c.output = { target: `thumb-%03d.${format.extension}`, files, args: ['-fps_mode', 'vfr', '-frames:v', String(times.length)], stills: true, timed: true };
  },
};

function evenlySpaced(count: number, at: At, c: Composer): number[] | null {
  const duration = c.duration;
  if (duration === null) {
    if (c.probed) c.problem({ code: 'UNSUPPORTED_INPUT', pointer: at('count'), message: 'the input duration is unknown; give the times with `at`' });
    return c.probed ? null : [0];
  }
  const fps = c.video!.frame.fps;
  if (fps !== null && count > Math.floor(duration * fps)) {
    const most = Math.max(1, Math.floor(duration * fps));
    c.problem({ code: 'INVALID_OPTION', pointer: at('count'), message: `the output has only about ${most} frames`, suggestion: String(most) });
    return null;
  }
  return Array.from({ length: count }, (_v, k) => round6(((k + 0.5) * duration) / count));
}

function listed(values: (number | string)[], at: At, c: Composer): number[] | null {
  const times: number[] = [];
  let ok = true;
  values.forEach((value, j) => {
    try {
      const t = parseTimeSeconds(value);
      if (c.duration !== null && t >= c.duration) {
        c.problem({ code: 'INVALID_OPTION', pointer: at(`at/${j}`), message: `${formatSecondsArg(t)} s is at or after the end of the output (${formatSecondsArg(c.duration)} s)` });
        ok = false;
      }
      times.push(t);
    } catch (error) {
      if (!(error instanceof TimeParseError)) throw error;
      c.problem({ code: 'INVALID_OPTION', pointer: at(`at/${j}`), message: error.message });
      ok = false;
    }
  });
  if (!ok) return null;
  times.sort((a, b) => a - b);
  // Two times within one frame would select one frame for both, and a file would be missing.
  const fps = c.video!.frame.fps;
  const gap = fps !== null ? 1 / fps : 0;
  for (let k = 1; k < times.length; k++) {
    if (times[k]! - times[k - 1]! < gap || times[k] === times[k - 1]) {
      c.problem({ code: 'INVALID_OPTION', pointer: at('at'), message: `times must be distinct and at least one frame (${formatSecondsArg(round6(gap))} s) apart` });
      return null;
    }
  }
  return times;
}
