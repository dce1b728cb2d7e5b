import { describe, expect, it } from 'vitest';
import { MAX_TIME_S, TimeParseError, formatSecondsArg, parseTimeSeconds } from '../../../src/media/time.js';

describe('parseTimeSeconds', () => {
  it('accepts seconds as numbers and strings', () => {
    expect(parseTimeSeconds(0)).toBe(0);
    expect(parseTimeSeconds(12.25)).toBe(12.25);
    expect(parseTimeSeconds('90')).toBe(90);
    expect(parseTimeSeconds('1.5')).toBe(1.5);
  });

  it('accepts mm:ss and hh:mm:ss with fractions', () => {
    expect(parseTimeSeconds('01:30')).toBe(90);
    expect(parseTimeSeconds('1:02:03')).toBe(3723);
    expect(parseTimeSeconds('00:00:01.250')).toBe(1.25);
    expect(parseTimeSeconds('10:00.000001')).toBeCloseTo(600.000001, 9);
  });

  it('refuses garbage with a typed error', () => {
    for (const bad of ['', ' 1', '1 ', '-1', '+1', '1e3', 'NaN', 'Infinity', '1:2:3:4', '00:60', '00:61:00', '1:5', '1:5:00', '1:05:60', 'abc', '0x10', '1.', '.5', '1.1234567', '01:02:03,5']) {
      expect(() => parseTimeSeconds(bad), bad).toThrow(TimeParseError);
    }
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, -0.001]) {
      expect(() => parseTimeSeconds(bad), String(bad)).toThrow(TimeParseError);
    }
  });

  it('refuses times above the bound, and long strings before matching them', () => {
    expect(parseTimeSeconds(MAX_TIME_S)).toBe(MAX_TIME_S);
    expect(() => parseTimeSeconds(MAX_TIME_S + 1)).toThrow(/at most/);
    expect(() => parseTimeSeconds('49:00:00')).toThrow(/at most/);
    expect(() => parseTimeSeconds(30, 10)).toThrow(/at most 10/);
    expect(() => parseTimeSeconds('1'.repeat(10_000))).toThrow(/too long/);
  });

  it('has a code the API can report', () => {
    // Both expectations are in the catch: without the count, a parse that stopped throwing would pass unseen.
    expect.assertions(2);
    try {
      parseTimeSeconds('soon');
    } catch (error) {
      expect(error).toBeInstanceOf(TimeParseError);
      expect((error as TimeParseError).code).toBe('INVALID_TIME');
    }
  });
});

describe('formatSecondsArg', () => {
  it('writes plain decimals ffmpeg reads back exactly', () => {
    expect(formatSecondsArg(0)).toBe('0');
    expect(formatSecondsArg(100)).toBe('100');
    expect(formatSecondsArg(1.5)).toBe('1.5');
    expect(formatSecondsArg(0.1 + 0.2)).toBe('0.3');
    expect(formatSecondsArg(1e-7)).toBe('0');
    expect(formatSecondsArg(172800)).toBe('172800');
  });

  it('refuses values that are not times', () => {
    expect(() => formatSecondsArg(Number.NaN)).toThrow(TimeParseError);
    expect(() => formatSecondsArg(-1)).toThrow(TimeParseError);
  });
});
