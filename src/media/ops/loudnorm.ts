/**
 * loudnorm: EBU R128 loudness normalisation to an integrated loudness, true peak and loudness range. Two-pass by
 * default: the measuring run prints loudnorm's analysis as JSON at the end of its log; `measurementsFrom` reads it
 * into checked numbers, and the planner then makes the final run normalise linearly with them. The log is the
 * input's doing, so only numbers within loudnorm's own ranges are taken from it; anything else (silence measures
 * -inf) falls back to one-pass dynamic normalisation. loudnorm works at 192 kHz, so the stream is brought back to its rate.
 */
import { filter } from '../graph.js';
import type { LoudnormMeasurement, Measurements, OperationModule } from './context.js';

export const loudnorm: OperationModule<'loudnorm'> = {
  stage: 'edit',
  needs: 'audio',
  apply(op, _at, c) {
    const audio = c.audio!;
    const targets = { I: op.integrated ?? -16, TP: op.true_peak ?? -1.5, LRA: op.lra ?? 11 };
    const twoPass = op.two_pass !== false;
    if (twoPass) {
      c.measuring.audio = true;
      c.measuring.durationS = Math.max(c.measuring.durationS ?? 0, c.duration ?? 0) || null;
    }
    if (c.mode === 'measure') {
      audio.add(filter('loudnorm', { ...targets, print_format: 'json' }));
      audio.closed = true;
      return;
    }
    const measured = twoPass ? c.measurements.loudnorm : null;
    if (measured) {
      audio.add(
        filter('loudnorm', {
          ...targets,
          measured_I: measured.input_i,
          measured_TP: measured.input_tp,
          measured_LRA: measured.input_lra,
          measured_thresh: measured.input_thresh,
          offset: measured.target_offset,
          linear: 'true',
          print_format: 'summary',
        }),
      );
    } else {
      audio.add(filter('loudnorm', targets));
    }
    // A format constraint rather than aresample: ffmpeg inserts the resampler and keeps the channel layout, which
    // loudnorm leaves unset (aresample would then fail to pick one for a mono input).
    audio.add(filter('aformat', { sample_rates: c.audioRate ?? 48000 }));
  },
};

// loudnorm's accepted ranges for the measured values.
const RANGES: Readonly<Record<keyof LoudnormMeasurement, [number, number]>> = {
  input_i: [-99, 0],
  input_tp: [-99, 99],
  input_lra: [0, 99],
  input_thresh: [-99, 0],
  target_offset: [-99, 99],
};
const NUMBER = /^-?\d{1,3}(?:\.\d{1,6})?$/;

/**
 * Reads loudnorm's JSON analysis from the end of a measuring run's log. null when there is none, or when a value
 * is missing, not a plain number, or out of range.
 */
export function parseLoudnormMeasurement(log: string): LoudnormMeasurement | null {
  const end = log.lastIndexOf('}');
  const start = end < 0 ? -1 : log.lastIndexOf('{', end);
  if (start < 0) return null;
  let json: unknown;
  try {
    json = JSON.parse(log.slice(start, end + 1));
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null) return null;
  const record = json as Record<string, unknown>;
  const result: Partial<LoudnormMeasurement> = {};
  for (const key of Object.keys(RANGES) as (keyof LoudnormMeasurement)[]) {
    const raw = record[key];
    if (typeof raw !== 'string' || !NUMBER.test(raw)) return null;
    const value = Number(raw);
    const [min, max] = RANGES[key];
    if (!(value >= min && value <= max)) return null;
    result[key] = value === 0 ? 0 : value;
  }
  return result as LoudnormMeasurement;
}

export function measurementsFrom(log: string): Measurements {
  return { loudnorm: parseLoudnormMeasurement(log) };
}
