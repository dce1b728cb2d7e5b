/**
 * Every answer outside 2xx becomes a FfedgeProblem: the server speaks RFC 9457 (application/problem+json, with
 * `code` and `errors`), and anything else (a proxy's HTML page, an empty 502) still gets a status and a code.
 */
import type { ProblemBody } from './types.js';

export type ProblemItem = NonNullable<ProblemBody['errors']>[number];

export class FfedgeProblem extends Error {
  readonly status: number;
  /** The server's code, e.g. `INVALID_CODEC_FORMAT`, or `HTTP_<status>` when the body was not a problem. */
  readonly code: string;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  /** The request id (also the `X-Request-Id` header): quote it when asking the operator. */
  readonly instance: string | undefined;
  readonly errors: ProblemItem[];
  /** Seconds the server asked to wait (429/503), if it said. */
  readonly retryAfter: number | undefined;

  constructor(status: number, body: unknown, headers?: Headers) {
    const problem = isProblem(body) ? body : undefined;
    super(problem ? `${problem.title}: ${problem.detail ?? problem.code}` : `HTTP ${status}`);
    this.name = 'FfedgeProblem';
    this.status = status;
    this.code = problem?.code ?? `HTTP_${status}`;
    this.type = problem?.type ?? 'about:blank';
    this.title = problem?.title ?? `HTTP ${status}`;
    this.detail = problem?.detail;
    this.instance = problem?.instance ?? headers?.get('x-request-id') ?? undefined;
    this.errors = problem?.errors ?? [];
    this.retryAfter = retryAfterSeconds(headers?.get('retry-after') ?? null);
  }
}

function isProblem(body: unknown): body is ProblemBody {
  return typeof body === 'object' && body !== null && typeof (body as ProblemBody).code === 'string' && typeof (body as ProblemBody).status === 'number';
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
