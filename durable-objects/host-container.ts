/**
 * A stand-in for workerd's container runtime (`ctx.container`) where there is none: the tests in workerd, and
 * `wrangler dev` on a machine without Docker. It forwards the container's ports to a native worker that is already
 * running on this machine (`npm run worker`), named by FFEDGE_TRANSCODER_LOCAL_URL.
 *
 * Only used when the runtime gave the Durable Object no container AND that variable is set, so a deployment (which
 * always has a container runtime) never takes this path. Everything above it is production code: the Transcoder
 * class, `Container.fetch` / `containerFetch` with its start and port checks, and the caller's requests.
 *
 * "start" cannot start the worker (it runs already, with its own token): it marks the container running, and
 * "destroy" marks it stopped. A request's abort, or its response body being cancelled, closes the connection to
 * the worker, just as with a real container.
 */

/** Loopback only: this is a development and test seam, never a way to send jobs to another host. */
function localOrigin(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error('FFEDGE_TRANSCODER_LOCAL_URL must be an http:// URL on 127.0.0.1, localhost or [::1]');
  }
  return parsed.origin;
}

export function hostContainer(url: string): Container {
  const origin = localOrigin(url);
  let running = false;
  let exited: (() => void) | null = null;
  let exit: Promise<void> = Promise.resolve();

  const stop = async () => {
    running = false;
    exited?.();
    exited = null;
  };

  const port: Fetcher = {
    fetch(input: RequestInfo | URL, init?: RequestInit) {
      const target = new URL(input instanceof Request ? input.url : String(input));
      return fetch(`${origin}${target.pathname}${target.search}`, init ?? (input instanceof Request ? input : undefined));
    },
    connect() {
      throw new Error('the host container has no raw sockets');
    },
  } as unknown as Fetcher;

  const unsupported = async () => {
    throw new Error('not supported by the host container');
  };

  return {
    get running() {
      return running;
    },
    start() {
      running = true;
      exit = new Promise<void>((resolve) => (exited = resolve));
    },
    monitor() {
      return exit;
    },
    destroy: stop,
    signal() {
      void stop();
    },
    getTcpPort() {
      return port;
    },
    async setInactivityTimeout() {},
    async interceptOutboundHttp() {},
    async interceptAllOutboundHttp() {},
    async interceptOutboundHttps() {},
    snapshotDirectory: unsupported,
    snapshotContainer: unsupported,
    exec: unsupported,
  } as unknown as Container;
}

/**
 * Gives the Durable Object state the host stand-in as its `container` when the runtime has none and `localUrl` is
 * set; otherwise leaves it as it is (and the Container class then says containers are not enabled). The state is
 * changed in place: the runtime only accepts its own state object.
 */
export function withHostContainer<State extends { container?: Container }>(ctx: State, localUrl: string | undefined): State {
  if (ctx.container !== undefined || !localUrl) return ctx;
  Object.defineProperty(ctx, 'container', { value: hostContainer(localUrl), configurable: false, enumerable: true });
  return ctx;
}
