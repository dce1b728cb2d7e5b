/**
 * Jobs that run on Workers, inside workerd: the API Worker takes the job over HTTP, the JOBS queue consumer hands it
 * to its JobCoordinator, which runs it on an engine and writes the outputs to R2.
 *
 * - Light jobs run on the wasm Worker (wasm/worker.ts, an auxiliary Worker here, bound as WASM as in production).
 * - Heavy jobs go through the Transcoder binding: Container.fetch -> containerFetch -> the container's port, which
 *   here is the real native worker (container/main.ts, real ffmpeg) that test/workers/native-worker.setup.ts started
 *   on 127.0.0.1 (durable-objects/host-container.ts stands in for the container runtime, since Docker cannot run).
 */
import { createScheduledController, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { uuidv7 } from 'uuidv7';
import { describe, expect, it } from 'vitest';
import type { CoordinatorState } from '../../../durable-objects/job-coordinator.js';
import { createJob } from '../../../src/jobs/create.js';
import * as transitions from '../../../src/jobs/transitions.js';
import entry from '../../../src/runtime/worker.js';
import type { WorkerEnv } from '../../../src/runtime/worker-env.js';
import { ConvertRequestSchema } from '../../../src/schemas/convert.js';
import { api, coordinator, dataOf, db, eventually, media, nativeRunning, newKey, probeBytes } from './helpers.js';

const LIGHT = {
  format: 'mp4',
  video: { codec: 'h264', resolution: '160x120', preset: 'ultrafast' },
  audio: { codec: 'aac' },
} as const;

async function download(c: ReturnType<typeof api>, jobId: string, name: string): Promise<Uint8Array<ArrayBuffer>> {
  const res = await c.fetch(`/api/v1/jobs/${jobId}/outputs/${name}`);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

async function outputsInR2(jobId: string): Promise<string[]> {
  const listed = await env.BLOBS.list({ prefix: `outputs/${jobId}/` });
  return listed.objects.map((o) => o.key);
}

describe('jobs on Workers', () => {
  it('runs a light job on the wasm engine inside workerd, with its progress over SSE and a valid output in R2', async () => {
    const c = api((await newKey()).key);
    const input = await c.upload(media('small'), 'small.mp4');
    const job = await c.convert({ input, output: LIGHT });
    expect(job.engine).toBe('wasm');

    const events = await c.events(job.id);
    const statuses = dataOf(events, 'status').map((d) => d.status);
    expect(statuses).toEqual(['queued', 'processing', 'completed']);
    const stages = dataOf(events, 'progress').map((d) => d.stage);
    for (const stage of ['fetching', 'probing', 'processing', 'uploading']) expect(stages).toContain(stage);
    expect(events.at(-1)?.event).toBe('done');

    const done = await c.get(job.id);
    expect(done).toMatchObject({ status: 'completed', engine: 'wasm', attempts: 1, progress: { percentage: 100, stage: 'done' } });
    expect(done.outputs.map((o) => o.name)).toEqual(['output.mp4']);
    // In R2 under the job and its attempt, and the same bytes through the API.
    expect(await outputsInR2(job.id)).toEqual([`outputs/${job.id}/1/output.mp4`]);
    const bytes = await download(c, job.id, 'output.mp4');
    expect(bytes.byteLength).toBe(done.outputs[0]!.size);
    const stored = await env.BLOBS.get(`outputs/${job.id}/1/output.mp4`);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(bytes);

    const probe = await probeBytes(bytes, 'output.mp4');
    expect(probe.format).toContain('mp4');
    expect(probe.streams.map((s) => [s.type, s.codec])).toEqual([
      ['video', 'h264'],
      ['audio', 'aac'],
    ]);
    expect(probe.streams[0]).toMatchObject({ width: 160, height: 120 });
    expect(probe.duration_s).toBeCloseTo(2, 0);
    expect((await coordinator(job.id).inspect()).running).toBe(false);
  });

  it('probes an upload on the wasm engine: POST /probe answers with the result', async () => {
    const c = api((await newKey()).key);
    const input = await c.upload(media('small'), 'small.mp4');
    const res = await c.fetch('/api/v1/probe', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
    expect([200, 202]).toContain(res.status);
    const { id } = (await res.json()) as { id: string };
    await c.events(id);
    const job = await c.get(id);
    expect(job).toMatchObject({ status: 'completed', outputs: [] });
    const result = job.result as { duration_s: number; streams: { type: string; codec: string; width?: number }[] };
    expect(result.duration_s).toBeCloseTo(2, 0);
    expect(result.streams.map((s) => [s.type, s.codec])).toEqual([
      ['video', 'h264'],
      ['audio', 'aac'],
    ]);
  });

  it('sends a heavy job through the Transcoder binding to the native worker and completes it', async () => {
    const c = api((await newKey()).key);
    const input = await c.upload(media('small'), 'small.mp4');
    // VP9 is excluded on the wasm engine, so routing sends it to the container.
    const job = await c.convert({ input, output: { format: 'webm', video: { codec: 'vp9' }, audio: { codec: 'opus' } } });
    expect(job.engine).toBe('native');

    const events = await c.events(job.id);
    expect(dataOf(events, 'status').map((d) => d.status)).toEqual(['queued', 'processing', 'completed']);
    expect(dataOf(events, 'progress').map((d) => d.stage)).toContain('processing');

    const done = await c.get(job.id);
    expect(done).toMatchObject({ status: 'completed', engine: 'native', attempts: 1 });
    const probe = await probeBytes(await download(c, job.id, 'output.webm'), 'output.webm');
    expect(probe.streams.map((s) => s.codec)).toEqual(['vp9', 'opus']);
    expect(probe.duration_s).toBeCloseTo(2, 0);
    expect(await nativeRunning()).toBe(0);
    // The attempt's container was stopped when the job ended, not left to sleep on an instance.
    const transcoders = env.TRANSCODER!;
    const transcoder = transcoders.get(transcoders.idFromName(`${job.id}/1`));
    await eventually(async () => (await transcoder.getState()).status === 'stopped', 10_000);
  });

  it('shows live progress from the container, and a cancel stops its ffmpeg at once and keeps nothing', async () => {
    const c = api((await newKey()).key);
    const input = await c.upload(media('long'), 'long.mp4');
    const job = await c.convert({ input, output: { format: 'webm', video: { codec: 'vp9' }, audio: false } });
    expect(job.engine).toBe('native');

    // Progress with a percentage comes from ffmpeg's -progress in the container, through the NDJSON response, the
    // JobCoordinator's compare-and-set write to D1 and its notification, to this SSE stream.
    const running = await c.events(job.id, (e) => e.event === 'progress' && Number((JSON.parse(e.data) as { percentage: number | null }).percentage) > 0);
    const progress = dataOf(running, 'progress').at(-1)!;
    expect(progress).toMatchObject({ stage: 'processing' });
    expect(progress.percentage).toBeGreaterThan(0);
    expect(progress.percentage).toBeLessThan(100);
    expect(await nativeRunning()).toBe(1);

    const cancelled = await c.fetch(`/api/v1/jobs/${job.id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    // The native worker's run ends because the coordinator aborted its request: ffmpeg is killed, the slot freed.
    await eventually(async () => (await nativeRunning()) === 0, 15_000);

    const events = await c.events(job.id);
    expect(dataOf(events, 'status').map((d) => d.status)).toEqual(['queued', 'processing', 'cancelled']);
    const after = await c.get(job.id);
    expect(after).toMatchObject({ status: 'cancelled', outputs: [] });
    await eventually(async () => !(await coordinator(job.id).inspect()).running, 10_000);
    expect(await outputsInR2(job.id)).toEqual([]);
    expect((await coordinator(job.id).inspect()).state).toBeNull();
  });

  it('re-queues a job whose coordinator lost it once the lease expired (alarm), and the job then completes once', async () => {
    const { key, id: apiKeyId } = await newKey();
    const c = api(key);
    const input = await c.upload(media('small'), 'small.mp4');
    // A job claimed by a coordinator that then went away: its lease runs out and nobody renews it.
    const jobId = uuidv7();
    const request = ConvertRequestSchema.parse({ input, output: LIGHT });
    await createJob(db, { id: jobId, apiKeyId, kind: 'convert', request, priority: 0, engine: 'wasm', maxAttempts: 3, concurrentLimit: 5, now: Date.now() });
    const owner = 'coordinator:lost';
    expect(await transitions.claimById(db, jobId, { owner, ms: 1 }, Date.now())).not.toBeNull();
    const stub = coordinator(jobId);
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.kv.put<CoordinatorState>('job', { phase: 'running', id: jobId, owner });
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    await new Promise((resolve) => setTimeout(resolve, 5));

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // Re-queued in D1 and sent to the queue again; the consumer and a new coordinator run take it from there.
    const events = await c.events(jobId);
    const statuses = dataOf(events, 'status');
    expect(statuses.map((d) => d.status)).toEqual(['queued', 'processing', 'queued', 'processing', 'completed']);
    expect(statuses[2]).toMatchObject({ error_code: 'LEASE_EXPIRED' });
    const done = await c.get(jobId);
    expect(done).toMatchObject({ status: 'completed', attempts: 2 });
    expect(await outputsInR2(jobId)).toEqual([`outputs/${jobId}/2/output.mp4`]);
  });

  it('waits for a lease that has not expired yet, and fails a job with no attempt left', async () => {
    const { key, id: apiKeyId } = await newKey();
    const c = api(key);
    const input = await c.upload(media('small'), 'small.mp4');
    const jobId = uuidv7();
    const request = ConvertRequestSchema.parse({ input, output: LIGHT });
    await createJob(db, { id: jobId, apiKeyId, kind: 'convert', request, priority: 0, engine: 'wasm', maxAttempts: 1, concurrentLimit: 5, now: Date.now() });
    const owner = 'coordinator:lost';
    const held = transitions.heldBy((await transitions.claimById(db, jobId, { owner, ms: 60_000 }, Date.now()))!, 60_000);
    const stub = coordinator(jobId);
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.kv.put<CoordinatorState>('job', { phase: 'running', id: jobId, owner });
      await state.storage.setAlarm(Date.now() + 60_000);
    });

    // The lease still runs: nothing changes, and the alarm is set for its expiry.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await c.get(jobId)).status).toBe('processing');
    const waiting = await stub.inspect();
    expect(waiting.state).toMatchObject({ phase: 'running', id: jobId });
    expect(waiting.alarm).toBeGreaterThan(Date.now() + 50_000);

    // Once it has expired, the only attempt is used up: failed, and nothing is sent to the queue.
    await transitions.renew(db, jobId, { ...held, ms: -1 }, Date.now());
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const failed = await c.get(jobId);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'ATTEMPTS_EXHAUSTED' } });
    expect((await stub.inspect()).state).toBeNull();
  });

  it('dispatches a retry from the alarm after its backoff', async () => {
    const { key, id: apiKeyId } = await newKey();
    const c = api(key);
    const input = await c.upload(media('small'), 'small.mp4');
    // A job that failed with a retryable error is queued again in D1; its coordinator owes it a dispatch.
    const jobId = uuidv7();
    const request = ConvertRequestSchema.parse({ input, output: LIGHT });
    await createJob(db, { id: jobId, apiKeyId, kind: 'convert', request, priority: 0, engine: 'wasm', maxAttempts: 3, concurrentLimit: 5, now: Date.now() });
    const owner = 'coordinator:earlier';
    const held = transitions.heldBy((await transitions.claimById(db, jobId, { owner, ms: 60_000 }, Date.now()))!, 60_000);
    const requeued = await transitions.fail(db, jobId, held, Date.now(), { code: 'ENGINE_UNAVAILABLE', message: 'No engine could run the job.', retryable: true });
    expect(requeued?.status).toBe('queued');
    const stub = coordinator(jobId);
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.kv.put<CoordinatorState>('job', { phase: 'retry', id: jobId, at: Date.now() + 60_000 });
      await state.storage.setAlarm(Date.now() + 60_000);
    });

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const events = await c.events(jobId);
    expect(dataOf(events, 'status').map((d) => d.status)).toEqual(['queued', 'processing', 'queued', 'processing', 'completed']);
    expect(await c.get(jobId)).toMatchObject({ status: 'completed', attempts: 2 });
  });

  it('the cron sweep re-queues an expired lease and re-sends a job whose message was lost; both complete', async () => {
    const { key, id: apiKeyId } = await newKey();
    const c = api(key);
    const input = await c.upload(media('small'), 'small.mp4');
    const request = ConvertRequestSchema.parse({ input, output: LIGHT });
    // Lost lease: claimed by an owner that vanished, and no coordinator watches it.
    const lost = uuidv7();
    await createJob(db, { id: lost, apiKeyId, kind: 'convert', request, priority: 0, engine: 'wasm', maxAttempts: 3, concurrentLimit: 5, now: Date.now() });
    await transitions.claimById(db, lost, { owner: 'gone', ms: 1 }, Date.now());
    // Lost message: queued eleven minutes ago and never dispatched.
    const forgotten = uuidv7();
    await createJob(db, { id: forgotten, apiKeyId, kind: 'convert', request, priority: 0, engine: 'wasm', maxAttempts: 3, concurrentLimit: 5, now: Date.now() - 11 * 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 5));

    await entry.scheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: Date.now() }), env as unknown as WorkerEnv);
    await c.events(lost);
    await c.events(forgotten);
    expect(await c.get(lost)).toMatchObject({ status: 'completed', attempts: 2 });
    expect(await c.get(forgotten)).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('runs a job once however often it is delivered', async () => {
    const { key, id: apiKeyId } = await newKey();
    const c = api(key);
    const input = await c.upload(media('small'), 'small.mp4');
    const jobId = uuidv7();
    const request = ConvertRequestSchema.parse({ input, output: LIGHT });
    await createJob(db, { id: jobId, apiKeyId, kind: 'convert', request, priority: 0, engine: 'wasm', maxAttempts: 3, concurrentLimit: 5, now: Date.now() });

    const stub = coordinator(jobId);
    const results = await Promise.all([stub.start(jobId), stub.start(jobId), stub.start(jobId)]);
    expect(results.filter((r) => r === 'started')).toHaveLength(1);
    await c.events(jobId);
    expect(await stub.start(jobId)).toBe('not-queued');
    expect(await c.get(jobId)).toMatchObject({ status: 'completed', attempts: 1 });
  });
});
