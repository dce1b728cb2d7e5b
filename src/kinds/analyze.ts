/**
 * The `analyze` kind: VMAF, PSNR and SSIM of a distorted file against its reference, in one ffmpeg run
 * (src/media/quality.ts). The run's only products are the metric filters' per-frame files, which the attempt hands
 * back as scratch text; `finish` joins them into the per-frame outputs (frames.csv, frames.json) and `result`
 * summarises each metric (src/media/quality-frames.ts).
 */
import { JobFailure } from '../jobs/failures.js';
import {
  FRAMES_CSV,
  FRAMES_JSON,
  isQualityProblems,
  planQuality,
  qualityInputs,
  validateQuality,
  vmafModelName,
} from '../media/quality.js';
import { frameRows, framesCsv, framesJson, StatsFileError, summarise, type FrameRow } from '../media/quality-frames.js';
import type { AnalyzeRequest } from '../schemas/analyze.js';
import type { ProbeResult } from '../engine/engine.js';
import type { AttemptRecord, Kind } from './kind.js';

export const analyzeKind: Kind<AnalyzeRequest> = {
  name: 'analyze',
  inputs: (request) => qualityInputs(request),
  validate: (request) => validateQuality(request),
  plan(request, probes) {
    const plan = planQuality(request, [probes[0]!, probes[1]!]);
    if (isQualityProblems(plan)) return plan;
    return {
      // The comparing run is the job's last (and only) pass: what it writes is what the job keeps.
      passes: [{ kind: 'encode', args: plan.args, expectedDurationS: plan.expectedDurationS, weight: 1, scratch: plan.scratch }],
      outputs: [],
      files: [],
      dirs: [],
      collect: [],
      requirements: plan.requirements,
      args: plan.args,
      streamCopy: false,
      expectedDurationS: plan.expectedDurationS,
    };
  },
  measure: () => ({}),
  async finish(record) {
    const rows = rowsOf(record);
    return {
      outputs: [
        { name: FRAMES_CSV, contentType: 'text/csv; charset=utf-8', text: framesCsv(record.request.metrics, rows) },
        { name: FRAMES_JSON, contentType: 'application/json', text: framesJson(rows) },
      ],
      measured: {},
    };
  },
  result(record) {
    const { request, probes } = record;
    const rows = rowsOf(record);
    const plan = planQuality(request, [probes[0]!, probes[1]!]);
    const alignment = isQualityProblems(plan) ? null : plan.alignment;
    return {
      metrics: summarise(request.metrics, rows),
      frames_compared: rows.length,
      ...(request.metrics.includes('vmaf') ? { vmaf_model: vmafModelName(request.vmaf_model) } : {}),
      subsample: request.subsample,
      alignment: alignment && { scaled: alignment.scaled, fps: alignment.fps, duration: alignment.duration },
      warnings: alignment?.warnings ?? [],
      input: probes[0],
      reference: probes[1],
    };
  },
  forcedEngine: (request) => (request.options.engine !== 'auto' ? request.options.engine : null),
};

/** The per-frame rows of the run; a run that compared nothing, or wrote what its filters do not, fails the job. */
function rowsOf(record: AttemptRecord<AnalyzeRequest>): FrameRow[] {
  const { request, scratch, probes, logTail } = record;
  let rows: FrameRow[];
  try {
    rows = frameRows(request.metrics, scratch, request.subsample, referenceFps(probes[1]));
  } catch (error) {
    if (error instanceof StatsFileError) throw new JobFailure('ANALYSIS_FAILED', 'The metric filters wrote statistics that cannot be read.', false, logTail);
    throw error;
  }
  if (rows.length === 0) {
    throw new JobFailure('NO_FRAMES_COMPARED', 'No frame of the input could be compared with the reference.', false, logTail);
  }
  return rows;
}

function referenceFps(probe: ProbeResult | undefined): number | null {
  const fps = probe?.streams.find((s) => s.type === 'video')?.fps;
  return fps && Number.isFinite(fps) && fps > 0 ? fps : null;
}
