/** Reading the metric filters' per-frame files and summarising them. */
import { describe, expect, it } from 'vitest';
import {
  describe as summary,
  frameRows,
  framesCsv,
  parsePsnrStats,
  parseSsimStats,
  parseVmafLog,
  PSNR_CAP_DB,
  StatsFileError,
  summarise,
} from '../../../src/media/quality-frames.js';

const vmafLog = (scores: [number, number][]) =>
  JSON.stringify({ version: '1.3.7', frames: scores.map(([frameNum, vmaf]) => ({ frameNum, metrics: { adm2: 0.9, motion2: 1.7, vmaf } })) });

const PSNR = [
  'n:1 mse_avg:105.01 mse_y:129.56 mse_u:53.32 mse_v:58.53 psnr_avg:27.92 psnr_y:27.01 psnr_u:30.86 psnr_v:30.46 ',
  'n:2 mse_avg:0.00 mse_y:0.00 mse_u:0.00 mse_v:0.00 psnr_avg:inf psnr_y:inf psnr_u:inf psnr_v:inf ',
  '',
].join('\n');
const SSIM = ['n:1 Y:0.875735 U:0.939632 V:0.964140 All:0.901119 (10.048856)', 'n:2 Y:1.000000 U:1.000000 V:1.000000 All:1.000000 (inf)', ''].join('\n');

describe('quality statistics', () => {
  it('reads libvmaf 1.x JSON, psnr and ssim stats files', () => {
    expect(parseVmafLog(vmafLog([[0, 57.97224], [1, 54.8975]]))).toEqual([
      { frame: 0, vmaf: 57.97224 },
      { frame: 1, vmaf: 54.8975 },
    ]);
    expect(parsePsnrStats(PSNR)).toEqual([
      { n: 1, psnr: 27.92, psnr_y: 27.01 },
      // Identical frames: ffmpeg says inf.
      { n: 2, psnr: PSNR_CAP_DB, psnr_y: PSNR_CAP_DB },
    ]);
    expect(parseSsimStats(SSIM)).toEqual([
      { n: 1, ssim: 0.901119, ssim_y: 0.875735 },
      { n: 2, ssim: 1, ssim_y: 1 },
    ]);
  });

  it('refuses files that are not what the filters write, rather than make up a score', () => {
    expect(() => parseVmafLog('{"frames": [{"frameNum": 0, "metrics": {}}]}')).toThrow(StatsFileError);
    expect(() => parseVmafLog('VMAF score: 80')).toThrow(StatsFileError);
    expect(() => parsePsnrStats('n:1 psnr_avg:nan psnr_y:1')).toThrow(StatsFileError);
    expect(() => parseSsimStats('garbage here')).toThrow(StatsFileError);
    expect(() => frameRows(['vmaf'], new Map(), 1, 25)).toThrow(StatsFileError);
  });

  it('joins the files into one row per reference frame, subsampled frames by their number in the reference', () => {
    const files = new Map([
      ['vmaf.json', vmafLog([[0, 50], [3, 60]])],
      ['psnr.log', PSNR],
      ['ssim.log', SSIM],
    ]);
    const rows = frameRows(['vmaf', 'psnr', 'ssim'], files, 3, 25);
    expect(rows).toEqual([
      { frame: 0, time_s: 0, vmaf: 50, psnr: 27.92, psnr_y: 27.01, ssim: 0.901119, ssim_y: 0.875735 },
      { frame: 3, time_s: 0.12, vmaf: 60, psnr: 100, psnr_y: 100, ssim: 1, ssim_y: 1 },
    ]);
    expect(framesCsv(['vmaf', 'psnr', 'ssim'], rows)).toBe(
      'frame,time_s,vmaf,psnr,psnr_y,ssim,ssim_y\n0,0,50,27.92,27.01,0.901119,0.875735\n3,0.12,60,100,100,1,1\n',
    );
    // A frame one metric lacks has an empty cell there, and no time without a frame rate.
    const partial = frameRows(['vmaf', 'ssim'], new Map([['vmaf.json', vmafLog([[0, 50], [1, 51]])], ['ssim.log', SSIM.split('\n')[0]!]]), 1, null);
    expect(framesCsv(['vmaf', 'ssim'], partial)).toBe('frame,time_s,vmaf,ssim,ssim_y\n0,,50,0.901119,0.875735\n1,,51,,\n');
  });

  it('summarises: mean, extremes, percentiles linear between ranks (numpy’s default), frames', () => {
    expect(summary([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toEqual({ mean: 5.5, min: 1, max: 10, p1: 1.09, p5: 1.45, p50: 5.5, p95: 9.55, frames: 10 });
    expect(summary([42])).toMatchObject({ mean: 42, min: 42, max: 42, p1: 42, p95: 42, frames: 1 });
  });

  it('gives VMAF’s harmonic mean (Netflix: n / Σ 1/(1+x) − 1) and PSNR pooled over the squared error, as ffmpeg’s average', () => {
    const rows = [
      { frame: 0, time_s: 0, vmaf: 0, psnr: 20 },
      { frame: 1, time_s: 0.04, vmaf: 99, psnr: 40 },
    ];
    const out = summarise(['vmaf', 'psnr'], rows);
    expect(out.vmaf?.harmonic_mean).toBeCloseTo(2 / (1 / 1 + 1 / 100) - 1, 6);
    expect(out.vmaf?.mean).toBe(49.5);
    // MSEs of 650.25 and 6.5025: the mean MSE's PSNR is not the mean of the PSNRs (30 dB).
    expect(out.psnr?.pooled).toBeCloseTo(10 * Math.log10((255 * 255) / ((650.25 + 6.5025) / 2)), 5);
    expect(out.psnr?.mean).toBe(30);
    // Identical inputs score the cap, not Infinity, which JSON cannot hold.
    expect(summarise(['psnr'], [{ frame: 0, time_s: 0, psnr: PSNR_CAP_DB }]).psnr?.pooled).toBe(PSNR_CAP_DB);
  });
});
