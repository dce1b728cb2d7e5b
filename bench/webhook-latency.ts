/**
 * Webhook delivery latency: how long after a job completes its receiver has the signed `job.completed`. Runs N
 * probe jobs (they finish in milliseconds, so the webhook path is what is measured) on a real Node service with its
 * dispatcher, to a real HTTPS receiver on 127.0.0.1, and prints the distribution of (arrival at the receiver) -
 * (the job's finished_at), with the time from the API's 202 to the arrival beside it.
 *
 * `npm run bench:webhooks` (or `-- --jobs 100 --parallel 10`). Needs ffmpeg on PATH.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKey } from '../src/security/api-keys.js';
import { client } from '../test/helpers/api.js';
import { makeClip } from '../test/helpers/media.js';
import { startTestServer } from '../test/helpers/node-server.js';
import { startReceiver } from '../test/helpers/webhook-receiver.js';

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const jobs = arg('jobs', 100);
const parallel = arg('parallel', 10);

const dir = await mkdtemp(join(tmpdir(), 'ffedge-bench-webhooks-'));
const receiver = await startReceiver(dir);
const server = await startTestServer({
  FFEDGE_OUTBOUND_ALLOW_LOOPBACK: '1',
  FFEDGE_OUTBOUND_PORTS: '*',
  FFEDGE_OUTBOUND_CA_FILE: receiver.caFile,
  FFEDGE_POOL_SIZE: '2',
  FFEDGE_WASM_THREADS: '0',
  FFEDGE_CONCURRENT_JOBS: String(parallel * 2),
});
try {
  const { key } = await createKey(server.platform.db, { name: 'bench', now: Date.now() });
  const api = client(server, key);
  const clip = join(dir, 'clip.mp4');
  await makeClip(clip, { seconds: 1, size: '64x64', audio: false });
  const input = await api.upload(clip);

  const afterFinish: number[] = [];
  const afterSubmit: number[] = [];
  let next = 0;
  async function one(n: number) {
    const path = `/bench/${n}`;
    const submitted = Date.now();
    const res = await server.fetch('/api/v1/probe', {
      method: 'POST',
      headers: api.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ input, webhook_url: `${receiver.origin}${path}` }),
    });
    const job = (await res.json()) as { id: string };
    const [got] = await receiver.waitFor(path, 1, 30_000);
    const done = (await api.get(job.id)) as unknown as { finished_at: string };
    afterFinish.push(got!.at - new Date(done.finished_at).getTime());
    afterSubmit.push(got!.at - submitted);
  }
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < jobs) await one(next++);
    }),
  );
  const stats = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
    return `p50 ${at(50)} ms, p95 ${at(95)} ms, max ${sorted.at(-1)} ms`;
  };
  console.log(`${jobs} jobs, ${parallel} at a time`);
  console.log(`job completed -> receiver has job.completed: ${stats(afterFinish)}`);
  console.log(`202 -> receiver has job.completed:          ${stats(afterSubmit)}`);
} finally {
  await server.close();
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
}
