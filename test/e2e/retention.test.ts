/**
 * Retention: uploads and a completed job's outputs are deleted at the end of the key's tier's retention (the sweep
 * run here with a clock moved past it), or sooner on request; the records stay and say what happened, downloads
 * answer 410, and a deleted upload cannot be a job's input any more.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type JobView } from '../helpers/api.js';
import { makeClip } from '../helpers/media.js';
import { quietLog, startTestServer, type TestServer } from '../helpers/node-server.js';
import { sweepRetention } from '../../src/storage/retention.js';

const RETENTION_S = 600;

let server: TestServer;
let api: ReturnType<typeof client>;
let clip: string;

beforeAll(async () => {
  // A sweep of the server's own would run every hour: the tests run theirs with a clock they move.
  server = await startTestServer({ FFEDGE_RETENTION_S: String(RETENTION_S), FFEDGE_RETENTION_SWEEP_MS: '3600000' });
  api = client(server, await server.key());
  clip = join(server.dir, 'clip.mp4');
  await makeClip(clip, { seconds: 1, size: '160x120' });
}, 60_000);
afterAll(async () => server?.close());

const sweepAt = (offsetMs: number) => sweepRetention({ db: server.platform.db, blobs: server.platform.blobs, clock: () => Date.now() + offsetMs, log: quietLog });

interface UploadView {
  id: string;
  uri: string;
  created_at: string;
  expires_at: string | null;
  deleted_at: string | null;
}

async function upload(): Promise<UploadView> {
  const uri = await api.upload(clip);
  return (await (await server.fetch(`/api/v1/uploads/${uri.slice('upload:'.length)}`, { headers: api.headers() })).json()) as UploadView;
}

async function completed(input: string): Promise<JobView & { outputs_expire_at: string | null; outputs_removed: { reason: string } | null }> {
  const job = await api.convert({ input, output: 'webm' });
  return (await api.waitFor(job.id, ['completed'], 60_000)) as never;
}

async function stored(key: string): Promise<boolean> {
  return (await server.platform.blobs.head(key)) !== null;
}

describe('retention', () => {
  it('deletes uploads and outputs past their retention, and nothing before; the records say so', async () => {
    const up = await upload();
    expect(Date.parse(up.expires_at!) - Date.parse(up.created_at)).toBe(RETENTION_S * 1000);
    const job = await completed(up.uri);
    expect(Date.parse(job.outputs_expire_at!)).toBeGreaterThan(Date.now() + (RETENTION_S - 60) * 1000);
    const outputKey = `outputs/${job.id}/1/output.webm`;
    expect(await stored(outputKey)).toBe(true);
    expect(await stored(`uploads/${up.id}`)).toBe(true);

    expect(await sweepAt(0)).toEqual({ uploads: 0, outputs: 0 });
    expect(await sweepAt(RETENTION_S * 1000 + 60_000)).toMatchObject({ uploads: expect.any(Number), outputs: expect.any(Number) });

    const after = (await (await server.fetch(`/api/v1/uploads/${up.id}`, { headers: api.headers() })).json()) as UploadView;
    expect(after.deleted_at).not.toBeNull();
    expect(await stored(`uploads/${up.id}`)).toBe(false);
    expect(await stored(outputKey)).toBe(false);

    const record = (await api.get(job.id)) as unknown as { status: string; outputs: unknown[]; outputs_removed: { reason: string } | null };
    expect(record.status).toBe('completed');
    expect(record.outputs).toHaveLength(1);
    expect(record.outputs_removed).toMatchObject({ reason: 'expired' });
    for (const url of [`/api/v1/jobs/${job.id}/outputs/output.webm`, job.outputs[0]!.url]) {
      const res = await server.fetch(url, { headers: api.headers() });
      expect(res.status).toBe(410);
      expect(((await res.json()) as { code: string }).code).toBe('OUTPUT_EXPIRED');
    }
    // The upload is gone: a new job cannot name it.
    const refused = await server.fetch('/api/v1/convert', { method: 'POST', headers: api.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ input: up.uri, output: 'webm' }) });
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { code: string }).code).toBe('INPUT_NOT_FOUND');
  }, 90_000);

  it('deletes an upload and a finished job’s outputs on request, and refuses to while the job runs', async () => {
    const up = await upload();
    const job = await completed(up.uri);
    expect(await stored(`outputs/${job.id}/1/output.webm`)).toBe(true);
    const deleted = await server.fetch(`/api/v1/jobs/${job.id}/outputs`, { method: 'DELETE', headers: api.headers() });
    expect(deleted.status).toBe(200);
    expect(((await deleted.json()) as { outputs_removed: { reason: string } }).outputs_removed.reason).toBe('deleted');
    expect(await stored(`outputs/${job.id}/1/output.webm`)).toBe(false);
    const gone = await server.fetch(`/api/v1/jobs/${job.id}/outputs/output.webm`, { headers: api.headers() });
    expect(((await gone.json()) as { code: string }).code).toBe('OUTPUT_DELETED');

    const removed = (await (await server.fetch(`/api/v1/uploads/${up.id}`, { method: 'DELETE', headers: api.headers() })).json()) as UploadView;
    expect(removed.deleted_at).not.toBeNull();
    expect(await stored(`uploads/${up.id}`)).toBe(false);
    // Listed still, newest first, and saying it was deleted.
    const listed = (await (await server.fetch('/api/v1/uploads?limit=1', { headers: api.headers() })).json()) as { items: UploadView[]; next_cursor: string | null };
    expect(listed.items.map((u) => [u.id, u.deleted_at !== null])).toEqual([[up.id, true]]);
    expect(listed.next_cursor).not.toBeNull();

    // A long job is still writing: its outputs are not deleted under it.
    const long = join(server.dir, 'long.mp4');
    await makeClip(long, { seconds: 20, size: '640x360' });
    const running = await api.convert({ input: await api.upload(long), output: 'webm' });
    const refused = await server.fetch(`/api/v1/jobs/${running.id}/outputs`, { method: 'DELETE', headers: api.headers() });
    expect(refused.status).toBe(409);
    await api.cancel(running.id);
  }, 120_000);
});
