/** The servers the SDK suite talks to: one with a pool and real ffmpeg, one rate-limited; and the clip, on disk. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import type { SdkTarget } from './suite.js';

export interface SdkServers {
  target: SdkTarget;
  server: TestServer;
  dir: string;
  clipPath: string;
  close(): Promise<void>;
}

export async function startSdkServers(): Promise<SdkServers> {
  const dir = await mkdtemp(join(tmpdir(), 'ffedge-sdk-'));
  const [server, limited] = await Promise.all([
    startTestServer(),
    startTestServer({ FFEDGE_RATE_LIMIT: '3', FFEDGE_RATE_WINDOW_S: '3', FFEDGE_POOL_SIZE: '0' }, { start: false }),
  ]);
  const clipPath = join(dir, 'clip.mp4');
  await makeClip(clipPath);
  return {
    target: {
      baseUrl: server.url,
      key: await server.key(),
      limited: { baseUrl: limited.url, key: await limited.key() },
      clip: new Uint8Array(await readFile(clipPath)),
    },
    server,
    dir,
    clipPath,
    async close() {
      await Promise.all([server.close(), limited.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
