/**
 * When a failed delivery is tried again: exponential backoff with full jitter (a random delay in
 * [0, min(cap, base x 2^(n-1))) before retry n, as in AWS's "Exponential Backoff And Jitter"), up to the configured number of attempts. With the defaults (8
 * attempts, 30 min base, 12 h cap) the bounds are 30 min, 1 h, 2 h, 4 h, 8 h, 12 h, 12 h: a delivery gives up about a
 * day after its event on average (39.5 h at the latest). Full jitter spreads the retries of many deliveries that
 * failed together (a receiver that was down) instead of sending them back in waves.
 */
export interface RetrySchedule {
  maxAttempts: number;
  baseMs: number;
  capMs: number;
}

/** The most a wait before retry `retry` (1 for the first) can be. */
export function retryBoundMs(schedule: RetrySchedule, retry: number): number {
  return Math.min(schedule.capMs, schedule.baseMs * 2 ** Math.max(0, retry - 1));
}

/** The wait before the next attempt after `attempts` failed ones; null when that was the last. */
export function nextRetryDelayMs(schedule: RetrySchedule, attempts: number): number | null {
  if (attempts >= schedule.maxAttempts) return null;
  return Math.floor(Math.random() * retryBoundMs(schedule, attempts));
}
