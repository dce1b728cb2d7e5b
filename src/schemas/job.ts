import { z } from '@hono/zod-openapi';
import { JOB_KINDS, JOB_STATUSES } from '../db/schema.js';
import { STAGES } from '../media/progress-types.js';
import { SORTS } from '../jobs/queries.js';

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
    outputs: z.array(OutputSchema),
    result: z.record(z.string(), z.unknown()).nullable(),
    request: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    links: z.object({ self: z.string(), events: z.string(), logs: z.string() }),
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

/** The answers of a route that creates a job (the problem bodies besides: problemResponses). */
export const acceptedResponses = {
  202: {
    description: 'Accepted: the job is queued',
    headers: { Location: { schema: { type: 'string' as const } } },
    content: { 'application/json': { schema: JobSchema } },
  },
  409: { description: 'Idempotency key in use' },
  413: { description: 'Body too large' },
  422: { description: 'Cannot be processed' },
} as const;

export const problemResponses = {
  400: { description: 'Invalid request', content: { 'application/problem+json': { schema: ProblemSchema } } },
  401: { description: 'Missing or invalid API key', content: { 'application/problem+json': { schema: ProblemSchema } } },
  404: { description: 'Not found', content: { 'application/problem+json': { schema: ProblemSchema } } },
  429: { description: 'Rate or concurrency limited', content: { 'application/problem+json': { schema: ProblemSchema } } },
} as const;
