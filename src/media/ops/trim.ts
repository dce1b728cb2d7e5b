/**
 * trim: keep [start, end) or [start, start + duration) of the source timeline (the input, or the joined inputs of a
 * concat), whatever its place among the operations. One input: input options (-ss/-to/-t before -i), so ffmpeg
 * seeks instead of decoding what is cut; it decodes from the keyframe before start and drops frames up to it, so
 * the cut is exact when re-encoding. In keyframe mode the streams may be copied, and the cut then lands on the
 * keyframe at or before start. After a concat: trim/atrim filters.
 */
import { filter } from '../graph.js';
import { TimeParseError, formatSecondsArg, parseTimeSeconds } from '../time.js';
import { round6, type Composer, type OperationModule } from './context.js';

export const trim: OperationModule<'trim'> = {
  stage: 'cut',
  needs: null,
  apply(op, at, c) {
    const start = time(op.start, at('start'), c);
    const end = time(op.end, at('end'), c);
    const duration = time(op.duration, at('duration'), c);
    if (start === null || end === null || duration === null) return;

    const startS = start ?? 0;
    let failed = false;
    const refuse = (field: string, message: string) => {
      c.problem({ code: 'INVALID_TRIM', pointer: at(field), message });
      failed = true;
    };
    if (end !== undefined && duration !== undefined) refuse('duration', 'give either end or duration, not both');
    if (end !== undefined && end <= startS) refuse('end', 'end must be after start');
    if (duration !== undefined && duration <= 0) refuse('duration', 'duration must be greater than zero');
    const source = c.duration;
    if (source !== null && startS >= source) refuse('start', `start is at or after the end of the input (${formatSecondsArg(source)} s)`);
    if (failed) return;

    c.cut = op.mode === 'keyframe' ? 'keyframe' : 'exact';
    if (!c.joined) {
      const args = c.inputs[0]!.args;
      if (startS > 0) args.push('-ss', formatSecondsArg(startS));
      if (end !== undefined) args.push('-to', formatSecondsArg(end));
      if (duration !== undefined) args.push('-t', formatSecondsArg(duration));
    } else {
      const window = { start: startS > 0 ? startS : undefined, end, duration };
      c.video?.add(filter('trim', window), filter('setpts', { expr: 'PTS-STARTPTS' }));
      c.audio?.add(filter('atrim', window), filter('asetpts', { expr: 'PTS-STARTPTS' }));
    }
    if (source !== null) {
      const windowEnd = end ?? (duration !== undefined ? startS + duration : source);
      c.duration = round6(Math.min(source, windowEnd) - startS);
    }
  },
};

/** undefined when absent, null when invalid (a problem was recorded). */
function time(value: number | string | undefined, pointer: string, c: Composer): number | undefined | null {
  if (value === undefined) return undefined;
  try {
    return parseTimeSeconds(value);
  } catch (error) {
    if (!(error instanceof TimeParseError)) throw error;
    c.problem({ code: 'INVALID_TRIM', pointer, message: error.message });
    return null;
  }
}
