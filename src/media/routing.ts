/**
 * Engine routing (DESIGN.md, "Engines and routing"): among the engines that can run every encoder, decoder, filter
 * and muxer of a plan within their memory limit, the one with the least expected completion time, that is its
 * start-up cost plus the job's work at the speed the estimate model gives for it. `options.engine` may force an
 * engine, which must still be able to run the job. Pure: the engines are described by the caller.
 *
 * On Node with native ffmpeg that is native nearly always (it starts in milliseconds and runs several times
 * faster); on Workers, where native ffmpeg is a container that takes seconds to start, wasm wins small jobs; where
 * there is no native ffmpeg, wasm runs what it can and the rest is refused with the capability it lacks.
 */
import {
  expectedMemoryBytes,
  expectedWorkMs,
  withAssumptions,
  type EngineName,
  type JobProfile,
  type SpeedModel,
} from './estimate.js';

export type CapabilityKind = 'encoder' | 'decoder' | 'filter' | 'muxer';

export interface Requirements {
  encoders: readonly string[];
  decoders: readonly string[];
  filters: readonly string[];
  muxers: readonly string[];
}

export interface EngineProfile {
  name: EngineName;
  capabilities: Requirements;
  /** Names the engine lists but cannot really run, with the reason (the wasm core's known failures). */
  excluded?: readonly { kind: CapabilityKind; name: string; reason: string }[];
  /** What one job may use; null when the engine streams from disk and has no cap of its own. */
  memoryLimitBytes: number | null;
  /** Expected time before the engine can start a job: a warm instance, a process spawn, a container boot. */
  startupMs: number;
  speed: SpeedModel;
}

/** Something an engine lacks for a job. */
export interface Missing {
  kind: CapabilityKind | 'memory' | 'engine';
  name: string;
  /** Safe to show a client. */
  reason: string;
}

export interface Candidate {
  engine: EngineName;
  capable: boolean;
  missing: Missing[];
  /** Start-up plus work, in milliseconds. */
  expectedMs: number;
  memoryBytes: number;
}

export type Route =
  | { ok: true; engine: EngineName; reason: string; expectedMs: number; candidates: Candidate[] }
  | {
      ok: false;
      /** ENGINE_UNAVAILABLE: the forced engine is not here; ENGINE_INCAPABLE: no (forced) engine can run the job. */
      code: 'ENGINE_UNAVAILABLE' | 'ENGINE_INCAPABLE';
      message: string;
      /** What the engines lack; for a forced engine, what it lacks. */
      missing: Missing[];
      /** The engines available, for `allowed` in the problem. */
      available: EngineName[];
      candidates: Candidate[];
    };

export interface RouteRequest {
  requirements: Requirements;
  profile: JobProfile;
  /** options.engine; null or undefined for automatic. */
  forced?: EngineName | null;
}

/** When even the input size is unknown, jobs are compared as if they lasted this long. */
const UNKNOWN_DURATION_S = 60;

/**
 * Another engine is taken over a capable native one only when it is expected to finish clearly sooner: by this
 * share of native's time and at least MIN_GAIN_MS. Below that the model cannot tell them apart (tiny jobs: a
 * process start against a thread start), and native has what the model does not count: no memory cap, a process
 * per job, as many at once as the pool runs.
 */
export const MIN_GAIN_SHARE = 0.25;
export const MIN_GAIN_MS = 250;

const KINDS: readonly [keyof Requirements, CapabilityKind][] = [
  ['encoders', 'encoder'],
  ['decoders', 'decoder'],
  ['filters', 'filter'],
  ['muxers', 'muxer'],
];

