/**
 * Runs one claimed job where there is no file system: in the JobCoordinator Durable Object on Workers. The flow is
 * runner.ts's (fetch, probe, plan, run the passes, upload, complete or fail), but every byte is streamed: inputs go
 * from the blob store (R2) into the engine's request body, outputs from the engine's response body into the blob
 * store. The engine is a service speaking the native worker's protocol (src/engine/remote-stream.ts): the
 * Transcoder container (native ffmpeg) or the wasm Worker (@ffmpeg/core). Neither ever sees a storage credential or
 * a URL of the bucket: they get bytes and give bytes back.
 *
 * The lease: renewed on a timer and with every progress write (a compare-and-set that also records the progress);
 * a renewal that is refused means the job was cancelled or taken over, and the engine's request is aborted at once,
 * which makes the engine kill ffmpeg. `check()` renews right away: the coordinator calls it when it is told the job
 * changed, so a cancel reaches the engine without waiting for the timer.
 */
import type { Config, Limits } from '../config.js';
import type { Db } from '../db/client.js';
import type { Job, JobOutput } from '../db/schema.js';
import type { ProbeResult } from '../engine/engine.js';
import { probeRemote, runRemote, type StreamEndpoint, type StreamInput } from '../engine/remote-stream.js';
import { profileOf, type EngineName } from '../media/estimate.js';
import { INPUT_FILE, inputsOf, measurementsFrom, type ConvertPlan, type Measurements } from '../media/plan.js';
import type { Progress } from '../media/progress-types.js';
import { routeJob, type EngineProfile } from '../media/routing.js';
import type { Logger } from '../platform.js';
import type { ConvertRequest } from '../schemas/convert.js';
import type { BlobStore } from '../storage/blob-store.js';
import { outputKey } from '../storage/keys.js';
import { parseInputUri } from '../storage/uri.js';
import { JobFailure, toJobFailure } from './failures.js';
import { checkInputLimits, discard, inputTooLarge, limitsOf, planOrFail, weighted } from './attempt.js';
import * as transitions from './transitions.js';

export interface EdgeEngine extends StreamEndpoint {
  name: EngineName;
  /**
   * How long the engine may say nothing before the run is taken as lost; null for an engine that cannot speak
   * while ffmpeg runs (the wasm Worker runs it synchronously), bounded instead by the job's time limit.
   */
  silenceMs: number | null;
  /** Called once the attempt is over, when the engine holds something for this job alone (its container). */
  release?(): Promise<void>;
}

export interface EdgeRunnerDeps {
  db: Db;
  blobs: BlobStore;
  config: Config;
  clock: () => number;
  log: Logger;
  /** The engines of this deployment and what routing knows of them. */
  profiles(): Promise<EngineProfile[]>;
  /** A connection to an engine for this job; null when the deployment has no such engine. */
  engine(name: EngineName, job: Job): EdgeEngine | null;
  /** The job's row changed (progress, stage, end): tell its followers. */
  changed(): void;
}

export interface EdgeRun {
  /** Settles when the attempt is over (completed, failed, re-queued, or the lease was lost); never rejects. */
  done: Promise<EdgeOutcome>;
  /** Renews the lease now; if the job is no longer ours (cancelled), the engine is stopped at once. */
  check(): Promise<void>;
}

export type EdgeOutcome =
  | { status: 'completed' }
  /** `retryable`: the job was queued again and wants to be dispatched. */
  | { status: 'failed'; requeued: boolean; code: string }
  /** The job was cancelled or taken over while it ran; nothing of this attempt was kept. */
  | { status: 'lost' };

const PROGRESS_WRITE_MS = 500;
const PROBE_TIMEOUT_MS = 60_000;

