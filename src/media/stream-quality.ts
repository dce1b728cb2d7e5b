/**
 * A ladder by quality (`quality.target_vmaf` on an `auto` ladder): each rung gets the highest CRF whose picture still
 * reaches its VMAF target, so the bitrate is what the content needs, not what a table guessed. Four runs, planned by
 * stream-plan.ts as the passes of one attempt:
 *
 *   1 samples   the input decoded once, the operations applied, short windows of it selected and encoded per rung
 *               at each CRF of the codec's grid (`q-<rung>-crf<N>.mp4`, carried to the next run, never kept)
 *   2 scores    libvmaf of every sample against the same windows of the source scaled to the rung (bicubic, as
 *               Netflix scales a rendition up to compare it); each score's log comes back as text
 *   3 encode    the package, every rung at its chosen CRF with a VBV cap (the encode of an ordinary ladder)
 *   4 verify    libvmaf of every rung as written (its init and segments concatenated) against the source scaled to
 *               the rung: the number the result reports per rung, measured on the output, not on a sample
 *
 * After runs 1 to 3 the kind reads what they left (src/kinds/stream.ts `measure`) and the plan is made again with
 * it. Pure: no I/O.
 */
import type { StreamRequest } from '../schemas/stream.js';
import { filter, formatNumber, type GraphBuilder } from './graph.js';
import { AUTO_LADDER } from './ladder.js';
import type { PlanProblem } from './problems.js';
import { LIBVMAF, VMAF_MODEL_DIR, VMAF_MODEL_FILES } from './quality.js';
import { parseVmafLog, summarise, type MetricSummary } from './quality-frames.js';
import type { LadderCodec } from './stream-formats.js';

/** The CRFs each rung's samples are encoded at, from best to worst picture: they span the targets people ask for. */
export const CRF_GRID: Readonly<Record<LadderCodec, readonly number[]>> = {
  h264: [18, 23, 28, 33],
  h265: [20, 25, 30, 35],
  vp9: [24, 31, 38, 45],
  av1: [25, 32, 39, 46],
};

/** An input up to this long is sampled whole; a longer one in SAMPLE_WINDOWS windows of SAMPLE_WINDOW_S spread over it. */
const WHOLE_INPUT_S = 9;
const SAMPLE_WINDOWS = 3;
const SAMPLE_WINDOW_S = 3;
/** The verifying run compares at most this many frames of a rung (libvmaf's n_subsample thins a longer one). */
const VERIFY_FRAMES = 2000;
/** The longest concat: URL the verifying run gives ffmpeg (one argument of the engine protocol is at most 64 KiB). */
const CONCAT_CHARS = 60_000;
/** A rung's VBV cap: its sample's bitrate times this, or the auto table's bitrate, whichever is more. */
const CAP_FACTOR = 2;

export interface SampleWindow {
  startS: number;
  endS: number;
}

/** What the earlier runs of the attempt left, as stream.ts `measure` read it. */
export interface QualityMeasurements {
  /** Run 1: each sample's size in bytes, by file. */
  sampleBytes?: Readonly<Record<string, number>>;
  /** The scoring runs: each log's per-frame VMAF, by file. */
  vmafFrames?: Readonly<Record<string, readonly number[]>>;
  /** Run 3: every file of the package as written, by path. */
  packageFiles?: readonly string[];
}

export interface SamplePoint {
  crf: number;
  /** Of the sample, in bits per second. */
  bitrate: number | null;
  vmaf: number | null;
}

export interface QualityChoice {
  target: number;
  crf: number;
  /** The samples the choice was made from, best picture first. */
  samples: SamplePoint[];
  /** The sample bitrate at the chosen CRF (interpolated between samples when it lies between two). */
  estimatedBitrate: number | null;
  /** Why the choice is not simply the CRF that meets the target: no sample did, or every one did. */
  note: string | null;
}

