/**
 * Outputs by signed link (an output's `url`): fetched with plain fetch and no key, with Range and ETag as with the
 * key; a link is refused with 403 and says why when it was tampered with, names another file, has expired, or its
 * key was revoked; links signed with the secret before a rotation keep working with FFEDGE_LINK_SECRET_PREVIOUS.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type JobView } from '../helpers/api.js';
import { makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { getJobById } from '../../src/jobs/queries.js';
import { revokeKey } from '../../src/security/api-keys.js';
import { signOutputLink } from '../../src/security/signed-links.js';

const SECRET = 'the-current-link-secret-of-32-chars-or-more';
const PREVIOUS = 'the-previous-link-secret-of-32-chars-or-more';

let server: TestServer;
let api: ReturnType<typeof client>;
let job: JobView;
let bytes: Buffer;

beforeAll(async () => {
  server = await startTestServer({ FFEDGE_LINK_SECRET: SECRET, FFEDGE_LINK_SECRET_PREVIOUS: PREVIOUS, FFEDGE_OUTPUT_LINK_TTL_S: '600' });
  api = client(server, await server.key());
  const clip = join(server.dir, 'clip.mp4');
  await makeClip(clip, { seconds: 1, size: '160x120' });
  const queued = await api.convert({ input: await api.upload(clip), output: 'webm' });
  job = await api.waitFor(queued.id, ['completed', 'failed'], 60_000);
  expect(job.status).toBe('completed');
  bytes = Buffer.from(await (await server.fetch(`/api/v1/jobs/${job.id}/outputs/output.webm`, { headers: api.headers() })).arrayBuffer());
}, 90_000);
afterAll(async () => server?.close());

const url = () => job.outputs[0]!.url;
const token = () => url().split('/')[4]!;

async function expectRefused(res: Response, code: string) {
  expect(res.status).toBe(403);
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

describe('signed output links', () => {
  it('fetch without the key gets the file, a range of it, and 304 for its ETag', async () => {
    expect(url()).toMatch(/^\/api\/v1\/o\/[^/]+\/output\.webm$/);
    const whole = await server.fetch(url());
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
    expect(whole.headers.get('etag')).toBe(`"${createHash('sha256').update(bytes).digest('hex')}"`);

    const part = await server.fetch(url(), { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);

    expect((await server.fetch(url(), { headers: { 'if-none-match': whole.headers.get('etag')! } })).status).toBe(304);
    // GET /jobs/:id/outputs gives the same link while it holds (expiries are rounded, so links are stable).
    const listed = (await (await server.fetch(`/api/v1/jobs/${job.id}/outputs`, { headers: api.headers() })).json()) as { items: { url: string }[] };
    expect(listed.items[0]!.url).toBe(url());
  });

  it('refuses a tampered link, one used for another name, and one of another job, saying it is not valid', async () => {
    const t = token();
    // A changed character of the signature, and the same signature with the unused bits of its last character set.
    const at = t.length - 10;
    const flipped = t.slice(0, at) + (t[at] === 'A' ? 'B' : 'A') + t.slice(at + 1);
    await expectRefused(await server.fetch(`/api/v1/o/${flipped}/output.webm`), 'LINK_INVALID');
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(t.at(-1)!);
    const respelled = t.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last ^ 1];
    await expectRefused(await server.fetch(`/api/v1/o/${respelled}/output.webm`), 'LINK_INVALID');
    await expectRefused(await server.fetch(`/api/v1/o/${t}/other.webm`), 'LINK_INVALID');
    const [, expires, kid, prefix, sig] = t.split('.');
    const otherJob = '01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c';
    await expectRefused(await server.fetch(`/api/v1/o/${[otherJob, expires, kid, prefix, sig].join('.')}/output.webm`), 'LINK_INVALID');
    await expectRefused(await server.fetch(`/api/v1/o/garbage/output.webm`), 'LINK_INVALID');
  });

  it('refuses an expired link, saying it expired', async () => {
    const expired = await signOutputLink(SECRET, job.id, (await keyIdOf(job.id))!, 'output.webm', Date.now() - 1000);
    await expectRefused(await server.fetch(`/api/v1/o/${expired}/output.webm`), 'LINK_EXPIRED');
  });

  it('takes a link signed with the previous secret until it expires, and none of a secret it does not know', async () => {
    const keyId = (await keyIdOf(job.id))!;
    const before = await signOutputLink(PREVIOUS, job.id, keyId, 'output.webm', Date.now() + 60_000);
    expect((await server.fetch(`/api/v1/o/${before}/output.webm`)).status).toBe(200);
    const stranger = await signOutputLink('a-secret-this-service-never-had-of-32-chars', job.id, keyId, 'output.webm', Date.now() + 60_000);
    await expectRefused(await server.fetch(`/api/v1/o/${stranger}/output.webm`), 'LINK_INVALID');
  });

  it("stops working when the job's key is revoked", async () => {
    const fresh = client(server, await server.key());
    const clip = join(server.dir, 'clip2.mp4');
    await makeClip(clip, { seconds: 1, size: '160x120' });
    const done = await fresh.waitFor((await fresh.convert({ input: await fresh.upload(clip), output: 'webm' })).id, ['completed'], 60_000);
    expect((await server.fetch(done.outputs[0]!.url)).status).toBe(200);
    await revokeKey(server.platform.db, (await keyIdOf(done.id))!, Date.now());
    await expectRefused(await server.fetch(done.outputs[0]!.url), 'LINK_INVALID');
  }, 90_000);
});

async function keyIdOf(jobId: string): Promise<string | null> {
  return (await getJobById(server.platform.db, jobId))?.apiKeyId ?? null;
}
