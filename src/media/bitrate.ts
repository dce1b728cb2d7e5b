/**
 * Bitrates such as "2.5M", "800k" or 128000, parsed with integer arithmetic on the digits so that no float
 * rounding, exponent notation or overflow can turn a request into a different number (audit: bitrate overflow).
 */

export type BitrateErrorCode = 'INVALID_BITRATE' | 'LIMIT_EXCEEDED';

export class BitrateParseError extends Error {
  constructor(
    readonly code: BitrateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BitrateParseError';
  }
}

// k/M/G are decimal (SI) as in ffmpeg; the case is not significant because a milli-bit rate means nothing.
const MULTIPLIERS: Record<string, bigint> = { '': 1n, k: 1_000n, m: 1_000_000n, g: 1_000_000_000n };
const BITRATE = /^(\d+)(?:\.(\d+))?([kmg]?)$/i;
const MAX_TEXT_LENGTH = 32;

/**
 * Parses a bitrate into a whole number of bits per second in [1, maxBitsPerSecond].
 * Throws BitrateParseError with code LIMIT_EXCEEDED when it is well formed but above the maximum, and
 * INVALID_BITRATE for anything else (zero, fractions of a bit, NaN, exponents, signs, spaces, units other than k/M/G).
 */
export function parseBitrate(value: string | number, maxBitsPerSecond: number): number {
  if (!Number.isSafeInteger(maxBitsPerSecond) || maxBitsPerSecond < 1) {
    throw new RangeError('maxBitsPerSecond must be a positive safe integer');
  }
  const bits = typeof value === 'number' ? fromNumber(value) : fromText(value);
  if (bits === 0n) throw new BitrateParseError('INVALID_BITRATE', 'bitrate must be greater than zero');
  if (bits > BigInt(maxBitsPerSecond)) {
    throw new BitrateParseError('LIMIT_EXCEEDED', `bitrate must be at most ${maxBitsPerSecond} bits/s`);
  }
  return Number(bits);
}

function fromNumber(value: number): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new BitrateParseError('INVALID_BITRATE', 'bitrate must be a whole number of bits/s');
  }
  return BigInt(value);
}

function fromText(text: string): bigint {
  if (text.length > MAX_TEXT_LENGTH) throw new BitrateParseError('INVALID_BITRATE', 'bitrate is too long');
  const match = BITRATE.exec(text);
  if (!match) throw new BitrateParseError('INVALID_BITRATE', 'bitrate must look like 128000, 800k or 2.5M');
  const [, whole = '', fraction = '', unit = ''] = match;
  const multiplier = MULTIPLIERS[unit.toLowerCase()] ?? 1n;
  const scale = 10n ** BigInt(fraction.length);
  const scaled = (BigInt(whole) * scale + BigInt(fraction || '0')) * multiplier;
  if (scaled % scale !== 0n) {
    throw new BitrateParseError('INVALID_BITRATE', 'bitrate must be a whole number of bits/s');
  }
  return scaled / scale;
}
