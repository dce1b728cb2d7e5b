/**
 * Runs one claimed job on an engine that works on files (native ffmpeg on Node or Deno): fetch its inputs into a
 * per-job temp dir, probe them, plan, run the plan's passes, upload the outputs, complete. The temp dir is removed on every path (audit
 * #4); all file I/O is async and streamed (audits #5, #17); losing the lease or a cancel stops ffmpeg at once.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { Job, JobOutput } from '../db/schema.js';
import { EngineError, type Engine, type ProbeResult } from '../engine/engine.js';
import { INPUT_FILE, inputsOf, measurementsFrom, type Measurements } from '../media/plan.js';
import type { Progress } from '../media/progress-types.js';
import type { Coordinator, Logger } from '../platform.js';
import type { ConvertRequest } from '../schemas/convert.js';
import type { BlobStore } from '../storage/blob-store.js';
import { outputKey } from '../storage/keys.js';
import { resolveLocalPath } from '../storage/local-path.js';
import { parseInputUri } from '../storage/uri.js';
import { JobFailure, toJobFailure } from './failures.js';
import { checkInputLimits, discard, inputTooLarge, limitsOf, planOrFail, weighted } from './attempt.js';
import * as transitions from './transitions.js';

export interface RunnerDeps {
  db: Db;
  blobs: BlobStore;
  engine: Engine;
  coordinator: Coordinator;
  config: Config;
  clock: () => number;
  log: Logger;
  /** Parent of the per-job temp dirs. */
  tmpRoot: string;
}

const PROGRESS_WRITE_MS = 500;

export async function runJob(deps: RunnerDeps, job: Job, owner: string, shutdown: AbortSignal): Promise<void> {
  const { db, config, clock } = deps;
  const lease = { owner, ms: config.leaseMs };
  const stop = new AbortController();
  const lost = () => stop.abort(new JobFailure('LEASE_LOST', 'The job was cancelled or taken over.', false));
  const stopOnShutdown = () => stop.abort(new JobFailure('SHUTDOWN', 'The server is shutting down.', true));
  shutdown.addEventListener('abort', stopOnShutdown, { once: true });

  // A cancel is seen at once through the coordinator, and within a lease renewal at the latest.
  const subscription = await deps.coordinator.subscribe(job.id, stop.signal);
  const renew = async (progress?: Partial<Progress>) => {
    if (stop.signal.aborted) return;
    const ours = await transitions.renew(db, job.id, lease, clock(), progress);
    if (!ours) lost();
    else if (progress) await deps.coordinator.notify(job.id);
  };
  const watchCancel = (async () => {
    while (!stop.signal.aborted) {
      // Woken by a notification (perhaps a cancel) or by the heartbeat period; either way the renewal decides.
      await subscription.next(Math.max(250, Math.floor(config.leaseMs / 3)));
      if (stop.signal.aborted) return;
      await renew().catch((error) => deps.log.warn('lease renewal failed', { job_id: job.id, error: String(error) }));
    }
  })();

  let dir: string | null = null;
  const uploaded: string[] = [];
  // The temp dir goes before the outcome is recorded, so nobody sees a finished job with its files still there.
  const removeDir = async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  try {
    dir = await mkdtemp(join(deps.tmpRoot, `job-${job.id}-`));
    const outcome = await execute(deps, job, dir, stop.signal, renew, uploaded);
    if (stop.signal.aborted) throw stop.signal.reason;
    await removeDir();
    const done = await transitions.complete(db, job.id, owner, clock(), outcome);
    if (!done) {
      // Someone else finished first, or the job was cancelled: the first completion wins, ours is discarded.
      await discard(deps.blobs, uploaded);
    }
  } catch (caught) {
    const error = stop.signal.aborted ? stop.signal.reason : caught;
    await discard(deps.blobs, uploaded);
    await removeDir().catch(() => undefined);
    if (error instanceof JobFailure && error.code === 'LEASE_LOST') {
      // The job is already cancelled or re-queued; there is nothing of ours to record.
    } else if (error instanceof JobFailure && error.code === 'SHUTDOWN') {
      await transitions.release(db, job.id, owner, clock());
    } else {
      const failure = toJobFailure(error);
      if (!(error instanceof JobFailure) && !(error instanceof EngineError)) {
        deps.log.error('job failed unexpectedly', { job_id: job.id, error: error instanceof Error ? error.stack : String(error) });
      }
      await transitions.fail(db, job.id, owner, clock(), {
        code: failure.code,
        message: failure.safeMessage,
        retryable: failure.retryable,
        logTail: failure.logTail,
      });
    }
  } finally {
    stop.abort(stop.signal.reason ?? new JobFailure('DONE', 'done', false));
    shutdown.removeEventListener('abort', stopOnShutdown);
    subscription.close();
    await watchCancel.catch(() => undefined);
    await removeDir();
    await deps.coordinator.notify(job.id);
  }
}

