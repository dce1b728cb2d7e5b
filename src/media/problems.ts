/** What the planner reports instead of a plan: a code, a JSON pointer into the request and a message for people. */

export type PlanProblemCode =
  | 'INVALID_CODEC_FORMAT'
  | 'INVALID_OPTION'
  | 'INVALID_OPERATION'
  | 'INVALID_BITRATE'
  | 'INVALID_TRIM'
  | 'LIMIT_EXCEEDED'
  | 'NO_VIDEO_STREAM'
  | 'NO_AUDIO_STREAM'
  | 'UNSUPPORTED_INPUT'
  /** A streaming ladder that does not hold together: repeated rungs, mixed codecs. */
  | 'INVALID_LADDER';

export interface PlanProblem {
  code: PlanProblemCode;
  /** JSON pointer into the request body. */
  pointer: string;
  message: string;
  allowed?: (string | number)[];
  suggestion?: string;
}
