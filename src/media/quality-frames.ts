/**
 * What the metric filters wrote, as numbers: their per-frame files (libvmaf's JSON log, the psnr and ssim filters'
 * stats files) joined into one row per compared frame, the CSV and JSON of those rows, and the summary of each
 * metric. Pure: the attempt hands the files over as text. Only numbers are read; anything else in the files is
 * ignored, and a file that is not what its filter writes is an error (the job fails, never a made-up score).
 *
 * Frames are numbered as in the reference (0-based, after alignment): libvmaf writes that number with n_subsample,
 * and psnr/ssim, which see only the selected frames, count 1, 2, 3... for frames 0, N, 2N...
 */
import { STATS_FILES, type QualityMetric } from './quality.js';

/** One compared frame. PSNR and SSIM are over all planes (ffmpeg's `average` / `All`), with luma beside them. */
export interface FrameRow {
  frame: number;
  /** The frame's time in the reference; null when its frame rate is unknown. */
  time_s: number | null;
  vmaf?: number | null;
  psnr?: number | null;
  psnr_y?: number | null;
  ssim?: number | null;
  ssim_y?: number | null;
}

export interface MetricSummary {
  mean: number;
  /** VMAF only: Netflix's harmonic mean, n / Σ 1/(1+x) − 1, which weighs the worst frames more. */
  harmonic_mean?: number;
  /** PSNR only: the PSNR of the mean squared error over all frames, which ffmpeg's psnr filter prints as `average`. */
  pooled?: number;
  min: number;
  max: number;
  p1: number;
  p5: number;
  p50: number;
  p95: number;
  frames: number;
}

/**
 * Identical frames have an infinite PSNR (ffmpeg writes `inf`); it is reported as this many dB, so every value is a
 * number. For 8-bit video a real difference scores below it up to frames of about 16 megapixels.
 */
export const PSNR_CAP_DB = 100;
// Every comparison is of 8-bit frames (format=yuv420p), so ffmpeg's peak is 255 on every plane.
const PEAK_SQUARED = 255 * 255;

export class StatsFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'StatsFileError';
  }
}

/** The rows of every compared frame, in frame order; `fps` is the reference's (after alignment). */
export function frameRows(
  metrics: readonly QualityMetric[],
  files: ReadonlyMap<string, string>,
  subsample: number,
  fps: number | null,
): FrameRow[] {
  const rows = new Map<number, FrameRow>();
  const row = (frame: number): FrameRow => {
    let found = rows.get(frame);
    if (!found) {
      found = { frame, time_s: fps ? round(frame / fps, 6) : null };
      rows.set(frame, found);
    }
    return found;
  };
  const text = (metric: QualityMetric) => {
    const found = files.get(STATS_FILES[metric]);
    if (found === undefined) throw new StatsFileError(STATS_FILES[metric], 'the filter wrote no statistics');
    return found;
  };
  if (metrics.includes('vmaf')) {
    for (const { frame, vmaf } of parseVmafLog(text('vmaf'))) row(frame).vmaf = vmaf;
  }
  if (metrics.includes('psnr')) {
    for (const { n, psnr, psnr_y } of parsePsnrStats(text('psnr'))) Object.assign(row((n - 1) * subsample), { psnr, psnr_y });
  }
  if (metrics.includes('ssim')) {
    for (const { n, ssim, ssim_y } of parseSsimStats(text('ssim'))) Object.assign(row((n - 1) * subsample), { ssim, ssim_y });
  }
  const sorted = [...rows.values()].sort((a, b) => a.frame - b.frame);
  // A metric a frame lacks is null in its row, so every row has every column.
  for (const r of sorted) for (const column of columnsOf(metrics)) if (r[column] === undefined) r[column] = null;
  return sorted;
}

type MetricColumn = 'vmaf' | 'psnr' | 'psnr_y' | 'ssim' | 'ssim_y';

export function columnsOf(metrics: readonly QualityMetric[]): MetricColumn[] {
  const columns: MetricColumn[] = [];
  if (metrics.includes('vmaf')) columns.push('vmaf');
  if (metrics.includes('psnr')) columns.push('psnr', 'psnr_y');
  if (metrics.includes('ssim')) columns.push('ssim', 'ssim_y');
  return columns;
}

