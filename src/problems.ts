/**
 * RFC 9457 problem details. Every error a client sees is built here, from a code and a safe message: no stack, no
 * server path and no upstream text ever reaches a response (audit #9).
 */
import type { ZodError } from 'zod';
import { itemsOf } from './issues.js';

export interface ProblemItem {
  /** JSON Pointer into the request body, e.g. `/output/video/codec`. */
  pointer?: string;
  /** Name of the query, path or header parameter at fault. */
  parameter?: string;
  message: string;
  allowed?: readonly (string | number)[];
  suggestion?: string | number;
}

/** A planner's finding (src/media/problems.ts has the codes). */
export interface PlanFinding {
  code: string;
  pointer: string;
  message: string;
  allowed?: (string | number)[];
  suggestion?: string;
}

export interface ProblemInit {
  status: number;
  code: string;
  title: string;
  detail?: string;
  errors?: ProblemItem[];
  headers?: Record<string, string>;
}

export class Problem extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: ProblemItem[] | undefined;
  readonly headers: Record<string, string>;

  constructor(init: ProblemInit) {
    super(init.detail ?? init.title);
    this.name = 'Problem';
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail;
    this.errors = init.errors;
    this.headers = init.headers ?? {};
  }

  toResponse(instance: string): Response {
    const body = {
      type: `https://ffedge.dev/problems/${this.code.toLowerCase().replaceAll('_', '-')}`,
      title: this.title,
      status: this.status,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      instance,
      code: this.code,
      ...(this.errors === undefined ? {} : { errors: this.errors }),
    };
    return new Response(JSON.stringify(body), {
      status: this.status,
      headers: { 'content-type': 'application/problem+json', 'x-request-id': instance, ...this.headers },
    });
  }
}

export const problems = {
  badRequest: (detail: string, errors?: ProblemItem[]) =>
    new Problem({ status: 400, code: 'BAD_REQUEST', title: 'Bad request', detail, errors }),
  validation: (errors: ProblemItem[], detail = 'The request is not valid.') =>
    new Problem({ status: 400, code: 'VALIDATION_FAILED', title: 'Validation failed', detail, errors }),
  unprocessable: (code: string, detail: string, errors?: ProblemItem[]) =>
    new Problem({ status: 422, code, title: 'Request cannot be processed', detail, errors }),
  /** What a planner found wrong (src/media), as one 422: the first problem's code and words, every one's pointer. */
  planned: (found: readonly PlanFinding[], detail = found[0]?.message ?? 'The request cannot be processed.') =>
    new Problem({
      status: 422,
      code: found[0]?.code ?? 'INVALID_REQUEST',
      title: 'Request cannot be processed',
      detail,
      errors: found.map(({ pointer, message, allowed, suggestion }) => ({ pointer, message, allowed, suggestion })),
    }),
  unauthorized: (detail = 'A valid API key is required.', headers: Record<string, string> = {}) =>
    new Problem({
      status: 401,
      code: 'UNAUTHORIZED',
      title: 'Unauthorized',
      detail,
      headers: { 'www-authenticate': 'Bearer realm="ffedge"', ...headers },
    }),
  forbidden: (detail: string) => new Problem({ status: 403, code: 'FORBIDDEN', title: 'Forbidden', detail }),
  linkRefused: (reason: 'invalid' | 'expired') =>
    reason === 'expired'
      ? new Problem({ status: 403, code: 'LINK_EXPIRED', title: 'Link expired', detail: 'This link has expired; GET the job (or its outputs) with the key for a fresh one.' })
      : new Problem({ status: 403, code: 'LINK_INVALID', title: 'Link not valid', detail: 'This link is not one this service signed for this file, or its key was revoked.' }),
  notFound: (detail = 'No such resource.') => new Problem({ status: 404, code: 'NOT_FOUND', title: 'Not found', detail }),
  methodNotAllowed: (allow: string[]) =>
    new Problem({
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
      title: 'Method not allowed',
      detail: `Allowed methods: ${allow.join(', ')}.`,
      headers: { allow: allow.join(', ') },
    }),
  outputsRemoved: (reason: 'expired' | 'deleted') =>
    new Problem({
      status: 410,
      code: reason === 'expired' ? 'OUTPUT_EXPIRED' : 'OUTPUT_DELETED',
      title: 'Gone',
      detail: reason === 'expired' ? 'The job’s outputs were deleted at the end of their retention.' : 'The job’s outputs were deleted on request.',
    }),
  conflict: (code: string, detail: string) => new Problem({ status: 409, code, title: 'Conflict', detail }),
  tooLarge: (limit: number) =>
    new Problem({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      title: 'Payload too large',
      detail: `The body exceeds the limit of ${limit} bytes.`,
      // The rest of the body is not read: the connection cannot carry another request.
      headers: { connection: 'close' },
    }),
  unsupportedMedia: (expected: string) =>
    new Problem({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      title: 'Unsupported media type',
      detail: `Send ${expected}.`,
    }),
  tooManyRequests: (code: string, detail: string, retryAfterS: number, headers: Record<string, string> = {}) =>
    new Problem({
      status: 429,
      code,
      title: 'Too many requests',
      detail,
      headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterS))), ...headers },
    }),
  internal: () =>
    new Problem({
      status: 500,
      code: 'INTERNAL',
      title: 'Internal error',
      detail: 'Something went wrong on our side. Quote the request id when you report it.',
    }),
  storageFull: () =>
    new Problem({
      status: 507,
      code: 'STORAGE_FULL',
      title: 'Insufficient storage',
      detail: 'The server has no room to store this right now; nothing was stored. Try again later.',
      // As for 413: the rest of the body is not read.
      headers: { connection: 'close' },
    }),
  unavailable: (detail: string) =>
    new Problem({ status: 503, code: 'UNAVAILABLE', title: 'Service unavailable', detail }),
};

/** RFC 6901 pointer for a zod issue path. */
export function toPointer(path: readonly PropertyKey[]): string {
  return path.map((p) => '/' + String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

/**
 * A 400 problem for a request that failed its schema. `input` is what was validated: enum and union items then carry
 * a suggestion next to their allowed values (src/issues.ts).
 */
export function fromZodError(error: ZodError, target: string, input?: unknown): Problem {
  const errors = itemsOf(error.issues, input).map(({ path, ...item }): ProblemItem =>
    target === 'json' ? { pointer: toPointer(path), ...item } : { parameter: path.map(String).join('.') || target, ...item },
  );
  return problems.validation(errors);
}
