/**
 * The `convert` kind: one input (plus watermark images and concat parts) through the operations into one output
 * format. The plan is the planner's (src/media/plan.ts); a two-pass job measures first (loudnorm, vid.stab) and is
 * planned again with what the measuring run's log said.
 */
import { inputsOf, isPlanProblems, measurementsFrom, planConvert, validateConvert, type Measurements as ConvertMeasurements } from '../media/plan.js';
import type { ConvertRequest } from '../schemas/convert.js';
import type { Kind } from './kind.js';

export const convertKind: Kind<ConvertRequest> = {
  name: 'convert',
  inputs: (request) => inputsOf(request),
  validate: (request, limits) => validateConvert(request, limits),
  plan(request, probes, limits, measurements) {
    const plan = planConvert(request, probes, limits, measurements as ConvertMeasurements);
    if (isPlanProblems(plan)) return plan;
    return { ...plan, dirs: [], collect: [] };
  },
  measure: ({ logTail }) => ({ ...measurementsFrom(logTail) }),
  result({ probes, plan, measurements }) {
    const result: Record<string, unknown> = { input: probes[0], stream_copy: plan.streamCopy };
    if (probes.length > 1) result.inputs = probes;
    const { loudnorm } = measurements as ConvertMeasurements;
    if (loudnorm) result.loudness = loudnorm;
    return result;
  },
  forcedEngine: (request) => (request.options?.engine && request.options.engine !== 'auto' ? request.options.engine : null),
};