export function runEdgeJob(deps: EdgeRunnerDeps, job: Job, owner: string): EdgeRun {
  const { db, clock, config } = deps;
  const lease = { owner, ms: config.leaseMs };
  const stop = new AbortController();
  const lost = () => stop.abort(new JobFailure('LEASE_LOST', 'The job was cancelled or taken over.', false));

  let renewing: Promise<void> | null = null;
  const renew = async (progress?: Partial<Progress>): Promise<void> => {
    if (stop.signal.aborted) return;
    const ours = await transitions.renew(db, job.id, lease, clock(), progress);
    if (!ours) lost();
    else if (progress) deps.changed();
  };
  const check = () => {
    // Concurrent checks share one renewal: a burst of notifications costs one statement.
    renewing ??= renew().finally(() => {
      renewing = null;
    });
    return renewing.catch((error: unknown) => deps.log.warn('lease renewal failed', { job_id: job.id, error: String(error) }));
  };
  const heartbeat = setInterval(() => void check(), Math.max(250, Math.floor(config.leaseMs / 3)));

  const done = (async (): Promise<EdgeOutcome> => {
    const uploaded: string[] = [];
    const engines = new Set<EdgeEngine>();
    const connectOnce = (name: EngineName) => {
      const engine = connect(deps, job, name);
      engines.add(engine);
      return engine;
    };
    try {
      const outcome = await execute(deps, job, stop.signal, renew, uploaded, connectOnce);
      if (stop.signal.aborted) throw stop.signal.reason;
      const completed = await transitions.complete(db, job.id, owner, clock(), outcome);
      if (!completed) {
        // Cancelled, or another attempt finished first: the first completion wins, ours is discarded.
        await discard(deps.blobs, uploaded);
        return { status: 'lost' };
      }
      return { status: 'completed' };
    } catch (caught) {
      const error = stop.signal.aborted ? stop.signal.reason : caught;
      await discard(deps.blobs, uploaded);
      if (error instanceof JobFailure && error.code === 'LEASE_LOST') return { status: 'lost' };
      const failure = toJobFailure(error);
      if (failure.code === 'INTERNAL') {
        deps.log.error('job failed unexpectedly', { job_id: job.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
      const failed = await transitions.fail(db, job.id, owner, clock(), {
        code: failure.code,
        message: failure.safeMessage,
        retryable: failure.retryable,
        logTail: failure.logTail,
      });
      if (!failed) return { status: 'lost' };
      return { status: 'failed', requeued: failed.status === 'queued', code: failure.code };
    } finally {
      clearInterval(heartbeat);
      if (!stop.signal.aborted) stop.abort(new JobFailure('DONE', 'done', false));
      deps.changed();
      // A container per attempt: stop it now rather than when it has slept, so it does not hold an instance.
      await Promise.all(
        [...engines].map((engine) =>
          engine.release?.().catch((error: unknown) => deps.log.warn('engine release failed', { job_id: job.id, error: String(error) })),
        ),
      );
    }
  })().catch((error: unknown): EdgeOutcome => {
    // Only the database can fail here (the fail transition itself): the lease then expires and the alarm re-queues.
    deps.log.error('job outcome not recorded', { job_id: job.id, error: String(error) });
    return { status: 'lost' };
  });

  return { done, check };
}

type Outcome = { outputs: JobOutput[]; result?: Record<string, unknown>; logTail?: string };

async function execute(
  deps: EdgeRunnerDeps,
  job: Job,
  signal: AbortSignal,
  renew: (progress?: Partial<Progress>) => Promise<void>,
  uploaded: string[],
  connect: (name: EngineName) => EdgeEngine,
): Promise<Outcome> {
  const limits = await limitsOf(deps, job);
  const request = job.request as unknown as ConvertRequest;
  const inputs = job.kind === 'probe' ? [{ uri: (job.request as { input: string }).input, file: INPUT_FILE }] : inputsOf(request);

  await renew({ stage: 'fetching' });
  const sources: StreamInput[] = [];
  let inputBytes = 0;
  for (const input of inputs) {
    const source = await openInput(deps.blobs, input.uri, input.file, limits);
    inputBytes += source.size;
    if (inputBytes > limits.inputBytes) throw inputTooLarge(limits.inputBytes);
    sources.push(source);
  }

  // The probe runs where the job was routed; a job routed only now (its plan needed the probe) is probed where
  // its inputs fit.
  const profiles = await deps.profiles();
  const probeEngine = connect((job.engine as EngineName | null) ?? probeEngineFor(profiles, inputBytes));
  await renew({ stage: 'probing' });
  const probes: ProbeResult[] = [];
  for (const source of sources) {
    const probe = await probeRemote(probeEngine, source, { timeoutMs: PROBE_TIMEOUT_MS, signal });
    checkInputLimits(limits, probe);
    probes.push(probe);
  }
  if (job.kind === 'probe') return { outputs: [], result: { ...probes[0]! } };

  let plan = planOrFail(request, probes, limits, {});
  const routed = job.engine ? null : routeNow(plan, probes[0]!, request, inputBytes, profiles);
  const engine = routed === null || routed === probeEngine.name ? probeEngine : connect(routed);
  const passCount = plan.passes.length;
  const deadline = deps.clock() + deps.config.jobTimeoutMs;
  await renew({ stage: 'processing', percentage: plan.passes.every((pass) => pass.expectedDurationS) ? 0 : null });

  let finished = 0;
  let measurements: Measurements = {};
  let logTail = '';
  const outputs: JobOutput[] = [];
  for (let index = 0; index < passCount; index++) {
    const pass = plan.passes[index]!;
    const last = index === passCount - 1;
    let lastWrite = 0;
    const wanted = new Map(last ? plan.outputs.filter((o) => !plan.files.some((f) => f.file === o.file)).map((o) => [o.file, o]) : []);
    const run = await runRemote(engine, {
      args: pass.args,
      expectedDurationS: pass.expectedDurationS,
      timeoutMs: Math.max(1, deadline - deps.clock()),
      inputs: sources,
      signal,
      silenceMs: engine.silenceMs,
      onProgress: (progress) => {
        const now = deps.clock();
        if (now - lastWrite < PROGRESS_WRITE_MS) return;
        lastWrite = now;
        void renew(weighted(progress, finished, pass.weight)).catch((error: unknown) =>
          deps.log.warn('progress write failed', { job_id: job.id, error: String(error) }),
        );
      },
      onOutput: async ({ path, size, body }) => {
        const output = wanted.get(path);
        if (!output) {
          // Not a file of the plan (a measuring pass's, or a stray one): read past it.
          await body.pipeTo(new WritableStream());
          return;
        }
        if (outputs.length === 0) await renew({ stage: 'uploading' });
        const key = outputKey(job.id, job.attempts, output.name);
        uploaded.push(key);
        const stored = await deps.blobs.put(key, body, { contentType: output.contentType });
        if (stored.size !== size) throw new Error('an output was stored with another size than the engine sent');
        outputs.push({ name: output.name, key, size: stored.size, content_type: output.contentType, sha256: stored.sha256 });
        wanted.delete(path);
      },
    });
    finished += pass.weight;
    logTail = run.logTail;
    if (pass.kind === 'measure') {
      measurements = { ...measurements, ...measurementsFrom(run.logTail) };
      plan = planOrFail(request, probes, limits, measurements);
      if (plan.passes.length !== passCount) throw new Error('a plan changed its passes after measuring');
    }
    if (last && wanted.size > 0) {
      const missing = [...wanted.values()][0]!;
      throw new JobFailure('OUTPUT_MISSING', `ffmpeg did not produce ${missing.name}.`, false, logTail);
    }
  }

  await renew({ stage: 'uploading' });
  // Text outputs the planner made itself (a sprite's WebVTT index).
  for (const file of plan.files) {
    const output = plan.outputs.find((o) => o.file === file.file);
    if (!output) continue;
    const key = outputKey(job.id, job.attempts, output.name);
    uploaded.push(key);
    const stored = await deps.blobs.put(key, new Blob([file.text]).stream(), { contentType: output.contentType });
    outputs.push({ name: output.name, key, size: stored.size, content_type: output.contentType, sha256: stored.sha256 });
  }
  // In the plan's order, whatever order the engine sent them in.
  const order = plan.outputs.map((o) => o.name);
  outputs.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));

  const result: Record<string, unknown> = { input: probes[0], stream_copy: plan.streamCopy };
  if (probes.length > 1) result.inputs = probes;
  if (measurements.loudnorm) result.loudness = measurements.loudnorm;
  return { outputs, result, logTail };
}

function connect(deps: EdgeRunnerDeps, job: Job, name: EngineName): EdgeEngine {
  const engine = deps.engine(name, job);
  if (!engine) throw new JobFailure('ENGINE_UNAVAILABLE', `The ${name} engine is not available in this deployment.`, false);
  return engine;
}

/** Where to probe a job not routed yet: the wasm engine when the inputs fit in its memory, else native. */
function probeEngineFor(profiles: readonly EngineProfile[], inputBytes: number): EngineName {
  const wasm = profiles.find((p) => p.name === 'wasm');
  const fits = wasm && (wasm.memoryLimitBytes === null || inputBytes * 2 < wasm.memoryLimitBytes);
  if (fits || !profiles.some((p) => p.name === 'native')) return wasm ? 'wasm' : 'native';
  return 'native';
}

/** Routing with what the probe told, for a job whose plan could not be made at submission. */
function routeNow(plan: ConvertPlan, probe: ProbeResult, request: ConvertRequest, inputBytes: number, profiles: EngineProfile[]): EngineName {
  const forced = request.options?.engine && request.options.engine !== 'auto' ? request.options.engine : null;
  const route = routeJob(
    { requirements: plan.requirements, profile: profileOf({ plan, probe, request, inputBytes }), forced },
    profiles,
  );
  if (!route.ok) {
    const missing = route.missing.map((m) => m.reason).join(', ');
    throw new JobFailure(route.code, `No engine here can run this job${missing ? `: ${missing}` : ''}.`, false);
  }
  return route.engine;
}

/** An `upload:` input as a stream source; its size is known up front from the object. */
async function openInput(blobs: BlobStore, uri: string, file: string, limits: Limits): Promise<StreamInput> {
  let key: string;
  try {
    const location = parseInputUri(uri, ['upload']);
    if (location.kind !== 'upload') throw new Error('not an upload');
    key = location.key;
  } catch {
    throw new JobFailure('INPUT_NOT_FOUND', 'The input cannot be read here.', false);
  }
  const info = await blobs.head(key);
  if (!info) throw new JobFailure('INPUT_NOT_FOUND', 'The uploaded input no longer exists.', false);
  if (info.size > limits.inputBytes) throw inputTooLarge(limits.inputBytes);
  return {
    path: file,
    size: info.size,
    async open() {
      const blob = await blobs.get(key);
      if (!blob) throw new JobFailure('INPUT_NOT_FOUND', 'The uploaded input no longer exists.', false);
      return blob.body;
    },
  };
}

