/**
 * The Coordinator port on Workers, over the JobCoordinator Durable Object (durable-objects/job-coordinator.ts).
 *
 * notify() is an RPC to the job's object. subscribe() opens a WebSocket to the object; every message means "the
 * job changed", so `next(timeoutMs)` resolves true when one arrived since the last call and false on timeout.
 * close() (or the caller's signal) closes the socket, which removes the subscriber inside the object at once
 * (audit #24).
 *
 * If the socket ends without close() (the object was reset or redeployed), next() answers true once, so the caller
 * re-reads the database, and the following call subscribes again.
 */
import type { Coordinator, Subscription } from '../platform.js';

type Namespace = Env['JOB_COORDINATOR'];

/** Never routed anywhere: a Durable Object's fetch gets whatever URL it is given; the path documents the call. */
const SUBSCRIBE_URL = 'https://job-coordinator.internal/subscribe';

function stubFor(namespace: Namespace, jobId: string) {
  return namespace.get(namespace.idFromName(jobId));
}

async function connect(namespace: Namespace, jobId: string): Promise<WebSocket> {
  const response = await stubFor(namespace, jobId).fetch(SUBSCRIBE_URL, { headers: { upgrade: 'websocket' } });
  const socket = response.webSocket;
  if (response.status !== 101 || !socket) {
    await response.body?.cancel();
    throw new Error(`job coordinator: subscribe answered ${response.status}`);
  }
  socket.accept();
  return socket;
}

export function createDurableCoordinator(namespace: Namespace): Coordinator {
  return {
    async notify(jobId) {
      await stubFor(namespace, jobId).notify();
    },

    async subscribe(jobId, signal): Promise<Subscription> {
      let socket: WebSocket | null = null;
      let changed = false;
      let closed = false;
      let wake: (() => void) | null = null;

      const signalChange = () => {
        changed = true;
        wake?.();
      };
      const attach = (opened: WebSocket) => {
        socket = opened;
        opened.addEventListener('message', signalChange);
        const ended = () => {
          if (socket !== opened) return;
          socket = null;
          signalChange(); // the stream of news broke: look again, then resubscribe
        };
        opened.addEventListener('close', ended);
        opened.addEventListener('error', ended);
      };
      const close = () => {
        if (closed) return;
        closed = true;
        signal.removeEventListener('abort', close);
        const current = socket;
        socket = null;
        try {
          current?.close(1000, 'unsubscribed');
        } catch {
          // Already closed.
        }
        wake?.();
      };

      attach(await connect(namespace, jobId));
      if (signal.aborted) close();
      else signal.addEventListener('abort', close, { once: true });

      return {
        async next(timeoutMs) {
          if (!changed && !closed && !socket) {
            // Resubscribe after a broken socket; if the object cannot be reached, just wait and let the caller poll.
            const reopened = await connect(namespace, jobId).catch(() => null);
            if (reopened && closed) reopened.close(1000, 'unsubscribed');
            else if (reopened) attach(reopened);
          }
          if (!changed && !closed) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(done, Math.max(0, timeoutMs));
              function done() {
                clearTimeout(timer);
                wake = null;
                resolve();
              }
              wake = done;
            });
          }
          const result = changed && !closed;
          changed = false;
          return result;
        },
        close,
      };
    },
  };
}
