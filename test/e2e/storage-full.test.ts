/** An upload into a blob store whose disk is full: a 507 that says so, and nothing half-written left behind. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { uploads } from '../../src/db/schema.js';
import { canMountSmallFs, mountSmallFs } from '../helpers/full-fs.js';
import { startTestServer } from '../helpers/node-server.js';

// A real full file system (a 512 KiB tmpfs as FFEDGE_BLOB_DIR) needs a mount, which only root may do here.
const smallFs = await canMountSmallFs();

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('uploads into a full blob store', () => {
  it.skipIf(!smallFs)('answers 507 STORAGE_FULL, stores nothing, and takes uploads again once there is room', async () => {
    const small = (await mountSmallFs(512 * 1024))!;
    const server = await startTestServer({ FFEDGE_POOL_SIZE: '0', FFEDGE_BLOB_DIR: small.dir }, { start: false });
    try {
      const key = await server.key();
      const upload = (bytes: number) =>
        server.fetch('/api/v1/uploads?filename=clip.mp4', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'video/mp4' },
          body: new Uint8Array(bytes).fill(7),
        });

      const res = await upload(2 * 1024 * 1024);
      expect(res.status).toBe(507);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = (await res.json()) as { code: string; title: string; detail: string; instance: string };
      expect(body).toMatchObject({ status: 507, code: 'STORAGE_FULL', title: 'Insufficient storage' });
      expect(body.detail).toMatch(/no room to store/);
      expect(JSON.stringify(body)).not.toMatch(/ENOSPC|tmp|ffedge-smallfs/);
      // No blob, no temp file, no upload row.
      expect(await filesUnder(small.dir)).toEqual([]);
      expect(await server.platform.db.select().from(uploads).all()).toEqual([]);

      expect((await upload(64 * 1024)).status).toBe(201);
    } finally {
      await server.close();
      await small.unmount();
    }
  });
});