export const sampleFile = (rung: string, crf: number) => `q-${rung}-crf${crf}.mp4`;
export const isSample = (path: string) => /^q-[a-z0-9_-]+-crf\d+\.mp4$/.test(path);
/** A rung's samples are scored in one run, one after the other: one log. */
export const sampleLog = (rung: string) => `q-${rung}.samples.vmaf.json`;
export const verifyLog = (rung: string) => `q-${rung}.verify.vmaf.json`;

/** What can be told from the request alone (audit #13). */
export function qualityProblems(req: StreamRequest): PlanProblem[] {
  if (!req.quality) return [];
  const problems: PlanProblem[] = [];
  if (req.ladder !== 'auto') {
    problems.push({
      code: 'INVALID_OPTION',
      pointer: '/quality',
      message: 'quality chooses the bitrates of an "auto" ladder; the rungs given here have their own',
      suggestion: 'use ladder "auto", or give each rung a crf',
    });
  }
  const names = AUTO_LADDER.map((rung) => `${rung.height}p`);
  for (const name of Object.keys(req.quality.rungs ?? {})) {
    if (!names.includes(name)) {
      problems.push({ code: 'INVALID_OPTION', pointer: `/quality/rungs/${name}`, message: `an "auto" ladder has no rung ${name}`, allowed: names });
    }
  }
  return problems;
}

export function targetOf(req: StreamRequest, rung: string): number {
  return req.quality?.rungs?.[rung] ?? req.quality!.target_vmaf;
}

/** The parts of the input the samples are made of: all of a short input, else windows spread over it. */
export function sampleWindows(durationS: number | null): SampleWindow[] {
  if (durationS === null || durationS <= WHOLE_INPUT_S) return [{ startS: 0, endS: durationS ?? WHOLE_INPUT_S }];
  return Array.from({ length: SAMPLE_WINDOWS }, (_, k) => {
    const middle = ((k + 0.5) / SAMPLE_WINDOWS) * durationS;
    const startS = Math.max(0, round3(middle - SAMPLE_WINDOW_S / 2));
    return { startS, endS: round3(startS + SAMPLE_WINDOW_S) };
  });
}

export function sampledSeconds(windows: readonly SampleWindow[]): number {
  return windows.reduce((sum, w) => sum + (w.endS - w.startS), 0);
}

/**
 * The windows of `from` as one stream starting at 0 (the same in the sampling and the scoring run, so that frame n
 * of a sample is frame n of its reference). A whole input is passed as it is.
 */
export function selectWindows(graph: GraphBuilder, from: string, windows: readonly SampleWindow[], wholeInput: boolean): string {
  const out = graph.label('q');
  const filters = wholeInput
    ? [filter('setpts', { expr: 'PTS-STARTPTS' })]
    : [
        filter('select', { expr: windows.map((w) => `between(t,${formatNumber(w.startS)},${formatNumber(w.endS)})`).join('+') }),
        filter('setpts', { expr: 'N/FRAME_RATE/TB' }),
      ];
  graph.add({ inputs: [from], filters, outputs: [out] });
  return out;
}

/** One libvmaf comparison of `distorted` with `reference` (both yuv420p, one size), its per-frame log to `log`. */
export function vmafFilter(log: string, subsample: number) {
  return filter(LIBVMAF, {
    model_path: `${VMAF_MODEL_DIR}/${VMAF_MODEL_FILES.default}`,
    log_path: log,
    log_fmt: 'json',
    n_subsample: subsample > 1 ? subsample : undefined,
    shortest: 1,
  });
}

/** The n_subsample of a verifying run of `durationS` at `fps`, so that it compares at most VERIFY_FRAMES frames. */
export function verifySubsample(durationS: number | null, fps: number | null): number {
  if (!durationS || !fps) return 1;
  return Math.max(1, Math.ceil((durationS * fps) / VERIFY_FRAMES));
}

