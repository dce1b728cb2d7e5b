/**
 * Transcoder: the Container class (`@cloudflare/containers`) that runs the native worker (container/, built by
 * container/Dockerfile) for heavy jobs. One instance per job attempt (idFromName(`${jobId}/${attempt}`)): a job
 * gets a container of its own, which the JobCoordinator stops when the attempt ends (`sleepAfter` is the backstop).
 *
 * The JobCoordinator talks to it with plain `fetch` through this object (the Container class starts the container,
 * waits for its port and proxies the request): the native worker's protocol, inputs in the request body, NDJSON
 * progress and the outputs in the response body. The container holds no storage credential; its only secret is
 * FFEDGE_WORKER_TOKEN, which the Durable Object sends with each request. Aborting the request closes the
 * connection to the container, which kills ffmpeg.
 *
 * `capabilities()` asks a container what its ffmpeg can do, once a day at most; the answer is kept in this object's
 * storage so that routing does not start a container to learn it again, and that container is stopped at once.
 *
 * Where there is no container runtime (tests in workerd, `wrangler dev` without Docker) and
 * FFEDGE_TRANSCODER_LOCAL_URL names a native worker on this machine, that worker stands in for the container
 * (durable-objects/host-container.ts). Everything from the caller's fetch to the container's HTTP API stays this
 * class's production path; only the socket at the end differs.
 */
import { Container } from '@cloudflare/containers';
import type { EngineCapabilities } from '../src/engine/engine.js';
import { withHostContainer } from './host-container.js';

/** The native worker's port inside the container (container/Dockerfile: PORT, EXPOSE). */
export const TRANSCODER_PORT = 8788;
const CAPABILITIES = 'capabilities';
const CAPABILITIES_TTL_MS = 24 * 3600_000;

/** Members of the library's Container that containerFetch below uses (present at run time, private in its types). */
interface ContainerInternals {
  requestAndPortFromContainerFetchArgs(
    requestOrUrl: Request | string | URL,
    portOrInit?: number | RequestInit,
    portParam?: number,
  ): { request: Request; port: number };
  inflightRequests: number;
  renewActivityTimeout(): void;
  decrementInflight(): void;
}

interface TranscoderEnv {
  FFEDGE_WORKER_TOKEN?: string;
  FFEDGE_TRANSCODER_LOCAL_URL?: string;
}

export class Transcoder extends Container<TranscoderEnv> {
  override defaultPort = TRANSCODER_PORT;
  override sleepAfter = '2m';
  // The native worker needs nothing from the internet: inputs and outputs travel in the HTTP exchange.
  override enableInternet = false;

  constructor(ctx: ConstructorParameters<typeof Container>[0], env: TranscoderEnv) {
    super(withHostContainer(ctx, env.FFEDGE_TRANSCODER_LOCAL_URL), env);
    this.envVars = {
      HOST: '0.0.0.0',
      PORT: String(TRANSCODER_PORT),
      FFEDGE_WORKER_TOKEN: env.FFEDGE_WORKER_TOKEN ?? '',
      FFEDGE_WORKER_SLOTS: '1',
    };
  }

  /**
   * The library's containerFetch for plain HTTP, with one fix. @cloudflare/containers 0.3.7 proxies a response body
   * with `pipeTo(...).finally(...)`, so when the caller stops reading it (a cancelled job) that pipe's rejection goes
   * unhandled. Here it is handled; start, port checks, activity and in-flight accounting are the library's own.
   * WebSocket upgrades still go through the library.
   */
  override async containerFetch(
    requestOrUrl: Request | string | URL,
    portOrInit?: number | RequestInit,
    portParam?: number,
  ): Promise<Response> {
    const library = this as unknown as ContainerInternals;
    const { request, port } = library.requestAndPortFromContainerFetchArgs(requestOrUrl, portOrInit, portParam);
    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') return super.containerFetch(request, port);
    const container = this.ctx.container!;
    if (!container.running || (await this.getState()).status !== 'healthy') {
      try {
        await this.startAndWaitForPorts(port, { abort: request.signal });
      } catch {
        // No instance available yet, rate limited, or the start failed: the caller may try again later.
        return new Response('the container could not be started', { status: 503 });
      }
    }
    library.inflightRequests++;
    try {
      library.renewActivityTimeout();
      const response = await container.getTcpPort(port).fetch(request.url.replace('https:', 'http:'), request);
      if (response.body === null) {
        library.decrementInflight();
        return response;
      }
      const { readable, writable } = new IdentityTransformStream();
      response.body
        .pipeTo(writable)
        .catch(() => undefined) // the caller stopped reading, or the container went away: the caller sees either
        .finally(() => library.decrementInflight());
      return new Response(readable, response);
    } catch {
      library.decrementInflight();
      return new Response('the container could not be reached', { status: 503 });
    }
  }

  /** What the container's ffmpeg encodes, decodes, filters and muxes; asked once a day at most. */
  async capabilities(): Promise<EngineCapabilities> {
    const kv = this.ctx.storage.kv;
    const cached = kv.get<{ at: number; value: EngineCapabilities }>(CAPABILITIES);
    if (cached && Date.now() - cached.at < CAPABILITIES_TTL_MS) return cached.value;
    const response = await this.containerFetch(
      new Request('http://transcoder/v1/capabilities', { headers: { authorization: `Bearer ${this.env.FFEDGE_WORKER_TOKEN ?? ''}` } }),
      TRANSCODER_PORT,
    );
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`transcoder capabilities: ${response.status}`);
    }
    const value = (await response.json()) as EngineCapabilities;
    if (!Array.isArray(value.encoders) || !Array.isArray(value.filters)) throw new Error('transcoder capabilities: unexpected answer');
    kv.put(CAPABILITIES, { at: Date.now(), value });
    // Started only to answer this: free the instance for jobs.
    await this.stop('SIGTERM');
    return value;
  }
}
