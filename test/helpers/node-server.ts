/** Starts the real Node service (createNodePlatform + createApp) on 127.0.0.1 with a temp data dir. */
import { serve, type ServerType } from '@hono/node-server';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.js';
import { createNodePlatform, type NodePlatform } from '../../src/runtime/node-platform.js';
import { createKey, type Scope } from '../../src/security/api-keys.js';
import type { Logger } from '../../src/platform.js';

export interface TestServer {
  url: string;
  dir: string;
  platform: NodePlatform;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  key(scopes?: string[]): Promise<string>;
  /** Ends every open connection from the server's side, as a restart or a proxy's idle timeout would. */
  dropConnections(): void;
  close(): Promise<void>;
}

export const quietLog: Logger & { errors: string[] } = {
  errors: [],
  info: () => {},
  warn: () => {},
  error(message, fields) {
    this.errors.push(`${message} ${JSON.stringify(fields ?? {})}`);
  },
};

export async function startTestServer(env: Record<string, string> = {}, options: { start?: boolean } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ffedge-test-'));
  const platform = await createNodePlatform({
    env: {
      PATH: process.env.PATH,
      FFEDGE_DATA_DIR: join(dir, 'data'),
      FFEDGE_TMP_DIR: join(dir, 'tmp'),
      FFEDGE_RATE_LIMIT: '1000000',
      ...env,
    },
    log: quietLog,
  });
  const app = createApp(platform);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  if (options.start !== false) platform.pool.start();
  await platform.engines(); // as node.ts does at start: readiness then reports, not discovers

  return {
    url,
    dir,
    platform,
    fetch: (path, init) => fetch(url + path, init),
    async key(scopes) {
      return (await createKey(platform.db, { name: 'test', scopes: scopes as Scope[] | undefined, now: Date.now() })).key;
    },
    dropConnections() {
      (server as import('node:http').Server).closeAllConnections();
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await platform.close(5_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
