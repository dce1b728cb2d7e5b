import { z } from '@hono/zod-openapi';
import { JOB_KINDS, JOB_STATUSES } from '../db/schema.js';
import { STAGES } from '../media/progress-types.js';
import { SORTS } from '../jobs/queries.js';
import { JobResultSchema } from './results.js';

export const ProgressSchema = z
  .object({
    percentage: z.number().min(0).max(100).nullable(),
    stage: z.enum(STAGES),
    fps: z.number().nullable(),
    speed: z.number().nullable(),
    out_time_s: z.number().nullable(),
    eta_s: z.number().nullable(),
  })
  .openapi('Progress');

export const OutputSchema = z
  .object({ name: z.string(), size: z.number().int(), content_type: z.string(), url: z.string() })
  .openapi('JobOutput');

export const JobSchema = z
  .object({
    id: z.string().uuid(),
    kind: z.enum(JOB_KINDS),
    status: z.enum(JOB_STATUSES),
    priority: z.number().int(),
    engine: z.string().nullable(),
    engine_reason: z.string().nullable().openapi({ description: 'Why routing chose the engine, or that options.engine forced it' }),
    progress: ProgressSchema,
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    outputs: z.array(OutputSchema).openapi({ description: 'Listed for as long as the job is; downloadable until outputs_removed says they are gone' }),
    outputs_expire_at: z.string().nullable().openapi({ description: 'When the retention sweep deletes the outputs' }),
    outputs_removed: z
      .object({ at: z.string(), reason: z.enum(['expired', 'deleted']) })
      .nullable()
      .openapi({ description: 'When and why the outputs’ files were deleted; null while they are stored' }),
    result: JobResultSchema,
    request: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    links: z.object({
      self: z.string(),
      events: z.string().openapi({ description: 'The job’s Server-Sent Events; needs the key in a header' }),
      events_url: z
        .string()
        .nullable()
        .openapi({ description: 'The same stream with a short-lived signed token in the URL, for EventSource in a browser (no header needed); null where the deployment has no link secret' }),
      logs: z.string(),
    }),
  })
  .openapi('Job');

export const JobIdParams = z.object({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: 'id', in: 'path' }, example: '01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c' }),
});

export const ListJobsQuery = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    kind: z.enum(JOB_KINDS).optional(),
    sort: z.enum(SORTS).default('-created_at'),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const JobListSchema = z
  .object({ items: z.array(JobSchema), next_cursor: z.string().nullable() })
  .openapi('JobList');

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string(),
    code: z.string(),
    errors: z
      .array(
        z.object({
          pointer: z.string().optional(),
          parameter: z.string().optional(),
          message: z.string(),
          allowed: z.array(z.union([z.string(), z.number()])).optional(),
          suggestion: z.union([z.string(), z.number()]).optional(),
        }),
      )
      .optional(),
  })
  .openapi('Problem');

const PROBLEM_DESCRIPTIONS = {
  400: 'The request is malformed or a field is invalid: `errors[]` points at each (VALIDATION_FAILED, BAD_REQUEST)',
  401: 'No API key, or one that is not valid (UNAUTHORIZED); comes with `WWW-Authenticate: Bearer`',
  403: 'The key lacks the scope this route needs (FORBIDDEN)',
  404: 'No such resource for this key (NOT_FOUND)',
  410: 'Gone: the files were deleted at the end of their retention, or on request (OUTPUT_EXPIRED, OUTPUT_DELETED); an unfinished resumable upload expired (UPLOAD_EXPIRED)',
  409: 'In conflict with the current state: a finished job, an idempotency key used for another request, a built-in preset, a resumable upload’s offset (OFFSET_MISMATCH)',
  412: 'A tus request without `Tus-Resumable: 1.0.0` (TUS_VERSION_UNSUPPORTED); `Tus-Version` says what is spoken',
  413: 'The body is larger than the limit (TOO_LARGE)',
  415: 'The body is not of a content type this route takes (UNSUPPORTED_MEDIA_TYPE)',
  422: 'Valid, but cannot be done: a codec the container cannot hold, a limit of the tier, an unsafe URL; `errors[]` says which field',
  429: 'Rate limited or at the concurrency quota (RATE_LIMITED, CONCURRENCY_LIMITED); `Retry-After` says when to try again',
  500: 'An error of the service; the `instance` is the request id to quote (INTERNAL)',
  503: 'A dependency is unavailable right now (UNAVAILABLE); `Retry-After` says when to try again',
  507: 'Blob storage is full; nothing was stored (STORAGE_FULL)',
} as const;

export type ProblemStatus = keyof typeof PROBLEM_DESCRIPTIONS;

const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' as const } } };

/**
 * The problem answers (RFC 9457, `application/problem+json`) of a route, by status. Each route lists the statuses
 * it can answer; the contract suite checks that every status a test sees is listed for its route.
 */
export function problemResponses<S extends ProblemStatus>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: PROBLEM_DESCRIPTIONS[status],
        ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  ) as unknown as Record<S, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }>;
}

/** What every route behind a key can answer. */
export const KEYED = [401, 403, 429, 500] as const;
/** What a route with a JSON body can answer besides. */
export const JSON_BODY = [400, 413, 415, 422] as const;

/** The 202 of a route that creates a job. */
export const acceptedResponse = {
  description: 'Accepted: the job is queued. `Location` is its URL; `Idempotent-Replayed: true` when an earlier request with the same Idempotency-Key made it',
  headers: { Location: { schema: { type: 'string' as const } } },
  content: { 'application/json': { schema: JobSchema } },
} as const;

/** The statuses of a route that creates a job from a JSON body. */
export const SUBMIT_PROBLEMS = [...KEYED, ...JSON_BODY, 409] as const;

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .max(255)
    .optional()
    .openapi({ description: 'Retries with the same key answer with the job the first request made (for 24 h), instead of making another', example: 'order-1234-thumbnail' }),
});
