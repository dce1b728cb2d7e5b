/** The SDK on Node against the real server: the portable suite, then what needs a file system or the server's socket. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFile, Ffedge, uploadFile } from '../../packages/client/src/node.js';
import { ffprobe, makeClip } from '../helpers/media.js';
import type { TestServer } from '../helpers/node-server.js';
import { sdkSuite, type SdkTarget } from './suite.js';
import { startSdkServers, type SdkServers } from './targets.js';

let servers: SdkServers;
let server: TestServer;
let dir: string;
let target: SdkTarget;

beforeAll(async () => {
  servers = await startSdkServers();
  ({ server, dir, target } = servers);
});
afterAll(async () => servers?.close());

sdkSuite(it, () => target);

describe('sdk on Node', () => {
  it('uploads a file by path and downloads an output to a file that ffprobe reads', async () => {
    const ff = new Ffedge({ baseUrl: server.url, key: target.key });
    const up = await uploadFile(ff, join(dir, 'clip.mp4'));
    expect(up.filename).toBe('clip.mp4');
    const done = await (await ff.convert({ input: up.uri, output: 'webm', operations: [{ type: 'trim', start: 0, end: 1 }] })).wait();
    expect(done.status).toBe('completed');
    const bytes = await downloadFile(ff, done, join(dir, 'out.webm'));
    expect(bytes).toBe(done.outputs[0]!.size);
    const probed = await ffprobe(join(dir, 'out.webm'));
    expect(probed.format.format_name).toMatch(/webm/);
    expect(Number(probed.format.duration)).toBeCloseTo(1, 0);
  });

  it('job.wait() resumes with Last-Event-ID when the server ends the connection mid-job', async () => {
    const resumedFrom: (string | null)[] = [];
    const ff = new Ffedge({
      baseUrl: server.url,
      key: target.key,
      fetch: (request, init) => {
        if (request.url.endsWith('/events')) resumedFrom.push(request.headers.get('last-event-id'));
        return fetch(request, init);
      },
    });
    await makeClip(join(dir, 'six.mp4'), { seconds: 6 });
    const up = await uploadFile(ff, join(dir, 'six.mp4'));
    const job = await ff.convert({ input: up.uri, output: { format: 'webm', video: { codec: 'vp8' }, audio: { codec: 'opus' } } });
    const percentages: number[] = [];
    const done = await job.wait({
      onProgress: (p) => {
        if (percentages.length === 0) server.dropConnections();
        percentages.push(p.percentage ?? 0);
      },
    });
    expect(done.status).toBe('completed');
    expect(resumedFrom.length).toBeGreaterThanOrEqual(2);
    expect(resumedFrom[0]).toBeNull();
    expect(resumedFrom[1]).toMatch(/^\d+$/);
    expect(percentages).toEqual([...percentages].sort((a, b) => a - b));
  });

  it('uploads a ReadableStream without buffering it', async () => {
    const ff = new Ffedge({ baseUrl: server.url, key: target.key });
    const stream = new Blob([target.clip]).stream();
    const up = await ff.upload(stream, { filename: 'streamed.mp4', contentType: 'video/mp4' });
    expect(up.size).toBe(target.clip.byteLength);
  });
});
