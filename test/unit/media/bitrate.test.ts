import { describe, expect, it } from 'vitest';
import { BitrateParseError, parseBitrate } from '../../../src/media/bitrate.js';

const MAX = 100_000_000;

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof BitrateParseError ? error.code : 'OTHER';
  }
  return undefined;
}

describe('parseBitrate', () => {
  it('parses plain, k, M and G values exactly', () => {
    expect(parseBitrate('128000', MAX)).toBe(128_000);
    expect(parseBitrate('800k', MAX)).toBe(800_000);
    expect(parseBitrate('800K', MAX)).toBe(800_000);
    expect(parseBitrate('2.5M', MAX)).toBe(2_500_000);
    expect(parseBitrate('2.5m', MAX)).toBe(2_500_000);
    expect(parseBitrate('0.1G', MAX)).toBe(100_000_000);
    expect(parseBitrate('96.125k', MAX)).toBe(96_125);
    expect(parseBitrate(64_000, MAX)).toBe(64_000);
  });

  it('audit: bitrate overflow: absurd values are refused, never wrapped or rounded', () => {
    expect(codeOf(() => parseBitrate('9999999999999999999G', MAX))).toBe('LIMIT_EXCEEDED');
    expect(codeOf(() => parseBitrate('100000001', MAX))).toBe('LIMIT_EXCEEDED');
    expect(codeOf(() => parseBitrate('0.100000001G', MAX))).toBe('LIMIT_EXCEEDED');
    expect(codeOf(() => parseBitrate(Number.MAX_SAFE_INTEGER + 1, MAX))).toBe('INVALID_BITRATE');
    for (const bad of ['1e309', '1e6', 'NaN', 'Infinity', '-1', '+1', ' 1', '1 ', '1.5.5', 'k', '', '2.5 M', '2.5Mb', '0x10', '1,000']) {
      expect(codeOf(() => parseBitrate(bad, MAX)), bad).toBe('INVALID_BITRATE');
    }
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1.5, -1]) {
      expect(codeOf(() => parseBitrate(bad, MAX)), String(bad)).toBe('INVALID_BITRATE');
    }
  });

  it('refuses zero and fractions of a bit', () => {
    expect(codeOf(() => parseBitrate('0', MAX))).toBe('INVALID_BITRATE');
    expect(codeOf(() => parseBitrate('0.0k', MAX))).toBe('INVALID_BITRATE');
    expect(codeOf(() => parseBitrate(0, MAX))).toBe('INVALID_BITRATE');
    expect(codeOf(() => parseBitrate('1.5', MAX))).toBe('INVALID_BITRATE');
    expect(codeOf(() => parseBitrate('1.0001k', MAX))).toBe('INVALID_BITRATE');
  });

  it('bounds the text before matching it', () => {
    expect(codeOf(() => parseBitrate('1'.repeat(100_000), MAX))).toBe('INVALID_BITRATE');
  });

  it('applies the maximum given by the caller, inclusive', () => {
    expect(parseBitrate('1M', 1_000_000)).toBe(1_000_000);
    expect(codeOf(() => parseBitrate('1000001', 1_000_000))).toBe('LIMIT_EXCEEDED');
    expect(() => parseBitrate('1M', Number.NaN)).toThrow(RangeError);
  });
});
