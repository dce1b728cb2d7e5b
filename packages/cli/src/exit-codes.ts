/**
 * What the exit status says, for scripts (documented in README.md and `ffedge --help`):
 *   0 done (the job completed, or the command did what it said)
 *   1 the job failed or was cancelled
 *   2 usage: bad arguments, or a request the server refused as invalid (400, 409, 413, 415, 422)
 *   3 auth: no key, or the key was refused (401, 403)
 *   4 not found: a job, an output or a local file (404)
 *   5 server or network: 5xx, 429 after the retries, the server unreachable
 * 130 interrupted (Ctrl-C); the job goes on on the server
 */
import { FfedgeProblem } from '@ffedge/client';

export const EXIT = { done: 0, jobFailed: 1, usage: 2, auth: 3, notFound: 4, server: 5, interrupted: 130 } as const;

export const EXIT_HELP = `Exit codes:
  0    done (the job completed, or the command did what it said)
  1    the job failed or was cancelled
  2    usage: bad arguments, or the server refused the request as invalid (400, 409, 413, 415, 422)
  3    auth: no key, or the key was refused (401, 403)
  4    not found: a job, an output or a local file (404)
  5    server or network: 5xx, 429 after retries, the server unreachable
  130  interrupted (Ctrl-C); the job goes on on the server`;

/** A mistake in the command line itself, found before anything is sent. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** No key to send: the same answer a refused key gets. */
export class MissingKeyError extends Error {
  override name = 'MissingKeyError';
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof MissingKeyError) return EXIT.auth;
  if (error instanceof FfedgeProblem) {
    if (error.status === 401 || error.status === 403) return EXIT.auth;
    if (error.status === 404) return EXIT.notFound;
    if (error.status >= 400 && error.status < 500 && error.status !== 429) return EXIT.usage;
    return EXIT.server;
  }
  if ((error as NodeJS.ErrnoException)?.code === 'ENOENT') return EXIT.notFound;
  if (error instanceof Error && error.name === 'AbortError') return EXIT.interrupted;
  return EXIT.server;
}

export function jobExitCode(status: string): number {
  return status === 'completed' ? EXIT.done : EXIT.jobFailed;
}
