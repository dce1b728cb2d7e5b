/**
 * One table of engine faults (test/helpers/faulty-engine.ts), one outcome each, on the Node fleet: a job sent to a
 * native worker that answers 413 or 503, dies mid-run or sends garbage ends its attempt exactly as the same job does
 * on Workers through the Transcoder (test/workers/jobs/faults.test.ts runs the same table there).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/api.js';
import { faultyJob, FAULTS, firstOutcome, startFaultyEngine } from '../helpers/faulty-engine.js';
import { makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';
import { freePort, waitHealthy } from '../helpers/services.js';
import { readEvents, type SseEvent } from '../helpers/sse.js';

const TOKEN = 'faults-test-token-0123456789abcdef';

let dir: string;
let input: string;
let worker: ChildProcess;
let faulty: Awaited<ReturnType<typeof startFaultyEngine>>;
let server: TestServer;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffedge-faults-'));
  const port = await freePort();
  worker = spawn(process.execPath, ['--import', 'tsx', 'container/main.ts'], {
    env: { PATH: process.env.PATH, PORT: String(port), FFEDGE_WORKER_TOKEN: TOKEN, FFEDGE_WORKER_SLOTS: '2', FFEDGE_TMP_DIR: join(dir, 'worker') },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const clip = join(dir, 'clip.mp4');
  await Promise.all([waitHealthy(worker, `http://127.0.0.1:${port}/health`, 60_000), makeClip(clip, { seconds: 1, size: '160x120', audio: false })]);
  faulty = await startFaultyEngine(`http://127.0.0.1:${port}`);
  server = await startTestServer({
    FFEDGE_POOL_SIZE: '0',
    FFEDGE_WORKERS: faulty.url,
    FFEDGE_WORKER_TOKEN: TOKEN,
    FFEDGE_WORKER_HEALTH_MS: '100',
    // A fault that takes the worker out (503, a lost run) keeps it out only briefly: the next fault is waiting.
    FFEDGE_WORKER_COOLDOWN_MS: '200',
    FFEDGE_CONCURRENT_JOBS: '50',
  });
  api = client(server, await server.key());
  input = await api.upload(clip);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await faulty?.close();
  worker?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function followUntilFirstOutcome(id: string): Promise<SseEvent[]> {
  const res = await server.fetch(`/api/v1/jobs/${id}/events`, { headers: api.headers() });
  const seen: SseEvent[] = [];
  return readEvents(res, (event) => {
    seen.push(event);
    return firstOutcome(seen) !== null || event.event === 'done';
  });
}

describe('engine faults on the Node fleet', () => {
  it('a job without a fault runs through the faulty engine untouched', async () => {
    const job = await api.convert(faultyJob(input, 'no-fault'));
    expect(await api.waitFor(job.id, ['completed', 'failed'], 60_000)).toMatchObject({ status: 'completed' });
  });

  for (const fault of FAULTS) {
    it(`a worker that ${fault.name}: ${fault.outcome.status} ${fault.outcome.error_code}`, async () => {
      const job = await api.convert(faultyJob(input, fault.marker));
      expect(firstOutcome(await followUntilFirstOutcome(job.id))).toEqual(fault.outcome);
      await api.cancel(job.id);
      // Whatever the engine said, no server path of its reaches the client.
      expect(JSON.stringify(await api.get(job.id))).not.toContain('/srv/secret');
    });
  }
});