export function routeJob(request: RouteRequest, engines: readonly EngineProfile[]): Route {
  const profile = assumeWhatIsUnknown(request.profile);
  const candidates = engines.map((engine) => assess(engine, request.requirements, profile));
  const available = engines.map((engine) => engine.name);
  const forced = request.forced ?? null;

  if (forced) {
    const candidate = candidates.find((c) => c.engine === forced);
    if (!candidate) {
      return {
        ok: false,
        code: 'ENGINE_UNAVAILABLE',
        message: `engine ${forced} is not available here`,
        missing: [{ kind: 'engine', name: forced, reason: `${forced} is not available here` }],
        available,
        candidates,
      };
    }
    if (!candidate.capable) {
      return {
        ok: false,
        code: 'ENGINE_INCAPABLE',
        message: `engine ${forced} cannot run this job: ${describe(candidate.missing)}`,
        missing: candidate.missing,
        available,
        candidates,
      };
    }
    return { ok: true, engine: forced, reason: `forced by options.engine (${seconds(candidate.expectedMs)} expected)`, expectedMs: candidate.expectedMs, candidates };
  }

  const capable = candidates.filter((c) => c.capable).sort((a, b) => a.expectedMs - b.expectedMs || order(a) - order(b));
  const fastest = capable[0];
  const native = capable.find((c) => c.engine === 'native');
  const clearlyFaster = (c: Candidate, than: Candidate) =>
    than.expectedMs - c.expectedMs >= Math.max(MIN_GAIN_MS, than.expectedMs * MIN_GAIN_SHARE);
  const best = fastest && native && fastest !== native && !clearlyFaster(fastest, native) ? native : fastest;
  if (!best) {
    const missing = candidates.flatMap((c) => c.missing);
    const message =
      candidates.length === 0
        ? 'no engine is available to run this job'
        : `no engine can run this job: ${candidates.map((c) => `${c.engine}: ${describe(c.missing)}`).join('; ')}`;
    return { ok: false, code: 'ENGINE_INCAPABLE', message, missing, available, candidates };
  }
  const others = candidates.filter((c) => c !== best);
  const reason =
    capable.length === 1
      ? `the only engine that can run this job (${others.map((c) => `${c.engine}: ${describe(c.missing)}`).join('; ') || 'no other engine here'})`
      : best !== fastest
        ? `preferred: ${fastest!.engine} is not clearly faster (${seconds(fastest!.expectedMs)} against ${seconds(best.expectedMs)})`
        : `least expected time: ${seconds(best.expectedMs)} against ${capable
            .slice(1)
            .map((c) => `${c.engine} ${seconds(c.expectedMs)}`)
            .join(', ')}`;
  return { ok: true, engine: best.engine, reason, expectedMs: best.expectedMs, candidates };
}

/**
 * The encoders, decoders, filters and muxers of `requirements` an engine lacks, each with the reason (its known
 * failure when it lists the name but cannot run it). Also what the browser preview checks before it starts.
 */
export function missingCapabilities(engine: Pick<EngineProfile, 'capabilities' | 'excluded'>, requirements: Requirements): Missing[] {
  const missing: Missing[] = [];
  for (const [key, kind] of KINDS) {
    const has = new Set(engine.capabilities[key]);
    for (const name of new Set(requirements[key])) {
      if (has.has(name)) continue;
      const excluded = engine.excluded?.find((e) => e.kind === kind && e.name === name);
      missing.push({ kind, name, reason: excluded ? `no working ${kind} ${name} (${excluded.reason})` : `no ${kind} ${name}` });
    }
  }
  return missing;
}

function assess(engine: EngineProfile, requirements: Requirements, profile: JobProfile): Candidate {
  const missing = missingCapabilities(engine, requirements);
  const memoryBytes = engine.memoryLimitBytes === null ? 0 : expectedMemoryBytes(profile);
  if (engine.memoryLimitBytes !== null && memoryBytes > engine.memoryLimitBytes) {
    missing.push({
      kind: 'memory',
      name: 'memory',
      reason: `needs about ${mib(memoryBytes)} MiB of memory, more than the ${mib(engine.memoryLimitBytes)} MiB ${engine.name} may use`,
    });
  }
  const workMs = expectedWorkMs(engine.speed, profile) ?? engine.speed.runOverheadMs;
  return { engine: engine.name, capable: missing.length === 0, missing, expectedMs: Math.round(engine.startupMs + workMs), memoryBytes };
}

function assumeWhatIsUnknown(profile: JobProfile): JobProfile {
  const assumed = withAssumptions(profile);
  if (assumed.durationS !== null) return assumed;
  return { ...assumed, durationS: UNKNOWN_DURATION_S, inputDurationS: assumed.inputDurationS ?? UNKNOWN_DURATION_S };
}

/** Ties go to native: it has no memory cap and streams from disk. */
function order(candidate: Candidate): number {
  return candidate.engine === 'native' ? 0 : 1;
}

function describe(missing: readonly Missing[]): string {
  return missing.map((m) => m.reason).join(', ');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 0)} s`;
}

function mib(bytes: number): number {
  return Math.ceil(bytes / 1024 ** 2);
}
