/**
 * `npm start`: the service on Node with its embedded defaults (libSQL file ./data/ffedge.db, blobs in ./data/blobs,
 * native ffmpeg from FFMPEG_PATH or PATH). Listens on HOST:PORT, 127.0.0.1:8787 by default.
 */
import { serve } from '@hono/node-server';
import { createApp } from '../app.js';
import { createNodePlatform } from './node-platform.js';

const platform = await createNodePlatform();
const app = createApp(platform);
const hostname = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8787);

const server = serve({ fetch: app.fetch, hostname, port }, (info) => {
  platform.log.info('ffedge listening', { url: `http://${info.address}:${info.port}`, pool: platform.config.poolSize });
});
platform.pool.start();
// Discover what the engines can do now, not on the first readiness probe.
void platform.engines();

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  platform.log.info('shutting down', { signal });
  // Stop taking requests and jobs; running jobs get a grace period, then go back to the queue for another instance.
  server.close();
  await platform.close(Number(process.env.FFEDGE_SHUTDOWN_GRACE_MS ?? 25_000));
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
