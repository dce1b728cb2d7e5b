/**
 * The attempt pipeline: one claimed job, of any kind, on any runtime.
 *
 *   fetch inputs -> probe -> plan -> [route] -> passes (re-plan after a measuring pass) -> store outputs
 *     -> complete | fail (re-queued while attempts remain and the failure is retryable) | release (shutdown)
 *
 * The Node pool, the fleet and the JobCoordinator all call runAttempt; what differs between them is the Workspace
 * (workspace.ts): where the files are and how the engine is reached. The kind (src/kinds/) says what the job's
 * inputs are, plans its passes and makes its result; nothing here knows one kind from another.
 *
 * The lease: renewed on a timer and with every progress write (a compare-and-set that also records the progress,
 * transitions.ts). A renewal that is refused means the job was cancelled or taken over: the attempt's signal aborts,
 * which stops the engine at once (ffmpeg is killed), and nothing it stored is kept. `check()` renews right away: a
 * notification that the job changed (a cancel) makes the attempt look at once instead of at the next renewal.
 */
import { eq } from 'drizzle-orm';
import { limitsForTier, type Config, type Limits } from '../config.js';
import type { Db } from '../db/client.js';
import { apiKeys, type Job, type JobOutput } from '../db/schema.js';
import { EngineError, type EngineName, type ProbeResult } from '../engine/engine.js';
import { kindOf, type Kind, type KindPlan, type Measurements } from '../kinds/index.js';
import { profileOf } from '../media/estimate.js';
import { contentTypeOf } from '../media/content-types.js';
import type { PlanPass } from '../media/plan.js';
import type { Progress } from '../media/progress-types.js';
import { routeJob, type EngineProfile } from '../media/routing.js';
import type { Logger, Subscription } from '../platform.js';
import type { BlobStore } from '../storage/blob-store.js';
import { outputKey, workKey } from '../storage/keys.js';
import { JobFailure, toJobFailure } from './failures.js';
import { inputTooLarge, type OpenedInput } from './inputs.js';
import * as transitions from './transitions.js';
import type { AttemptSpace, Workspace } from './workspace.js';

export interface AttemptDeps {
  db: Db;
  blobs: BlobStore;
  config: Config;
  clock: () => number;
  log: Logger;
  /** The job's row changed (progress, stage, its end): tell its followers. */
  changed(jobId: string): void;
  /** Notifications that the job changed elsewhere (a cancel), where the runtime has them in-process. */
  watch?(jobId: string, signal: AbortSignal): Promise<Subscription>;
}

export type AttemptOutcome =
  | { status: 'completed' }
  /** `requeued`: the failure was retryable and an attempt remains; the job is queued again. */
  | { status: 'failed'; requeued: boolean; code: string }
  /** Given back to the queue without spending an attempt: the runner is shutting down. */
  | { status: 'released' }
  /** The job was cancelled or taken over while it ran; nothing of this attempt was kept. */
  | { status: 'lost' };

export interface Attempt {
  /** Settles when the attempt is over; never rejects. */
  done: Promise<AttemptOutcome>;
  /** Renews the lease now; if the job is no longer the attempt's (cancelled), the engine is stopped at once. */
  check(): Promise<void>;
}

/** Progress goes to the database at most this often; the percentage between writes is not lost, only coalesced. */
export const PROGRESS_WRITE_MS = 500;
/** A scratch file or a playlist a kind reads back is text of this size at most. */
const SCRATCH_BYTES = 16 * 1024 * 1024;

const LEASE_LOST = 'LEASE_LOST';
const SHUTDOWN = 'SHUTDOWN';

