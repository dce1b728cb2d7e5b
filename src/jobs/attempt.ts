/**
 * The steps of a job attempt that the Node runner (runner.ts) and the Workers edge runner (edge-runner.ts) share.
 * No node: imports: both runtimes load this.
 */
import { eq } from 'drizzle-orm';
import { limitsForTier, type Config, type Limits } from '../config.js';
import type { Db } from '../db/client.js';
import { apiKeys, type Job } from '../db/schema.js';
import type { ProbeResult } from '../engine/engine.js';
import { isPlanProblems, planConvert, type ConvertPlan, type Measurements } from '../media/plan.js';
import type { Progress } from '../media/progress-types.js';
import type { ConvertRequest } from '../schemas/convert.js';
import type { BlobStore } from '../storage/blob-store.js';
import { JobFailure } from './failures.js';

export function planOrFail(request: ConvertRequest, probes: ProbeResult[], limits: Limits, measurements: Measurements): ConvertPlan {
  const plan = planConvert(request, probes, limits, measurements);
  if (isPlanProblems(plan)) {
    const first = plan[0];
    throw new JobFailure(first?.code ?? 'INVALID_REQUEST', first?.message ?? 'The request cannot be applied to this input.', false);
  }
  return plan;
}

/** A pass's progress as a share of the whole job: the passes before it count in full. */
export function weighted(progress: Progress, finished: number, weight: number): Progress {
  const base = finished * 100;
  const percentage = progress.percentage === null ? (base > 0 ? base : null) : base + weight * progress.percentage;
  return { ...progress, percentage: percentage === null ? null : Math.min(100, Math.round(percentage * 100) / 100) };
}

/** The limits of the tier of the key that owns the job. */
export async function limitsOf(deps: { db: Db; config: Config }, job: Job): Promise<Limits> {
  const key = await deps.db.select({ tier: apiKeys.tier }).from(apiKeys).where(eq(apiKeys.id, job.apiKeyId)).get();
  return limitsForTier(deps.config, key?.tier);
}

export function checkInputLimits(limits: Limits, probe: ProbeResult): void {
  if (probe.duration_s !== null && probe.duration_s > limits.inputDurationS) {
    throw new JobFailure('LIMIT_EXCEEDED', `The input is longer than the limit of ${limits.inputDurationS} s.`, false);
  }
  for (const stream of probe.streams) {
    if (stream.type === 'video' && stream.width && stream.height && stream.width * stream.height > limits.outputPixels) {
      throw new JobFailure('LIMIT_EXCEEDED', `The input frame is larger than the limit of ${limits.outputPixels} pixels.`, false);
    }
  }
}

export const inputTooLarge = (limit: number) =>
  new JobFailure('INPUT_TOO_LARGE', `The inputs exceed the limit of ${limit} bytes.`, false);

/** Deletes what an attempt stored before it lost its job: the first completion wins, the rest leaves nothing. */
export async function discard(blobs: BlobStore, keys: string[]): Promise<void> {
  await Promise.all(keys.map((key) => blobs.delete(key).catch(() => undefined)));
}
