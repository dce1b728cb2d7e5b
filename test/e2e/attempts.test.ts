/**
 * What an attempt (src/jobs/attempt.ts) leaves behind on Node, with real ffmpeg: the engine it chose when the job was
 * routed only after its probe, a full disk named as the server's fault and retried, and nothing of its outputs when
 * it loses its job after storing them.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { loadConfig } from '../../src/config.js';
import { jobs } from '../../src/db/schema.js';
import { createNativeEngine } from '../../src/engine/native.js';
import { runAttempt } from '../../src/jobs/attempt.js';
import { createJob } from '../../src/jobs/create.js';
import { fileWorkspace } from '../../src/jobs/file-workspace.js';
import { storageInputs } from '../../src/jobs/inputs.js';
import * as transitions from '../../src/jobs/transitions.js';
import { NODE_STARTUP_MS, SPEED_MODELS } from '../../src/media/estimate.js';
import { ConvertRequestSchema } from '../../src/schemas/convert.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { createLocalBlobStore } from '../../src/storage/local.js';
import { uploadKey } from '../../src/storage/keys.js';
import { client } from '../helpers/api.js';
import { tempDb } from '../helpers/db.js';
import { mountSmallFs, type SmallFs } from '../helpers/full-fs.js';
import { makeClip } from '../helpers/media.js';
import { quietLog, startTestServer, type TestServer } from '../helpers/node-server.js';
import { readEvents } from '../helpers/sse.js';

let dir: string;
let clip: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffedge-attempts-'));
  clip = join(dir, 'clip.mp4');
  await makeClip(clip, { seconds: 2, size: '320x240', audio: true });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('the engine of a job routed at run time', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ FFEDGE_CONCURRENT_JOBS: '20' });
  });
  afterAll(async () => server?.close());

  it('is written on the job with the reason when the attempt picks it (resize, thumbnails, watermark, preset, probe)', async () => {
    const api = client(server, await server.key());
    const input = await api.upload(clip);
    const requests = [
      { input, output: 'mp4', operations: [{ type: 'resize', size: '240p' }] },
      { input, output: 'jpg', operations: [{ type: 'thumbnails', count: 2 }] },
      { input, output: 'mp4', operations: [{ type: 'watermark', image: input, scale: 0.1 }] },
      { input, preset: 'thumbnails' },
    ];
    for (const body of requests) {
      const submitted = await api.convert(body);
      // Not routable before the probe: the engine is chosen by the attempt.
      expect(submitted, JSON.stringify(body)).toMatchObject({ engine: null, engine_reason: null });
      const done = await api.waitFor(submitted.id, ['completed', 'failed']);
      expect(done, JSON.stringify(body)).toMatchObject({ status: 'completed', engine: 'native' });
      expect((done as unknown as { engine_reason: string }).engine_reason).toMatch(/routed after the probe/);
    }
    const res = await server.fetch('/api/v1/probe', { method: 'POST', headers: api.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ input }) });
    const probed = (await res.json()) as { status: string; engine: string | null; engine_reason: string | null };
    const job = probed.status === 'completed' ? probed : await api.waitFor((probed as unknown as { id: string }).id, ['completed']);
    expect(job).toMatchObject({ engine: 'native', engine_reason: 'probed on native' });
  });
});

describe('a job routed at submission', () => {
  it('is routed again when the probe shows its engine cannot hold it, with the reason', async () => {
    const store = await tempDb();
    const blobs = createLocalBlobStore(join(dir, 'blobs-reroute'));
    const big = join(dir, 'big.mp4');
    await makeClip(big, { seconds: 1, size: '1280x720', audio: false });
    const uploadId = uuidv7();
    await blobs.put(uploadKey(uploadId), new Blob([await (await import('node:fs/promises')).readFile(big)]).stream());
    const jobId = uuidv7();
    const request = ConvertRequestSchema.parse({ input: `upload:${uploadId}`, output: { format: 'mp4', video: { preset: 'ultrafast' } } });
    // Routed to wasm before anything was known of the input (as a small job would be on Workers).
    await createJob(store.db, { id: jobId, apiKeyId: 'k', kind: 'convert', request, priority: 0, engine: 'wasm', engineReason: 'least expected time', maxAttempts: 1, concurrentLimit: 10, now: Date.now() });
    const job = (await transitions.claimById(store.db, jobId, { owner: 'test', ms: 30_000 }, Date.now()))!;
    const engine = createNativeEngine();
    const capabilities = await engine.capabilities();
    const workspace = fileWorkspace({
      tmpRoot: dir,
      inputs: storageInputs(blobs),
      engines: {
        profiles: async () => [
          { name: 'native', capabilities, memoryLimitBytes: null, startupMs: NODE_STARTUP_MS.native, speed: SPEED_MODELS.native },
          // A wasm engine far too small for a 720p encode; it is never asked to run it.
          { name: 'wasm', capabilities: { ...capabilities, name: 'wasm' }, memoryLimitBytes: 48 * 1024 ** 2, startupMs: NODE_STARTUP_MS.wasm, speed: SPEED_MODELS.wasm },
        ],
        get: (name) => (name === 'native' ? engine : null),
      },
    });
    const outcome = await runAttempt({ db: store.db, blobs, config: loadConfig({}), clock: Date.now, log: quietLog, changed: () => {} }, workspace, job).done;
    expect(outcome).toEqual({ status: 'completed' });
    const row = await store.db.select().from(jobs).where(eq(jobs.id, jobId)).get();
    expect(row).toMatchObject({ status: 'completed', engine: 'native' });
    expect(row!.engineReason).toMatch(/^re-routed after the probe \(.*MiB/);
    await store.close();
  });
});

describe('a full disk', () => {
  let small: SmallFs;
  let long: string;
  beforeAll(async () => {
    long = join(dir, 'long.mp4');
    await makeClip(long, { seconds: 4, size: '160x120', audio: true });
  });

  async function firstAndLast(server: TestServer): Promise<{ first: unknown; last: { status: string; error: { code: string; message: string } | null; attempts: number } }> {
    const api = client(server, await server.key());
    const input = await api.upload(long);
    // 16 s of 48 kHz stereo PCM: about 3 MB, more than the small disk holds.
    const job = await api.convert({ input, output: { format: 'wav', audio: { channels: 2, sample_rate: 48000 } }, operations: [{ type: 'speed', factor: 0.25 }] });
    const events = await readEvents(await server.fetch(`/api/v1/jobs/${job.id}/events`, { headers: api.headers() }));
    const statuses = events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data) as Record<string, unknown>);
    return { first: statuses[2], last: (await api.get(job.id)) as never };
  }

  it('STORAGE_FULL: a full temp dir fails the attempt as the server\'s fault, retried, not as the input\'s', async () => {
    small = (await mountSmallFs(1024 * 1024))!;
    expect(small, 'this test needs to mount a tmpfs (root)').not.toBeNull();
    const server = await startTestServer({ FFEDGE_TMP_DIR: small.dir, FFEDGE_MAX_ATTEMPTS: '2', FFEDGE_WASM_THREADS: '0' });
    try {
      const { first, last } = await firstAndLast(server);
      expect(first).toMatchObject({ status: 'queued', error_code: 'STORAGE_FULL' });
      expect(last).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'STORAGE_FULL' } });
      expect(last.error!.message).not.toMatch(/ffmpeg could not process the input|\//);
      // Nothing of either attempt is left on the small disk but the process's own (empty) dir.
      const own = await readdir(small.dir);
      expect(own).toHaveLength(1);
      expect(await readdir(join(small.dir, own[0]!))).toEqual([]);
    } finally {
      await server.close();
      await small.unmount();
    }
  });

  it('STORAGE_FULL: a blob store too full for an output fails the attempt the same way, storing nothing', async () => {
    small = (await mountSmallFs(2 * 1024 * 1024))!;
    expect(small).not.toBeNull();
    const server = await startTestServer({ FFEDGE_BLOB_DIR: small.dir, FFEDGE_MAX_ATTEMPTS: '1', FFEDGE_WASM_THREADS: '0' });
    try {
      const { last } = await firstAndLast(server);
      expect(last).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'STORAGE_FULL' } });
      const files = (await readdir(small.dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
      expect(files.map((entry) => join(entry.parentPath, entry.name)).filter((path) => path.includes('outputs'))).toEqual([]);
    } finally {
      await server.close();
      await small.unmount();
    }
  });
});

describe('an attempt that loses its job after storing outputs', () => {
  it('keeps none of them: cancelled between its uploads and its completion', async () => {
    const store = await tempDb();
    const blobRoot = join(dir, 'blobs');
    const blobs = createLocalBlobStore(blobRoot);
    const uploadId = uuidv7();
    await blobs.put(uploadKey(uploadId), new Blob([await (await import('node:fs/promises')).readFile(clip)]).stream());
    const jobId = uuidv7();
    const request = ConvertRequestSchema.parse({ input: `upload:${uploadId}`, output: 'jpg', operations: [{ type: 'thumbnails', count: 3 }] });
    await createJob(store.db, { id: jobId, apiKeyId: 'k', kind: 'convert', request, priority: 0, engine: 'native', maxAttempts: 1, concurrentLimit: 10, now: Date.now() });
    const job = (await transitions.claimById(store.db, jobId, { owner: 'test', ms: 30_000 }, Date.now()))!;

    const stored: string[] = [];
    // The job is cancelled the moment the last of its three thumbnails is stored.
    const watched: BlobStore = {
      ...blobs,
      async put(key, body, options) {
        const put = await blobs.put(key, body, options);
        stored.push(key);
        if (stored.length === 3) await transitions.cancel(store.db, jobId, 'k', Date.now());
        return put;
      },
    };
    const engine = createNativeEngine();
    const capabilities = await engine.capabilities();
    const workspace = fileWorkspace({
      tmpRoot: dir,
      inputs: storageInputs(blobs),
      engines: {
        profiles: async () => [{ name: 'native', capabilities, memoryLimitBytes: null, startupMs: NODE_STARTUP_MS.native, speed: SPEED_MODELS.native }],
        get: () => engine,
      },
    });
    const config = loadConfig({});
    const outcome = await runAttempt({ db: store.db, blobs: watched, config, clock: Date.now, log: quietLog, changed: () => {} }, workspace, job).done;

    expect(outcome).toEqual({ status: 'lost' });
    expect(stored).toHaveLength(3);
    for (const key of stored) expect(await blobs.head(key), key).toBeNull();
    expect((await readdir(dir)).filter((name) => name.startsWith('job-'))).toEqual([]);
    await store.close();
  });
});
