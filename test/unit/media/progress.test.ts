import { describe, expect, it } from 'vitest';
import { ProgressParser } from '../../../src/media/progress.js';

/** One block as ffmpeg 5.1 writes it with -progress pipe:1. */
function block(fields: { us?: string; ms?: string; clock?: string; fps?: string; speed?: string; end?: boolean }): string {
  return [
    'frame=25',
    `fps=${fields.fps ?? '25.00'}`,
    'bitrate= 360.9kbits/s',
    'total_size=45748',
    `out_time_us=${fields.us ?? 'N/A'}`,
    `out_time_ms=${fields.ms ?? 'N/A'}`,
    `out_time=${fields.clock ?? 'N/A'}`,
    'dup_frames=0',
    'drop_frames=0',
    `speed=${fields.speed ?? 'N/A'}`,
    `progress=${fields.end ? 'end' : 'continue'}`,
    '',
  ].join('\n');
}

describe('ProgressParser', () => {
  it('audit #11: progress comes from ffmpeg out_time against expected duration, never wall time, never decreasing', () => {
    const parser = new ProgressParser(10);
    const first = parser.feed(block({ us: '2500000', speed: '2x' }));
    expect(first).toEqual([
      { percentage: 25, stage: 'processing', fps: 25, speed: 2, out_time_s: 2.5, eta_s: 3.75 },
    ]);
    // An earlier out_time (ffmpeg's muxer can report one after a flush) never lowers the percentage.
    const [back] = parser.feed(block({ us: '1000000', speed: '2x' }));
    expect(back?.percentage).toBe(25);
    expect(back?.out_time_s).toBe(1);
    const [ahead] = parser.feed(block({ us: '7000000', speed: '1.5x' }));
    expect(ahead?.percentage).toBe(70);
    expect(ahead?.eta_s).toBe(2);
    // Output time past the expected duration is clamped, not reported as 120 %.
    const [over] = parser.feed(block({ us: '12000000', speed: '1x' }));
    expect(over?.percentage).toBe(100);
    expect(over?.eta_s).toBe(0);
  });

  it('audit #21: zero or unknown duration gives null percentage, never a crash', () => {
    for (const expected of [null, 0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const parser = new ProgressParser(expected);
      const reports = [
        ...parser.feed(block({ us: '1000000', speed: '1x' })),
        ...parser.feed(block({ us: '2000000', speed: '1x', end: true })),
      ];
      expect(reports).toHaveLength(2);
      for (const report of reports) {
        expect(report.percentage).toBeNull();
        expect(report.eta_s).toBeNull();
      }
      expect(reports[1]?.out_time_s).toBe(2);
    }
  });

  it('reassembles lines split across chunks, however small', () => {
    const text = block({ us: '5000000', speed: '1x' }) + block({ us: '6000000', speed: '1x', end: true });
    const parser = new ProgressParser(10);
    const reports = [...text].flatMap((char) => parser.feed(char));
    expect(reports.map((r) => r.percentage)).toEqual([50, 100]);
  });

  it('ends at 100 with no time left when ffmpeg reports progress=end', () => {
    const parser = new ProgressParser(10);
    const [end] = parser.feed(block({ us: '9960000', speed: '3x', end: true }));
    expect(end).toMatchObject({ percentage: 100, eta_s: 0, out_time_s: 9.96 });
  });

  it('reads out_time_ms as microseconds and falls back to the clock form', () => {
    const fromMs = new ProgressParser(100).feed(block({ ms: '30000000' }));
    expect(fromMs[0]?.out_time_s).toBe(30);
    const fromClock = new ProgressParser(7200).feed(block({ clock: '01:00:00.500000' }));
    expect(fromClock[0]).toMatchObject({ out_time_s: 3600.5, percentage: 50 });
  });

  it('treats N/A and negative values as unknown instead of guessing', () => {
    const parser = new ProgressParser(10);
    const [report] = parser.feed(block({ us: '-9223372036854775807', clock: '-2562047788:00:54.775807', fps: 'N/A', speed: 'N/A' }));
    expect(report).toEqual({ percentage: 0, stage: 'processing', fps: null, speed: null, out_time_s: null, eta_s: null });
  });

  it('parses padded and exponent speeds, and gives no eta at speed 0', () => {
    const parser = new ProgressParser(10);
    expect(parser.feed(block({ us: '1000000', speed: '   2x' }))[0]?.speed).toBe(2);
    expect(parser.feed(block({ us: '1000000', speed: '1.23e+03x' }))[0]?.speed).toBe(1230);
    const [stalled] = parser.feed(block({ us: '1000000', speed: '0x' }));
    expect(stalled).toMatchObject({ speed: 0, eta_s: null });
  });

  it('parses a last block that arrives without a trailing newline', () => {
    const parser = new ProgressParser(4);
    expect(parser.feed(block({ us: '1000000' }).replace(/progress=continue\n$/, ''))).toEqual([]);
    expect(parser.feed('progress=end')).toEqual([]);
    expect(parser.finish()).toMatchObject([{ percentage: 100 }]);
  });

  it('ignores noise and does not buffer an endless line', () => {
    const parser = new ProgressParser(10);
    expect(parser.feed('garbage without equals\n=novalue\n')).toEqual([]);
    expect(parser.feed('x'.repeat(100_000))).toEqual([]);
    expect(parser.feed('\n' + block({ us: '1000000' }))).toMatchObject([{ percentage: 10 }]);
  });
});
