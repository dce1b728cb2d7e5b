/**
 * The inputs of a convert request: the main input, watermark images and concat parts, each a storage URI with the
 * JSON pointer it came from and the file name it gets in the job's temp dir (`input`, `input1`, ...). Submission
 * checks every one of them (src/api/submit.ts); the runner fetches and probes every one, in this order, and hands
 * the probes to the planner in the same order. A URI named twice is fetched once.
 */
import type { Operation } from '../schemas/operations.js';

export interface PlanInput {
  pointer: string;
  uri: string;
  /** File name inside the job's temp dir; also ffmpeg's input index order. */
  file: string;
}

export const INPUT_FILE = 'input';

export function inputsOf(request: { input: string; operations?: readonly Operation[] | undefined }): PlanInput[] {
  const found: { pointer: string; uri: string }[] = [{ pointer: '/input', uri: request.input }];
  (request.operations ?? []).forEach((op, i) => {
    if (op.type === 'watermark') found.push({ pointer: `/operations/${i}/image`, uri: op.image });
    if (op.type === 'concat') op.inputs.forEach((uri, j) => found.push({ pointer: `/operations/${i}/inputs/${j}`, uri }));
  });
  const seen = new Set<string>();
  const inputs: PlanInput[] = [];
  for (const input of found) {
    if (seen.has(input.uri)) continue;
    seen.add(input.uri);
    inputs.push({ ...input, file: inputs.length === 0 ? INPUT_FILE : `${INPUT_FILE}${inputs.length}` });
  }
  return inputs;
}