export function framesCsv(metrics: readonly QualityMetric[], rows: readonly FrameRow[]): string {
  const columns = ['frame', 'time_s', ...columnsOf(metrics)] as const;
  const cell = (value: number | null | undefined) => (value === null || value === undefined ? '' : String(value));
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export function framesJson(rows: readonly FrameRow[]): string {
  return JSON.stringify(rows);
}

/** Per metric asked for: the summary over the frames that have it. */
export function summarise(metrics: readonly QualityMetric[], rows: readonly FrameRow[]): Partial<Record<QualityMetric, MetricSummary>> {
  const out: Partial<Record<QualityMetric, MetricSummary>> = {};
  for (const metric of metrics) {
    const values = rows.map((r) => r[metric]).filter((v): v is number => typeof v === 'number');
    if (values.length === 0) continue;
    const { mean, ...rest } = describe(values);
    const extra: Pick<MetricSummary, 'harmonic_mean' | 'pooled'> = {};
    if (metric === 'vmaf') extra.harmonic_mean = round(values.length / values.reduce((sum, v) => sum + 1 / (1 + v), 0) - 1, 6);
    if (metric === 'psnr') {
      // ffmpeg pools the squared error, not the decibels: back from each frame's PSNR to its MSE.
      const mse = values.reduce((sum, db) => sum + (db >= PSNR_CAP_DB ? 0 : PEAK_SQUARED / 10 ** (db / 10)), 0) / values.length;
      extra.pooled = mse === 0 ? PSNR_CAP_DB : round(Math.min(PSNR_CAP_DB, 10 * Math.log10(PEAK_SQUARED / mse)), 6);
    }
    out[metric] = { mean, ...extra, ...rest };
  }
  return out;
}

/** Mean, extremes and percentiles (linear between the closest ranks, as numpy's default) of non-empty values. */
export function describe(values: readonly number[]): MetricSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => {
    const rank = (p / 100) * (sorted.length - 1);
    const low = Math.floor(rank);
    const high = Math.min(sorted.length - 1, low + 1);
    return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
  };
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return {
    mean: round(mean, 6),
    min: sorted[0]!,
    max: sorted.at(-1)!,
    p1: round(at(1), 6),
    p5: round(at(5), 6),
    p50: round(at(50), 6),
    p95: round(at(95), 6),
    frames: sorted.length,
  };
}

// ------------------------------------------------------------------------------------------- the files

/** libvmaf 1.x `log_fmt=json`: `{ "frames": [{ "frameNum": 0, "metrics": { "vmaf": 57.9, ... } }, ...] }`. */
export function parseVmafLog(text: string): { frame: number; vmaf: number }[] {
  let log: unknown;
  try {
    log = JSON.parse(text);
  } catch {
    throw new StatsFileError(STATS_FILES.vmaf, 'not JSON');
  }
  const frames = (log as { frames?: unknown } | null)?.frames;
  if (!Array.isArray(frames)) throw new StatsFileError(STATS_FILES.vmaf, 'no frames');
  return frames.map((entry: unknown) => {
    const { frameNum, metrics } = (entry ?? {}) as { frameNum?: unknown; metrics?: { vmaf?: unknown } };
    const vmaf = metrics?.vmaf;
    if (!Number.isSafeInteger(frameNum) || (frameNum as number) < 0 || typeof vmaf !== 'number' || !Number.isFinite(vmaf)) {
      throw new StatsFileError(STATS_FILES.vmaf, 'a frame without its number or score');
    }
    return { frame: frameNum as number, vmaf };
  });
}

/** `n:1 mse_avg:105.01 mse_y:129.56 ... psnr_avg:27.92 psnr_y:27.01 psnr_u:30.86 psnr_v:30.46` per line. */
export function parsePsnrStats(text: string): { n: number; psnr: number; psnr_y: number }[] {
  return statLines(text, STATS_FILES.psnr).map((fields) => ({
    n: frameNumber(fields, STATS_FILES.psnr),
    psnr: decibels(fields.get('psnr_avg'), STATS_FILES.psnr),
    psnr_y: decibels(fields.get('psnr_y'), STATS_FILES.psnr),
  }));
}

/** `n:1 Y:0.875735 U:0.939632 V:0.964140 All:0.901119 (10.048856)` per line. */
export function parseSsimStats(text: string): { n: number; ssim: number; ssim_y: number }[] {
  return statLines(text, STATS_FILES.ssim).map((fields) => ({
    n: frameNumber(fields, STATS_FILES.ssim),
    ssim: ratio(fields.get('All'), STATS_FILES.ssim),
    ssim_y: ratio(fields.get('Y'), STATS_FILES.ssim),
  }));
}

function statLines(text: string, file: string): Map<string, string>[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const fields = new Map<string, string>();
      for (const token of line.trim().split(/\s+/)) {
        const match = /^([A-Za-z_]+):(\S+)$/.exec(token);
        if (match) fields.set(match[1]!, match[2]!);
      }
      if (fields.size === 0) throw new StatsFileError(file, 'a line that is not statistics');
      return fields;
    });
}

function frameNumber(fields: Map<string, string>, file: string): number {
  const n = Number(fields.get('n'));
  if (!Number.isSafeInteger(n) || n < 1) throw new StatsFileError(file, 'a line without its frame number');
  return n;
}

function decibels(value: string | undefined, file: string): number {
  if (value === 'inf') return PSNR_CAP_DB;
  const number = Number(value);
  if (value === undefined || !Number.isFinite(number)) throw new StatsFileError(file, 'a value that is not a number');
  return Math.min(PSNR_CAP_DB, number);
}

function ratio(value: string | undefined, file: string): number {
  const number = Number(value);
  if (value === undefined || !Number.isFinite(number)) throw new StatsFileError(file, 'a value that is not a number');
  return number;
}

function round(value: number, places: number): number {
  const scale = 10 ** places;
  return Math.round(value * scale) / scale;
}
