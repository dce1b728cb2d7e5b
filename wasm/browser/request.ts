/**
 * What the preview page makes of a request, with the server's own code: the request schema and preset merge
 * (src/schemas/convert.ts, src/media/presets.ts, as POST /convert applies them), the planner (src/media/plan.ts) and
 * the capability check of routing (src/media/routing.ts) against the wasm core. Pure: the page does the I/O.
 */
import type { Limits } from '../../src/config.js';
import { LIMIT_NAMES } from '../../src/limit-names.js';
import type { ProbeResult } from '../../src/engine/engine.js';
import { inputsOf, isPlanProblems, planConvert, planShape, type ConvertPlan, type PlanProblem, type PreviewCut } from '../../src/media/plan.js';
import { applyPreset } from '../../src/media/presets.js';
import { missingCapabilities, type Missing, type Requirements } from '../../src/media/routing.js';
import { ConvertBodySchema, ConvertRequestSchema, type ConvertRequest, type PresetBody } from '../../src/schemas/convert.js';
import { WASM_EXCLUDED } from '../capabilities.js';

/** The first seconds at a small size: enough to judge the result, quick in a single-threaded core. */
export const PREVIEW_CUT: PreviewCut = { durationS: 3, size: '360p' };

/** The input of a request before it is uploaded; replaced by the upload's URI when the job is submitted. */
export const LOCAL_INPUT = 'upload:preview-local-file';

export type Checked =
  | { ok: true; request: ConvertRequest; requirements: Requirements; cannot: Missing[] }
  | { ok: false; problems: { pointer: string; message: string }[] };

/**
 * The request the job would run (`body` merged with its preset, validated like POST /convert) and, from its plan
 * before any probe, what the browser's core cannot run, with the reasons. `listed` is the core's own listing when
 * known (the server's wasm engine or the page's core); before that only the known failures are named.
 */
export function checkRequest(body: unknown, preset: PresetBody | null, limits: Limits, listed: Requirements | null): Checked {
  const parsedBody = ConvertBodySchema.safeParse(body);
  if (!parsedBody.success) return { ok: false, problems: zodProblems(parsedBody.error.issues) };
  const merged = preset ? applyPreset(preset, parsedBody.data) : parsedBody.data;
  const parsed = ConvertRequestSchema.safeParse(merged);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error.issues) };
  const request = parsed.data;
  if (inputsOf(request).length > 1) {
    return { ok: false, problems: [{ pointer: '/operations', message: 'the preview converts the one file picked here; this request names other inputs' }] };
  }
  const shape = planShape(request, limits);
  if (isPlanProblems(shape)) return { ok: false, problems: shape.map(planProblem) };
  return { ok: true, request, requirements: shape.requirements, cannot: cannotRun(shape.requirements, listed) };
}

/** What the wasm core lacks for these requirements: its known failures first, then what its listing does not name. */
export function cannotRun(requirements: Requirements, listed: Requirements | null): Missing[] {
  const excludedOnly = missingCapabilities({ capabilities: allBut(requirements), excluded: WASM_EXCLUDED }, requirements);
  if (!listed) return excludedOnly;
  return missingCapabilities({ capabilities: listed, excluded: WASM_EXCLUDED }, requirements);
}

/** The job's plan for the probed input, cut for the preview. */
export function previewPlan(request: ConvertRequest, probe: ProbeResult, limits: Limits, measurements = {}): ConvertPlan | PlanProblem[] {
  return planConvert(request, probe, limits, measurements, PREVIEW_CUT);
}

/** The request as the server gets it: the picked file's upload in place of the local stand-in. */
export function forServer(body: Record<string, unknown>, uri: string): Record<string, unknown> {
  return { ...body, input: uri };
}

/** GET /capabilities names limits in snake_case (src/limit-names.ts); the planner takes the configuration's names. */
export function limitsFrom(view: Record<string, number>): Limits {
  const entries = (Object.keys(LIMIT_NAMES) as (keyof Limits)[]).map((name) => [name, view[LIMIT_NAMES[name]]]);
  return Object.fromEntries(entries) as Limits;
}

/** Every required name but the excluded ones, so that only the known failures count as missing. */
function allBut(requirements: Requirements): Requirements {
  const keep = (kind: string, names: readonly string[]) => names.filter((name) => !WASM_EXCLUDED.some((e) => e.kind === kind && e.name === name));
  return {
    encoders: keep('encoder', requirements.encoders),
    decoders: keep('decoder', requirements.decoders),
    filters: keep('filter', requirements.filters),
    muxers: keep('muxer', requirements.muxers),
  };
}

function planProblem(problem: PlanProblem): { pointer: string; message: string } {
  return { pointer: problem.pointer, message: problem.suggestion ? `${problem.message} (${problem.suggestion})` : problem.message };
}

function zodProblems(issues: readonly { path: readonly PropertyKey[]; message: string }[]): { pointer: string; message: string }[] {
  return issues.map((issue) => ({ pointer: '/' + issue.path.map(String).join('/'), message: issue.message }));
}
