import type { Progress } from './progress-types.js';

/**
 * Parser for the key=value blocks ffmpeg writes with `-progress pipe:1 -nostats`. Each block ends with
 * `progress=continue` or `progress=end` and yields one Progress. The percentage is the encoded output time
 * against the expected output duration, never wall time (audit #11), and never goes backwards.
 */
export class ProgressParser {
  private readonly expectedS: number | null;
  private pending = '';
  private block = new Map<string, string>();
  private highest = 0;

  /** @param expectedDurationS the output duration after trims; null, 0, negative or NaN means unknown. */
  constructor(expectedDurationS: number | null) {
    // A zero or unknown duration gives no percentage rather than a division by zero (audit #21).
    this.expectedS =
      expectedDurationS !== null && Number.isFinite(expectedDurationS) && expectedDurationS > 0
        ? expectedDurationS
        : null;
  }

  /** Feeds a chunk of output; lines may be split across chunks. Returns the Progress of each completed block. */
  feed(chunk: string): Progress[] {
    const text = this.pending + chunk;
    const lines = text.split('\n');
    this.pending = lines.pop() ?? '';
    // A line without a newline cannot grow without bound: ffmpeg's lines are short, anything longer is noise.
    if (this.pending.length > 4096) this.pending = '';
    const reports: Progress[] = [];
    for (const line of lines) {
      const report = this.line(line);
      if (report) reports.push(report);
    }
    return reports;
  }

  /** Parses a last line that arrived without a newline (the stream has ended). */
  finish(): Progress[] {
    const rest = this.pending;
    this.pending = '';
    const report = rest ? this.line(rest) : null;
    return report ? [report] : [];
  }

  private line(raw: string): Progress | null {
    const line = raw.trim();
    const eq = line.indexOf('=');
    if (eq <= 0) return null;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key !== 'progress') {
      this.block.set(key, value);
      return null;
    }
    const report = this.report(value === 'end');
    this.block = new Map();
    return report;
  }

  private report(ended: boolean): Progress {
    const outTimeS = outTimeSeconds(this.block);
    const speed = positiveOrZero(stripSuffix(this.block.get('speed'), 'x'));
    const fps = positiveOrZero(this.block.get('fps'));
    const expected = this.expectedS;

    let percentage: number | null = null;
    if (expected !== null) {
      if (ended) this.highest = 100;
      else if (outTimeS !== null) this.highest = Math.max(this.highest, clampPercent((outTimeS / expected) * 100));
      percentage = this.highest;
    }

    let etaS: number | null = null;
    if (expected !== null && ended) etaS = 0;
    else if (expected !== null && outTimeS !== null && speed !== null && speed > 0) {
      etaS = round2(Math.max(0, expected - outTimeS) / speed);
    }

    return { percentage, stage: 'processing', fps, speed, out_time_s: outTimeS, eta_s: etaS };
  }
}

function outTimeSeconds(block: Map<string, string>): number | null {
  // out_time_ms is in microseconds too: a long-standing ffmpeg quirk.
  for (const key of ['out_time_us', 'out_time_ms']) {
    const micros = block.get(key);
    if (micros !== undefined && /^\d{1,18}$/.test(micros)) return round6(Number(micros) / 1e6);
  }
  return clockSeconds(block.get('out_time'));
}

function clockSeconds(value: string | undefined): number | null {
  const match = value === undefined ? null : /^(\d{1,9}):(\d{2}):(\d{2}(?:\.\d{1,9})?)$/.exec(value);
  if (!match) return null;
  const [, h = '0', m = '0', s = '0'] = match;
  return round6(Number(h) * 3600 + Number(m) * 60 + Number(s));
}

function stripSuffix(value: string | undefined, suffix: string): string | undefined {
  return value?.endsWith(suffix) ? value.slice(0, -suffix.length).trim() : value;
}

/** A plain decimal number >= 0 (ffmpeg's %g may add an exponent); `N/A`, negatives and the rest give null. */
function positiveOrZero(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,12}(?:\.\d{1,9})?(?:e[+-]?\d{1,2})?$/i.test(value)) return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, Math.floor(value * 100) / 100));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
