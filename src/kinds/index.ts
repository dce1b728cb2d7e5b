/** Every job kind, by the name a job row carries. */
import type { JobKind } from '../db/schema.js';
import { analyzeKind } from './analyze.js';
import { convertKind } from './convert.js';
import type { Kind } from './kind.js';
import { probeKind } from './probe.js';
import { streamKind } from './stream.js';

export type { AttemptRecord, Kind, KindPlan, MadeOutput, Measurements, PassRecord } from './kind.js';

export const KINDS: { readonly [K in JobKind]: Kind<never> } = {
  convert: convertKind,
  probe: probeKind,
  stream: streamKind,
  analyze: analyzeKind,
};

/** The module of a job's kind, typed loosely: a stored request was validated by that kind when it was submitted. */
export function kindOf(name: JobKind): Kind<unknown> {
  return KINDS[name] as Kind<unknown>;
}
