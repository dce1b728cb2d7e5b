/**
 * A job's events as an async iterator that survives disconnects: when the stream drops before `done` (a proxy's
 * idle timeout, a deploy, a network change), it reconnects with the id of the last event it saw in `Last-Event-ID`,
 * so the server resumes after it: nothing is seen twice and nothing is lost.
 */
import { readSse } from './sse.js';
import type { Job, Progress } from './types.js';

export type JobEvent =
  | { type: 'status'; id: string | undefined; data: { status: Job['status']; [field: string]: unknown } }
  | { type: 'progress'; id: string | undefined; data: Progress }
  | { type: 'done'; id: string | undefined; data: Job };

export interface EventsOptions {
  /** Resume after this event id (what a previous iterator last saw). */
  lastEventId?: string;
  signal?: AbortSignal;
  /** Reconnections in a row without an event before giving up (default 8). */
  maxReconnects?: number;
}

type Open = (lastEventId: string | undefined, signal: AbortSignal | undefined) => Promise<ReadableStream<Uint8Array>>;

const KNOWN = new Set(['status', 'progress', 'done']);

export async function* followEvents(open: Open, options: EventsOptions = {}): AsyncGenerator<JobEvent> {
  const { signal, maxReconnects = 8 } = options;
  let lastEventId = options.lastEventId;
  let failures = 0;
  for (;;) {
    signal?.throwIfAborted();
    try {
      // A problem answer (401, 404) is thrown from open() and ends the iteration: reconnecting cannot fix it.
      const body = await open(lastEventId, signal);
      for await (const message of readSse(body)) {
        failures = 0;
        if (message.id !== undefined) lastEventId = message.id;
        if (!KNOWN.has(message.event)) continue;
        const event = { type: message.event, id: message.id, data: JSON.parse(message.data) } as JobEvent;
        yield event;
        if (event.type === 'done') return;
      }
    } catch (error) {
      if (signal?.aborted || !isDisconnect(error)) throw error;
    }
    failures += 1;
    if (failures > maxReconnects) throw new Error(`the event stream dropped ${failures} times in a row`);
    await sleep(Math.min(250 * 2 ** (failures - 1), 5_000), signal);
  }
}

/** A dropped connection (fetch's TypeError, a body that errors mid-read), not an answer or a bug. */
function isDisconnect(error: unknown): boolean {
  return error instanceof TypeError || (error instanceof Error && /terminated|socket|network|ECONNRESET|aborted/i.test(error.message));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
