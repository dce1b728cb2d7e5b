/**
 * The `probe` kind: ffprobe of one input; the probe is the result, and nothing runs after it.
 */
import { INPUT_FILE } from '../media/plan.js';
import type { ProbeRequest } from '../schemas/convert.js';
import type { Kind } from './kind.js';

export const probeKind: Kind<ProbeRequest> = {
  name: 'probe',
  inputs: (request) => [{ pointer: '/input', uri: request.input, file: INPUT_FILE }],
  validate: () => [],
  plan: () => ({
    passes: [],
    outputs: [],
    files: [],
    dirs: [],
    collect: [],
    requirements: { encoders: [], decoders: [], filters: [], muxers: [] },
    args: [],
    streamCopy: false,
    expectedDurationS: null,
  }),
  measure: () => ({}),
  result: ({ probes }) => ({ ...probes[0]! }),
  forcedEngine: () => null,
};