/**
 * A rung's package files in play order, as one `concat:` input: its initialisation segment first (fMP4), then every
 * media segment; null before the package was written. When the URL would be too long for the engine protocol, the
 * first segments that fit are compared and `partial` says so.
 */
export function rungConcat(files: readonly string[], init: string | null, segmentPrefix: string, segmentSuffix: string): { url: string; files: string[]; partial: boolean } | null {
  const segments = files.filter((file) => file.startsWith(segmentPrefix) && file.endsWith(segmentSuffix)).sort();
  if (segments.length === 0 || (init !== null && !files.includes(init))) return null;
  const chosen = init ? [init] : [];
  let length = 'concat:'.length + (init?.length ?? 0);
  let partial = false;
  for (const segment of segments) {
    if (length + segment.length + 1 > CONCAT_CHARS) {
      partial = true;
      break;
    }
    chosen.push(segment);
    length += segment.length + 1;
  }
  return { url: `concat:${chosen.join('|')}`, files: chosen, partial };
}

/**
 * The CRF that meets `target` at the lowest bitrate, from the samples of one rung. Between the worst sample that
 * meets it and the best that does not, the CRF is interpolated (VMAF falls about linearly with CRF over a few steps)
 * and rounded towards the better picture.
 */
export function chooseCrf(target: number, samples: readonly SamplePoint[]): QualityChoice {
  const sorted = [...samples].sort((a, b) => a.crf - b.crf);
  const scored = sorted.filter((s): s is SamplePoint & { vmaf: number } => s.vmaf !== null);
  if (scored.length === 0) throw new Error('no sample of the rung was scored');
  const meeting = scored.filter((s) => s.vmaf >= target);
  if (meeting.length === 0) {
    const best = scored[0]!;
    return { target, crf: best.crf, samples: sorted, estimatedBitrate: best.bitrate, note: `no sample reached VMAF ${target} (the best, at crf ${best.crf}, scored ${round2(best.vmaf)}): the best was kept` };
  }
  const good = meeting.at(-1)!;
  const next = scored.find((s) => s.crf > good.crf);
  if (!next) {
    return { target, crf: good.crf, samples: sorted, estimatedBitrate: good.bitrate, note: `every sample reached VMAF ${target}: the highest crf of the grid (${good.crf}) was kept` };
  }
  const fraction = good.vmaf === next.vmaf ? 0 : (good.vmaf - target) / (good.vmaf - next.vmaf);
  const crf = Math.floor(good.crf + fraction * (next.crf - good.crf));
  const estimatedBitrate =
    good.bitrate !== null && next.bitrate !== null && next.crf !== good.crf
      ? Math.round(good.bitrate * Math.pow(next.bitrate / good.bitrate, (crf - good.crf) / (next.crf - good.crf)))
      : good.bitrate;
  return { target, crf, samples: sorted, estimatedBitrate, note: null };
}

/** A rung's peak bitrate (VBV maxrate) at its chosen CRF: room above the sample's rate, never below the table's. */
export function qualityCap(choice: QualityChoice, tableMax: number): number {
  return Math.max(tableMax, Math.round((choice.estimatedBitrate ?? 0) * CAP_FACTOR));
}

/** The per-frame scores of a libvmaf JSON log, in frame order. */
export function vmafFrames(log: string): number[] {
  const frames = parseVmafLog(log).sort((a, b) => a.frame - b.frame);
  if (frames.length === 0) throw new Error('libvmaf scored no frame');
  return frames.map((f) => f.vmaf);
}

/** The summary of a verifying log: mean, harmonic mean, min, percentiles, frames. */
export function verifiedVmaf(log: string): MetricSummary {
  const summary = summarise(['vmaf'], parseVmafLog(log).map(({ frame, vmaf }) => ({ frame, time_s: null, vmaf }))).vmaf;
  if (!summary) throw new Error('libvmaf scored no frame');
  return summary;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
