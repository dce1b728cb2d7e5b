import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { storedUploads } from '../helpers/stored.js';
import { contractSuite } from './suite.js';

let server: TestServer;

beforeAll(async () => {
  // No pool: jobs stay where the API put them, as they do in workerd until a consumer runs them.
  server = await startTestServer({ FFEDGE_POOL_SIZE: '0', FFEDGE_UPLOAD_LIMIT: String(1024 * 1024) }, { start: false });
});
afterAll(async () => server?.close());

contractSuite('node', () => ({
  fetch: (path, init) => server.fetch(path, init),
  key: (scopes) => server.key(scopes),
  concurrentJobs: server.platform.config.limits.concurrentJobs,
  uploadBytes: server.platform.config.limits.uploadBytes,
  stored: () => storedUploads(server.platform.db, join(server.dir, 'data', 'blobs')),
}));
