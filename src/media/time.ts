/**
 * Time values of the API: a number of seconds, or "hh:mm:ss(.fff)" / "mm:ss(.fff)" / "ss(.fff)" strings.
 * Everything is parsed into finite, non-negative, bounded seconds before it can reach an ffmpeg argument.
 */

/** The longest time value accepted anywhere (two days, the largest configurable input duration). */
export const MAX_TIME_S = 48 * 3600;

export class TimeParseError extends Error {
  readonly code = 'INVALID_TIME';
  constructor(message: string) {
    super(message);
    this.name = 'TimeParseError';
  }
}

// Fractions are limited to microseconds, the resolution ffmpeg itself reports.
const CLOCK = /^(?:(?:(\d{1,2}):)?(\d{1,2}):)?(\d{1,6})(?:\.(\d{1,6}))?$/;

/**
 * Parses a time value into seconds. Throws TimeParseError for anything that is not a plain, finite,
 * non-negative time no larger than `maxS`.
 */
export function parseTimeSeconds(value: number | string, maxS: number = MAX_TIME_S): number {
  const seconds = typeof value === 'number' ? checkNumber(value) : parseClock(value);
  if (seconds > maxS) throw new TimeParseError(`time must be at most ${maxS} seconds`);
  return seconds;
}

function checkNumber(value: number): number {
  if (!Number.isFinite(value)) throw new TimeParseError('time must be a finite number of seconds');
  if (value < 0) throw new TimeParseError('time must not be negative');
  return value;
}

function parseClock(text: string): number {
  // Bounded before the regex so a huge string costs nothing.
  if (text.length > 32) throw new TimeParseError('time is too long');
  const match = CLOCK.exec(text);
  if (!match) throw new TimeParseError('time must be seconds or hh:mm:ss.fff');
  const [, hours, minutes, secs = '0', fraction] = match;
  // Once a larger unit is present, a field is two digits below 60, as in a clock.
  if (minutes !== undefined && !isClockField(secs)) throw new TimeParseError('seconds must be two digits below 60');
  if (hours !== undefined && !isClockField(minutes ?? '')) throw new TimeParseError('minutes must be two digits below 60');
  if (Number(minutes ?? 0) > 59) throw new TimeParseError('minutes must be below 60');
  const whole = Number(hours ?? 0) * 3600 + Number(minutes ?? 0) * 60 + Number(secs);
  return fraction === undefined ? whole : whole + Number(fraction) / 10 ** fraction.length;
}

function isClockField(field: string): boolean {
  return field.length === 2 && Number(field) < 60;
}

/**
 * Formats seconds for an ffmpeg time option: fixed-point with microsecond precision and no exponent, so the
 * argument is always a plain decimal ffmpeg parses the same way.
 */
export function formatSecondsArg(seconds: number): string {
  const checked = checkNumber(seconds);
  return checked.toFixed(6).replace(/\.?0+$/, '');
}
