/**
 * A fetch that retries 429 and 503 answers after the server's `Retry-After` (cockatiel's retry policy with a
 * backoff that reads the header). Both statuses mean the request was not acted on, so a POST is safe to repeat.
 * A wait longer than `maxDelayMs` is not waited for: the caller gets the 429/503 as a FfedgeProblem instead.
 */
import type { IRetryBackoffContext } from 'cockatiel';
import { retryAfterSeconds } from './problem.js';

export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0 turns retrying off). */
  retries: number;
  /** The longest Retry-After honoured (default 60 s). */
  maxDelayMs: number;
  /** The wait when the answer names none (default 1 s, doubling). */
  baseDelayMs: number;
}

type Fetch = (input: Request, init?: RequestInit) => Promise<Response>;

// Loaded on first use, not at import: cockatiel aborts an AbortController as its module loads, which workerd
// refuses at global scope (src/delivery/breakers.ts does the same).
let loading: Promise<typeof import('cockatiel')> | undefined;
const cockatiel = () => (loading ??= import('cockatiel'));

const RETRIED = new Set([429, 503]);

function waitMs(response: Response, attempt: number, options: RetryOptions): number {
  const seconds = retryAfterSeconds(response.headers.get('retry-after'));
  return seconds === undefined ? options.baseDelayMs * 2 ** (attempt - 1) : seconds * 1000;
}

export function retryingFetch(fetch: Fetch, options: RetryOptions): Fetch {
  if (options.retries <= 0) return fetch;
  return async (request, init) => {
    const { retry, handleWhenResult, DelegateBackoff } = await cockatiel();
    let attempt = 0;
    const policy = retry(
      handleWhenResult((r) => r instanceof Response && RETRIED.has(r.status) && waitMs(r, attempt, options) <= options.maxDelayMs),
      {
        maxAttempts: options.retries,
        backoff: new DelegateBackoff<IRetryBackoffContext<unknown>>((context) => {
          const response = (context.result as { value: Response }).value;
          // The refused answer is dropped: its connection goes back to the pool.
          void response.body?.cancel().catch(() => undefined);
          return waitMs(response, attempt, options);
        }),
      },
    );
    // A request body can be read once: every attempt sends a clone (a Blob body is re-read, not buffered twice).
    return policy.execute(() => {
      attempt += 1;
      return fetch(request.clone() as Request, init);
    }, request.signal);
  };
}