async function execute(
  deps: RunnerDeps,
  job: Job,
  dir: string,
  signal: AbortSignal,
  renew: (progress?: Partial<Progress>) => Promise<void>,
  uploaded: string[],
): Promise<{ outputs: JobOutput[]; result?: Record<string, unknown>; logTail?: string }> {
  const limits = await limitsOf(deps, job);
  if (job.kind === 'probe') {
    const request = job.request as { input: string };
    await renew({ stage: 'fetching' });
    await fetchInput(deps, request.input, join(dir, INPUT_FILE), limits.inputBytes, limits.inputBytes, signal);
    await renew({ stage: 'probing' });
    const probe = await deps.engine.probe(INPUT_FILE, { cwd: dir, signal, timeoutMs: 60_000 });
    checkInputLimits(limits, probe);
    return { outputs: [], result: { ...probe } };
  }

  // Every input the planner names (the main input, watermark images, concat parts), each under its own file name.
  const request = job.request as unknown as ConvertRequest;
  const inputs = inputsOf(request);
  await renew({ stage: 'fetching' });
  // The input size limit is for the job: all its inputs together.
  let budget = limits.inputBytes;
  for (const input of inputs) budget -= await fetchInput(deps, input.uri, join(dir, input.file), budget, limits.inputBytes, signal);

  await renew({ stage: 'probing' });
  const probes: ProbeResult[] = [];
  for (const input of inputs) {
    const probe = await deps.engine.probe(input.file, { cwd: dir, signal, timeoutMs: 60_000 });
    checkInputLimits(limits, probe);
    probes.push(probe);
  }

  let plan = planOrFail(request, probes, limits, {});
  const passCount = plan.passes.length;
  const deadline = deps.clock() + deps.config.jobTimeoutMs;
  await renew({ stage: 'processing', percentage: plan.passes.every((pass) => pass.expectedDurationS) ? 0 : null });

  // The passes run in order; each reports within its share of the percentage. A measuring pass's log feeds the
  // planner, which then gives the later passes their measured arguments.
  let finished = 0;
  let measurements: Measurements = {};
  let logTail = '';
  for (let index = 0; index < passCount; index++) {
    const pass = plan.passes[index]!;
    let lastWrite = 0;
    const run = await deps.engine.run({
      args: pass.args,
      cwd: dir,
      expectedDurationS: pass.expectedDurationS,
      timeoutMs: Math.max(1, deadline - deps.clock()),
      signal,
      onProgress: (progress) => {
        const now = deps.clock();
        if (now - lastWrite < PROGRESS_WRITE_MS) return;
        lastWrite = now;
        void renew(weighted(progress, finished, pass.weight)).catch((error) =>
          deps.log.warn('progress write failed', { job_id: job.id, error: String(error) }),
        );
      },
    });
    finished += pass.weight;
    logTail = run.logTail;
    if (pass.kind === 'measure') {
      measurements = { ...measurements, ...measurementsFrom(run.logTail) };
      plan = planOrFail(request, probes, limits, measurements);
      if (plan.passes.length !== passCount) throw new Error('a plan changed its passes after measuring');
    }
  }

  // Text outputs the planner made (a sprite's WebVTT index) join ffmpeg's files in the temp dir.
  for (const file of plan.files) await writeFile(join(dir, file.file), file.text, { flag: 'wx' });

  await renew({ stage: 'uploading' });
  const outputs: JobOutput[] = [];
  for (const output of plan.outputs) {
    // ffmpeg may write fewer numbered frames than planned (a variable frame rate input); that is the input's doing.
    if (!(await stat(join(dir, output.file)).catch(() => null))) {
      throw new JobFailure('OUTPUT_MISSING', `ffmpeg did not produce ${output.name}.`, false, logTail);
    }
    const key = outputKey(job.id, job.attempts, output.name);
    uploaded.push(key);
    const body = Readable.toWeb(createReadStream(join(dir, output.file))) as ReadableStream<Uint8Array>;
    const stored = await deps.blobs.put(key, body, { contentType: output.contentType });
    outputs.push({ name: output.name, key, size: stored.size, content_type: output.contentType, sha256: stored.sha256 });
  }
  const result: Record<string, unknown> = { input: probes[0], stream_copy: plan.streamCopy };
  if (probes.length > 1) result.inputs = probes;
  if (measurements.loudnorm) result.loudness = measurements.loudnorm;
  return { outputs, result, logTail };
}

/** Streams an `upload:` into the temp dir with the input size limit; links a `local:` file (confined to its root). */
/** Returns the bytes fetched; `budget` is what the job's inputs may still take, `limit` the job's whole limit. */
async function fetchInput(deps: RunnerDeps, uri: string, target: string, budget: number, limit: number, signal: AbortSignal): Promise<number> {
  const location = parseInputUri(uri, deps.config.localRoot ? ['upload', 'local'] : ['upload']);
  if (location.kind === 'local') {
    const source = await resolveLocalPath(deps.config.localRoot!, location.path).catch(() => {
      throw new JobFailure('INPUT_NOT_FOUND', 'The local input cannot be read.', false);
    });
    const { size } = await stat(source);
    if (size > budget) throw inputTooLarge(limit);
    await symlink(source, target);
    return size;
  }
  const blob = await deps.blobs.get(location.key);
  if (!blob) throw new JobFailure('INPUT_NOT_FOUND', 'The uploaded input no longer exists.', false);
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > budget ? inputTooLarge(limit) : null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(blob.body as import('node:stream/web').ReadableStream), counter, createWriteStream(target, { flags: 'wx' }), {
    signal,
  });
  return seen;
}

