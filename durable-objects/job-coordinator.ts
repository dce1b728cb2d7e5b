/**
 * JobCoordinator: one Durable Object per job (idFromName(jobId)), the Workers side of the Coordinator port.
 *
 * It fans "look again" out to every live follower of the job: `notify()` (RPC) sends one message to each open
 * subscription. A subscription is a WebSocket the object accepts in `fetch()`; the Worker-side Coordinator
 * (src/runtime/worker-coordinator.ts) turns its messages into `Subscription.next()`. The database remains the source
 * of truth: a message carries no state, so a lost one costs only a poll interval (the SSE loop re-reads the
 * database on a timer anyway).
 *
 * Why a WebSocket rather than a streaming Response: workerd does not tell the producer of a response body that its
 * reader cancelled until the producer next writes, so a follower who left would stay registered until the next
 * notification, which for a queued job may be never (audit #24). A WebSocket's close, or its connection dropping,
 * reaches the object at once. The sockets use the hibernation API, so an object with only idle followers can be
 * evicted from memory and still knows every subscriber (`ctx.getWebSockets()`) when a notify wakes it.
 */
import { DurableObject } from 'cloudflare:workers';

export const CHANGED = 'changed';

export class JobCoordinator extends DurableObject {
  /** Opens a subscription: a WebSocket upgrade, answered with the client end of a socket this object keeps. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('expected a WebSocket upgrade', { status: 426, headers: { upgrade: 'websocket' } });
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    // Registered before the Response returns: a notify after the caller's subscribe() resolved is never missed.
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Wakes every current subscriber of this job; answers how many there were. */
  async notify(): Promise<number> {
    const sockets = this.ctx.getWebSockets();
    for (const socket of sockets) {
      try {
        socket.send(CHANGED);
      } catch {
        // Closing already: the runtime drops it from getWebSockets() by itself.
      }
    }
    return sockets.length;
  }

  /** Open subscriptions, for tests and operators (audit #24). */
  async subscriberCount(): Promise<number> {
    return this.ctx.getWebSockets().length;
  }

  /** Subscribers only listen; anything they send is ignored. */
  override async webSocketMessage(): Promise<void> {}

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    // Complete the closing handshake (a dropped connection, 1006, has none to complete).
    try {
      socket.close(code === 1005 || code === 1006 ? 1000 : code, 'unsubscribed');
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    try {
      socket.close(1011, 'error');
    } catch {
      // Already closed.
    }
  }
}
