/**
 * `deno task start` (run from deno/, whose deno.json maps the npm packages): the service on Deno with the same
 * Platform as Node — libSQL file, local blobs, in-process pool, native ffmpeg — through Deno's node: compatibility
 * (the libSQL client's native addon loads under --allow-ffi). Deno.serve answers HTTP. Listens on HOST:PORT,
 * 127.0.0.1:8787 by default.
 */
import { createApp } from '../app.js';
import { createNodePlatform } from './node-platform.js';

/** The part of the Deno namespace this entry uses; typed here so the Node type check needs no Deno types. */
interface DenoApi {
  env: { toObject(): Record<string, string> };
  serve(
    options: { hostname: string; port: number; onListen?: (address: { hostname: string; port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string; port: number } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): never;
}

const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
const env = Deno.env.toObject();

const platform = await createNodePlatform({ env });
const app = createApp(platform);
const hostname = env.HOST ?? '127.0.0.1';
const port = Number(env.PORT ?? 8787);

// Deno's connection info becomes the Hono env, as hono/deno expects: the client address is its remoteAddr.
const server = Deno.serve({ hostname, port, onListen: (address) => {
  platform.log.info('ffedge listening', { url: `http://${address.hostname}:${address.port}`, runtime: 'deno', pool: platform.config.poolSize });
} }, (request, info) => app.fetch(request, info));
platform.pool.start();
// Discover what the engines can do now, not on the first readiness probe.
void platform.engines();

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  platform.log.info('shutting down', { signal });
  // As on Node: stop taking requests and jobs, let running jobs finish for the grace period, then requeue the rest.
  const closed = server.shutdown();
  await platform.close(Number(env.FFEDGE_SHUTDOWN_GRACE_MS ?? 25_000));
  await closed;
  Deno.exit(0);
}
Deno.addSignalListener('SIGTERM', () => void shutdown('SIGTERM'));
Deno.addSignalListener('SIGINT', () => void shutdown('SIGINT'));
