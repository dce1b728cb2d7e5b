import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../../src/engine/engine.js';
import { scaleToWhole } from '../../../src/jobs/probe-input.js';

const probe = (format: string, durationS: number, bitRate: number, size: number): ProbeResult => ({
  format,
  duration_s: durationS,
  size,
  bit_rate: bitRate,
  streams: [],
});

describe('probing the first part of a large upload', () => {
  it('scales the duration of a format timed by its size (a headerless mp3)', () => {
    // 64 MiB at 128 kbit/s is about 4194 s; the whole file is four times as large.
    const prefix = 64 * 1024 * 1024;
    const scaled = scaleToWhole(probe('mp3', (prefix * 8) / 128_000, 128_000, prefix), prefix * 4);
    expect(scaled.size).toBe(prefix * 4);
    expect(scaled.duration_s).toBeCloseTo((prefix * 4 * 8) / 128_000, 0);
  });

  it('keeps the duration a header states (mp4, or an mp3 whose duration does not follow from its size)', () => {
    expect(scaleToWhole(probe('mov,mp4,m4a,3gp,3g2,mj2', 3600, 2_000_000, 1000), 900_000_000)).toMatchObject({ duration_s: 3600, size: 900_000_000 });
    expect(scaleToWhole(probe('mp3', 3600, 128_000, 1000), 57_600_000)).toMatchObject({ duration_s: 3600 });
  });
});
