/**
 * Engine routing at submission: the request is planned by its kind against assumed probes (every input has a video
 * and an audio stream of unknown codec and size, as validation assumes), which gives the encoders, filters and
 * muxers it needs; the inputs' sizes come from their uploads. src/media/routing.ts picks the engine; a job no engine can run
 * is refused here with 422, naming what is missing, before anything is stored (audit #13).
 */
import type { Context } from 'hono';
import { and, eq, inArray } from 'drizzle-orm';
import type { Limits } from '../config.js';
import { uploads } from '../db/schema.js';
import type { ProbeResult } from '../engine/engine.js';
import type { Kind, KindPlan } from '../kinds/index.js';
import { encoderKind, profileOf, type EngineName } from '../media/estimate.js';
import { routeJob, type Missing, type Route } from '../media/routing.js';
import { problems, type ProblemItem } from '../problems.js';
import { parseInputUri } from '../storage/uri.js';
import type { AppEnv } from './env.js';

/** What validation assumes before the probe: a video and an audio stream, codecs and sizes unknown. */
export const ASSUMED_PROBE: ProbeResult = {
  format: null,
  duration_s: null,
  size: null,
  bit_rate: null,
  streams: [
    { index: 0, type: 'video', codec: null },
    { index: 1, type: 'audio', codec: null },
  ],
};

export interface Routed {
  /** The engine the job runs on; null when it is chosen when the job runs (no routing on this platform). */
  engine: EngineName | null;
  reason: string | null;
}

/** The total size of a request's uploaded inputs; null when some input's size is not known here. */
export async function inputBytesOf(c: Context<AppEnv>, inputs: readonly { uri: string }[]): Promise<number | null> {
  return uploadBytesOf(c, inputs.map((input) => input.uri));
}

/** The total size of uploads of this key named by URI; null when some input is not an upload of the key. */
export async function uploadBytesOf(c: Context<AppEnv>, uris: readonly string[]): Promise<number | null> {
  const ids: string[] = [];
  for (const uri of uris) {
    try {
      const location = parseInputUri(uri, ['upload', 'local']);
      if (location.kind !== 'upload') return null;
      ids.push(location.id);
    } catch {
      return null;
    }
  }
  const { platform, apiKey } = c.var;
  const rows = await platform.db
    .select({ id: uploads.id, size: uploads.size })
    .from(uploads)
    .where(and(eq(uploads.apiKeyId, apiKey.id), inArray(uploads.id, ids)))
    .all();
  if (rows.length !== new Set(ids).size) return null;
  return rows.reduce((sum, row) => sum + row.size, 0);
}

/** A request's plan against assumed probes, for routing and estimates; null when it needs the real probes. */
export function planAssumed<R, P extends KindPlan>(kind: Kind<R, P>, request: R, limits: Limits): P | null {
  const plan = kind.plan(request, kind.inputs(request).map(() => ASSUMED_PROBE), limits, {});
  return Array.isArray(plan) ? null : plan;
}

/**
 * The engine of a job of any kind, chosen at submission from the plan its request makes against assumed probes;
 * a kind whose plan needs the probe to say more is routed by its attempt instead (engine null).
 */
export async function chooseEngine<R>(c: Context<AppEnv>, kind: Kind<R, KindPlan>, request: R, limits: Limits): Promise<Routed> {
  const forced = kind.forcedEngine(request);
  const { platform } = c.var;
  const unrouted = { engine: forced, reason: forced ? 'forced by options.engine' : null };
  if (!platform.routing) return unrouted;
  const inputs = kind.inputs(request);
  const plan = planAssumed(kind, request, limits);
  if (!plan) return unrouted;
  const engines = await platform.routing();
  const profile = profileOf({ plan, probe: null, request, inputBytes: await inputBytesOf(c, inputs) });
  const route = routeJob({ requirements: plan.requirements, profile, forced }, engines);
  if (!route.ok) throw routeProblem(route, { pointer: (missing) => kind.routeHints?.pointer?.(missing, request), suggestions: kind.routeHints?.suggestions });
  return { engine: route.engine, reason: route.reason };
}

/** Better choices for what the wasm engine lists but cannot do. */
const SUGGESTIONS: Readonly<Record<string, string>> = {
  'libvpx-vp9': 'use video codec vp8, or an engine with VP9',
  libx265: 'use video codec h264, or an engine with H.265',
};

/**
 * The 422 of a route no engine can take. Another kind passes where in its request a missing capability comes from,
 * and its own suggestions.
 */
export function routeProblem(
  route: Extract<Route, { ok: false }>,
  kind: { pointer?: (missing: Missing) => string | undefined; suggestions?: Readonly<Record<string, string>> } = {},
) {
  const suggestions = { ...SUGGESTIONS, ...kind.suggestions };
  const items: ProblemItem[] = route.missing.map((missing) => ({
    pointer: missing.kind === 'engine' ? '/options/engine' : (kind.pointer?.(missing) ?? pointerOf(missing)),
    message: missing.reason,
    ...(missing.kind === 'engine' ? { allowed: route.available } : {}),
    ...(suggestions[missing.name] ? { suggestion: suggestions[missing.name] } : {}),
  }));
  return problems.unprocessable(route.code, `${capitalised(route.message)}.`, items);
}

/** Where in the request the missing capability comes from. */
function pointerOf(missing: Missing): string {
  if (missing.kind === 'engine') return '/options/engine';
  if (missing.kind === 'memory' || missing.kind === 'decoder') return '/input';
  if (missing.kind === 'filter') return '/operations';
  if (missing.kind === 'muxer') return '/output';
  // An encoder: the codec the output asked for (or its format's default).
  return encoderKind(missing.name) === 'audio' ? '/output/audio/codec' : '/output/video/codec';
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