export function runAttempt(deps: AttemptDeps, workspace: Workspace, job: Job, options: { shutdown?: AbortSignal } = {}): Attempt {
  const { db, clock, config, log } = deps;
  const held = transitions.heldBy(job, config.leaseMs);
  const stop = new AbortController();
  const lost = () => stop.abort(new JobFailure(LEASE_LOST, 'The job was cancelled or taken over.', false));
  const onShutdown = () => stop.abort(new JobFailure(SHUTDOWN, 'The server is shutting down.', true));
  if (options.shutdown?.aborted) onShutdown();
  else options.shutdown?.addEventListener('abort', onShutdown, { once: true });

  const renew = async (progress?: Partial<Progress>): Promise<void> => {
    if (stop.signal.aborted) return;
    const ours = await transitions.renew(db, job.id, held, clock(), progress);
    if (!ours) lost();
    else if (progress) deps.changed(job.id);
  };
  let renewing: Promise<void> | null = null;
  const check = () => {
    // Concurrent checks share one renewal: a burst of notifications costs one statement.
    renewing ??= renew().finally(() => {
      renewing = null;
    });
    return renewing.catch((error: unknown) => log.warn('lease renewal failed', { job_id: job.id, error: String(error) }));
  };
  const heartbeat = setInterval(() => void check(), Math.max(250, Math.floor(config.leaseMs / 3)));
  const watching = watch(deps, job.id, stop.signal, check);

  const done = (async (): Promise<AttemptOutcome> => {
    const stored: string[] = [];
    let space: AttemptSpace | null = null;
    try {
      space = await workspace.open(job, stop.signal);
      const outcome = await execute({ deps, workspace, space, job, held, signal: stop.signal, renew, stored });
      if (stop.signal.aborted) throw stop.signal.reason;
      // The attempt's files go before its outcome is recorded, so nobody sees a finished job with them still there.
      await space.close();
      space = null;
      if (!(await transitions.complete(db, job.id, held, clock(), outcome))) {
        // Cancelled, or another attempt finished first: the first completion wins, ours is discarded.
        await discard(deps.blobs, stored);
        return { status: 'lost' };
      }
      return { status: 'completed' };
    } catch (caught) {
      const error = stop.signal.aborted ? stop.signal.reason : caught;
      await discard(deps.blobs, stored);
      await space?.close();
      space = null;
      if (error instanceof JobFailure && error.code === LEASE_LOST) return { status: 'lost' };
      if (error instanceof JobFailure && error.code === SHUTDOWN) {
        return (await transitions.release(db, job.id, held, clock())) ? { status: 'released' } : { status: 'lost' };
      }
      const failure = toJobFailure(error);
      if (!(error instanceof JobFailure) && !(error instanceof EngineError)) {
        log.error('job failed unexpectedly', { job_id: job.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
      const failed = await transitions.fail(db, job.id, held, clock(), {
        code: failure.code,
        message: failure.safeMessage,
        retryable: failure.retryable,
        logTail: failure.logTail,
      });
      if (!failed) return { status: 'lost' };
      return { status: 'failed', requeued: failed.status === 'queued', code: failure.code };
    } finally {
      clearInterval(heartbeat);
      options.shutdown?.removeEventListener('abort', onShutdown);
      if (!stop.signal.aborted) stop.abort(new JobFailure('DONE', 'done', false));
      await watching;
      deps.changed(job.id);
    }
  })().catch((error: unknown): AttemptOutcome => {
    // Only the database can fail here (recording the outcome): the lease then expires and a sweep re-queues the job.
    log.error('job outcome not recorded', { job_id: job.id, error: String(error) });
    return { status: 'lost' };
  });

  return { done, check };
}

/** Calls `check` whenever the job changes elsewhere, until `signal` aborts; resolves then. */
async function watch(deps: AttemptDeps, jobId: string, signal: AbortSignal, check: () => Promise<void>): Promise<void> {
  if (!deps.watch) return;
  const subscription = await deps.watch(jobId, signal).catch(() => null);
  if (!subscription) return;
  try {
    while (!signal.aborted) {
      if ((await subscription.next(Math.max(250, Math.floor(deps.config.leaseMs / 3)))) && !signal.aborted) await check();
    }
  } finally {
    subscription.close();
  }
}

interface Execution {
  deps: AttemptDeps;
  workspace: Workspace;
  space: AttemptSpace;
  job: Job;
  held: transitions.Held;
  signal: AbortSignal;
  renew: (progress?: Partial<Progress>) => Promise<void>;
  /** Keys of every blob stored so far, deleted if the attempt does not complete. */
  stored: string[];
}

async function execute(x: Execution): Promise<{ outputs: JobOutput[]; result: Record<string, unknown>; logTail: string }> {
  const { deps, space, job, signal, renew } = x;
  const kind = kindOf(job.kind);
  const request = job.request as unknown;
  const limits = await limitsOf(deps, job);

  // Every input the kind names (the main one, watermark images, concat parts), each under its own file name. The
  // size limit is the job's: all its inputs together.
  await renew({ stage: 'fetching' });
  const inputs = kind.inputs(request);
  let inputBytes = 0;
  for (const input of inputs) inputBytes += await space.addInput(input, limits.inputBytes - inputBytes, limits.inputBytes);
  if (inputBytes > limits.inputBytes) throw inputTooLarge(limits.inputBytes);

  await renew({ stage: 'probing' });
  const profiles = await x.workspace.profiles();
  // Probed where the workspace probes best (the inputs' size decides), not necessarily where the job was routed: the
  // probe may show that engine cannot hold the job.
  const probeEngine = x.workspace.probeEngine(profiles, inputBytes);
  const probes: ProbeResult[] = [];
  for (const input of inputs) {
    const probe = await space.probe(input.file, probeEngine, signal);
    checkInputLimits(limits, probe);
    probes.push(probe);
  }

  let measurements: Measurements = {};
  let plan = planOrFail(kind, request, probes, limits, measurements);
  const engine = await engineFor(x, kind, request, plan, probes, inputBytes, profiles, probeEngine);

  const passCount = plan.passes.length;
  if (passCount > 0 && plan.passes.filter((pass) => pass.kind === 'encode').length !== 1) throw new Error('a plan has not exactly one encode pass');
  const deadline = deps.clock() + deps.config.jobTimeoutMs;
  const outputs: JobOutput[] = [];
  const scratch = new Map<string, string>();
  /** Files passes carry to later ones, in temporary blobs of the attempt (deleted when it ends, whatever its end). */
  const carried = new Map<string, { key: string; size: number }>();
  const put = async (name: string, contentType: string, body: ReadableStream<Uint8Array>, size: number | null) => {
    if (outputs.length === 0) await renew({ stage: 'uploading' });
    const key = outputKey(job.id, job.attempts, name);
    x.stored.push(key);
    const stored = await deps.blobs.put(key, body, { contentType });
    if (size !== null && stored.size !== size) throw new Error('an output was stored with another size than the engine sent');
    const output: JobOutput = { name, key, size: stored.size, content_type: contentType, sha256: stored.sha256 };
    const same = outputs.findIndex((o) => o.name === name);
    if (same >= 0) outputs[same] = output;
    else outputs.push(output);
  };
  // What the encode pass writes that the job keeps: the plan's outputs by file, and every file under a collected
  // folder by its path.
  const generated = new Set(plan.files.map((file) => file.file));
  const planned = (path: string) => plan.outputs.find((output) => output.file === path && !generated.has(path));
  const collected = (path: string) => plan.collect.some((prefix) => path.startsWith(prefix));
  /** The files of earlier passes a pass reads: carried ones from their blobs, kept outputs from theirs. */
  const readsOf = (pass: PlanPass): (OpenedInput & { path: string })[] =>
    (pass.reads ?? []).map((path) => {
      const key = carried.get(path)?.key ?? outputs.find((o) => o.name === path)?.key;
      if (!key) throw new Error(`a pass reads ${path}, which no earlier pass wrote`);
      const size = carried.get(path)?.size ?? outputs.find((o) => o.name === path)!.size;
      return {
        path,
        size,
        async open() {
          const blob = await deps.blobs.get(key);
          if (!blob) throw new Error(`${path} is gone from the attempt's blobs`);
          return blob.body;
        },
      };
    });

  let logTail = '';
  try {
    if (passCount > 0) {
      await renew({ stage: 'processing', percentage: plan.passes.every((pass) => pass.expectedDurationS) ? 0 : null });
      // The passes run in order; each reports within its share of the percentage. After every pass but the last,
      // the kind measures what it left and plans again, so that later passes get the measured values.
      let finished = 0;
      for (let index = 0; index < passCount; index++) {
        const pass = plan.passes[index]!;
        const written = new Map<string, number>();
        const passScratch = new Map<string, string>();
        let lastWrite = 0;
        const run = await space.run(engine, {
          args: pass.args,
          expectedDurationS: pass.expectedDurationS,
          timeoutMs: Math.max(1, deadline - deps.clock()),
          signal,
          dirs: plan.dirs,
          reads: readsOf(pass),
          want: (path) =>
            (pass.scratch ?? []).includes(path) ||
            (pass.carry ?? []).includes(path) ||
            (pass.kind === 'encode' && (planned(path) !== undefined || collected(path))),
          store: async (path, body, size) => {
            if ((pass.scratch ?? []).includes(path)) {
              const text = new TextDecoder().decode(await readBytes(body, SCRATCH_BYTES));
              passScratch.set(path, text);
              scratch.set(path, text);
              written.set(path, text.length);
            } else if ((pass.carry ?? []).includes(path)) {
              const key = workKey(job.id, job.attempts, path);
              const stored = await deps.blobs.put(key, body);
              carried.set(path, { key, size: stored.size });
              written.set(path, stored.size);
            } else {
              const output = planned(path);
              await put(output?.name ?? path, output?.contentType ?? contentTypeOf(path), body, size);
              written.set(path, size ?? outputs.find((o) => o.name === (output?.name ?? path))!.size);
            }
          },
          onProgress: (progress) => {
            const now = deps.clock();
            if (now - lastWrite < PROGRESS_WRITE_MS) return;
            lastWrite = now;
            void renew(weighted(progress, finished, pass.weight)).catch((error: unknown) =>
              deps.log.warn('progress write failed', { job_id: job.id, error: String(error) }),
            );
          },
        });
        finished += pass.weight;
        logTail = run.logTail;
        if (index < passCount - 1) {
          measurements = { ...measurements, ...kind.measure({ index, logTail: run.logTail, scratch: passScratch, written }, measurements) };
          plan = planOrFail(kind, request, probes, limits, measurements);
          if (plan.passes.length !== passCount) throw new Error('a plan changed its passes after measuring');
        }
      }
    }
  } finally {
    await Promise.all([...carried.values()].map(({ key }) => deps.blobs.delete(key).catch(() => undefined)));
  }

  // Text outputs the planner made itself (a sprite's WebVTT index).
  for (const file of plan.files) {
    const output = plan.outputs.find((o) => o.file === file.file);
    if (output) await put(output.name, output.contentType, new Blob([file.text]).stream(), null);
  }
  // ffmpeg may write fewer numbered frames than planned (a variable frame rate input); that is the input's doing.
  const missing = plan.outputs.find((output) => !outputs.some((stored) => stored.name === output.name));
  if (missing) throw new JobFailure('OUTPUT_MISSING', `ffmpeg did not produce ${missing.name}.`, false, logTail);

  const open = async (name: string) => {
    const output = outputs.find((o) => o.name === name);
    const blob = output ? await deps.blobs.get(output.key) : null;
    if (!blob) throw new Error(`no stored output ${name} to read`);
    return blob.body;
  };
  const record = {
    request,
    probes,
    plan,
    measurements,
    logTail,
    outputs,
    scratch,
    read: async (name: string) => readBytes(await open(name), SCRATCH_BYTES),
    open,
  };
  const finished = (await kind.finish?.(record, limits)) ?? { outputs: [], measured: {} };
  for (const made of finished.outputs) {
    await put(made.name, made.contentType, 'text' in made ? new Blob([made.text]).stream() : made.stream(), null);
  }
  // The plan's outputs in its order, then the rest (collected, made by the kind) by name.
  const order = plan.outputs.map((o) => o.name);
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  outputs.sort((a, b) => rank(a.name) - rank(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  return { outputs, result: kind.result(record, finished.measured), logTail };
}

/**
 * The engine the passes run on. A job not routed at submission (its plan needed the probe) is routed now, with what
 * the probe told, and a kind with nothing to run stays on the engine that probed it. A job routed at submission keeps
 * its engine unless the probe shows that engine cannot hold it after all (an input far larger than the one routing
 * assumed, outgrowing the wasm engine's memory): it is routed again, unless the request forced the engine. The
 * engine chosen here is recorded on the job with the reason.
 */
async function engineFor(
  x: Execution,
  kind: Kind<unknown>,
  request: unknown,
  plan: KindPlan,
  probes: ProbeResult[],
  inputBytes: number,
  profiles: EngineProfile[],
  probeEngine: EngineName,
): Promise<EngineName> {
  const routed = x.job.engine as EngineName | null;
  const forced = kind.forcedEngine(request);
  const route = (force: EngineName | null) =>
    routeJob({ requirements: plan.requirements, profile: profileOf({ plan, probe: probes[0] ?? null, request, inputBytes }), forced: force }, profiles);

  let engine = routed ?? probeEngine;
  let reason = `probed on ${probeEngine}`;
  if (plan.passes.length > 0 && routed && !forced) {
    const check = route(routed);
    if (check.ok || check.code !== 'ENGINE_INCAPABLE') return routed;
    const again = route(null);
    if (!again.ok) throw noEngine(again);
    engine = again.engine;
    reason = `re-routed after the probe (${check.missing.map((m) => m.reason).join(', ')}): ${again.reason}`;
  } else if (plan.passes.length > 0 && !routed) {
    const chosen = route(forced);
    if (!chosen.ok) throw noEngine(chosen);
    engine = chosen.engine;
    reason = `${chosen.reason} (routed after the probe)`;
  } else if (routed) {
    return routed;
  }
  if (!(await transitions.assignEngine(x.deps.db, x.job.id, x.held, x.deps.clock(), engine, reason))) {
    throw new JobFailure(LEASE_LOST, 'The job was cancelled or taken over.', false);
  }
  x.deps.changed(x.job.id);
  return engine;
}

function noEngine(route: Extract<ReturnType<typeof routeJob>, { ok: false }>): JobFailure {
  const missing = route.missing.map((m) => m.reason).join(', ');
  return new JobFailure(route.code, `No engine here can run this job${missing ? `: ${missing}` : ''}.`, false);
}

function planOrFail(kind: Kind<unknown>, request: unknown, probes: ProbeResult[], limits: Limits, measurements: Measurements): KindPlan {
  const plan = kind.plan(request, probes, limits, measurements);
  if (Array.isArray(plan)) {
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
async function limitsOf(deps: { db: Db; config: Config }, job: Job): Promise<Limits> {
  const key = await deps.db.select({ tier: apiKeys.tier }).from(apiKeys).where(eq(apiKeys.id, job.apiKeyId)).get();
  return limitsForTier(deps.config, key?.tier);
}

function checkInputLimits(limits: Limits, probe: ProbeResult): void {
  if (probe.duration_s !== null && probe.duration_s > limits.inputDurationS) {
    throw new JobFailure('LIMIT_EXCEEDED', `The input is longer than the limit of ${limits.inputDurationS} s.`, false);
  }
  for (const stream of probe.streams) {
    if (stream.type === 'video' && stream.width && stream.height && stream.width * stream.height > limits.outputPixels) {
      throw new JobFailure('LIMIT_EXCEEDED', `The input frame is larger than the limit of ${limits.outputPixels} pixels.`, false);
    }
  }
}

/** A stream's bytes, refusing more than `limit` of them. */
async function readBytes(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel();
        throw new JobFailure('RESOURCE_LIMIT', 'A file the job reads back is too large.', false);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Deletes what an attempt stored before it lost its job: the first completion wins, the rest leaves nothing. */
async function discard(blobs: BlobStore, keys: string[]): Promise<void> {
  await Promise.all(keys.map((key) => blobs.delete(key).catch(() => undefined)));
}
