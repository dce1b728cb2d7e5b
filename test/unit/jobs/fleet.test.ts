/**
 * The fleet dispatcher (src/jobs/fleet.ts): FFEDGE_WORKERS parsing (config.ts), slots per worker, which jobs it
 * takes, and the circuit breaker, against a fake worker fetch and a real libSQL file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadFleetConfig, parseWorkers } from '../../../src/config.js';
import type { Job } from '../../../src/db/schema.js';
import { EngineError } from '../../../src/engine/engine.js';
import { runRemote, type EngineEndpoint } from '../../../src/engine/protocol-client.js';
import type { AttemptOutcome } from '../../../src/jobs/attempt.js';
import { createFleet, withFleet, type Fleet } from '../../../src/jobs/fleet.js';
import { queuedJob, tempDb } from '../../helpers/db.js';

const quiet = { info() {}, warn() {}, error() {} };
const A = 'http://127.0.0.1:9001';
const B = 'http://127.0.0.1:9002';

let store: Awaited<ReturnType<typeof tempDb>>;
let cwd: string;
let fleet: Fleet | null = null;
beforeEach(async () => {
  store = await tempDb();
  cwd = await mkdtemp(join(tmpdir(), 'ffedge-fleet-unit-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await fleet?.stop(0);
  fleet = null;
  await store.close();
  await rm(cwd, { recursive: true, force: true });
});

const queue = (engine: string | null = null): Promise<Job> => queuedJob(store.db, { engine, now: Date.now() });

/** Workers that answer health and capabilities while `up`, and refuse runs as busy. */
function fakeWorkers(up: Record<string, boolean>): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    if (!up[url.origin]) throw new TypeError('fetch failed');
    await (init?.body as ReadableStream | undefined)?.cancel();
    if (url.pathname === '/health') return Response.json({ status: 'ok', protocol: 1 });
    if (url.pathname === '/v1/capabilities') return Response.json({ name: 'native', version: url.port, encoders: [], decoders: [], filters: [], muxers: [] });
    return Response.json({ code: 'BUSY', message: 'busy' }, { status: 503 });
  }) as typeof fetch;
}

describe('FFEDGE_WORKERS', () => {
  it('parses URLs with per-worker slots after #, one slot by default', () => {
    expect(parseWorkers(undefined)).toEqual([]);
    expect(parseWorkers(' ')).toEqual([]);
    expect(parseWorkers('http://10.0.0.7:8788#4, https://w2.internal:8788/ ,http://h:1/base#2')).toEqual([
      { url: 'http://10.0.0.7:8788', slots: 4 },
      { url: 'https://w2.internal:8788', slots: 1 },
      { url: 'http://h:1/base', slots: 2 },
    ]);
  });

  it('refuses what is not a worker URL, credentials in it, bad slot counts and duplicates', () => {
    for (const bad of ['nope', 'ftp://h:1', 'http://user:pw@h:1', 'http://h:1?x=1', 'http://h:1#0', 'http://h:1#x', 'http://h:1#999', 'http://h:1,http://h:1/']) {
      expect(() => parseWorkers(bad), bad).toThrow(/FFEDGE_WORKERS/);
    }
  });

  it('is off without workers and refuses workers without a token', () => {
    expect(loadFleetConfig({})).toBeNull();
    expect(() => loadFleetConfig({ FFEDGE_WORKERS: A })).toThrow(/FFEDGE_WORKER_TOKEN/);
    expect(() => loadFleetConfig({ FFEDGE_WORKERS: A, FFEDGE_WORKER_TOKEN: 'short' })).toThrow(/FFEDGE_WORKER_TOKEN/);
    expect(loadFleetConfig({ FFEDGE_WORKERS: A, FFEDGE_WORKER_TOKEN: 'x'.repeat(16) })).toMatchObject({ healthIntervalMs: 5_000, cooldownMs: 30_000 });
  });
});

describe('fleet dispatch', () => {
  it('fills each worker up to its slots, skips jobs routed to wasm, and takes the next job when a slot frees', async () => {
    const started: { job: Job; release: () => void }[] = [];
    fleet = createFleet({
      workers: [
        { url: A, slots: 2 },
        { url: B, slots: 1 },
      ],
      token: 'x'.repeat(16),
      db: store.db,
      owner: 'fleet-test',
      leaseMs: 60_000,
      pollMs: 20,
      healthIntervalMs: 20,
      clock: Date.now,
      log: quiet,
      fetch: fakeWorkers({ [A]: true, [B]: true }),
      run: (job) => new Promise<AttemptOutcome>((release) => started.push({ job, release: () => release({ status: 'completed' }) })),
    });
    const wasm = await queue('wasm');
    const native = [await queue(null), await queue('native'), await queue(null), await queue('native')];
    fleet.start();
    await expect.poll(() => started.length).toBe(3);
    expect(fleet.status().map((w) => [w.url, w.busy, w.state])).toEqual([
      [A, 2, 'up'],
      [B, 1, 'up'],
    ]);
    expect(started.map((s) => s.job.id)).toEqual(native.slice(0, 3).map((j) => j.id));
    expect(started.every((s) => s.job.status === 'processing' && s.job.leaseOwner === 'fleet-test')).toBe(true);

    started[0]!.release();
    await expect.poll(() => started.length).toBe(4);
    expect(started[3]!.job.id).toBe(native[3]!.id);
    await new Promise((r) => setTimeout(r, 100));
    expect(started.map((s) => s.job.id)).not.toContain(wasm.id);
    expect(fleet.running()).toBe(3);
    for (const s of started) s.release();
    await expect.poll(() => fleet!.running()).toBe(0);
  });

  it('takes jobs routed to wasm too when told to (a server that runs nothing itself)', async () => {
    const started: Job[] = [];
    fleet = createFleet({
      workers: [{ url: A, slots: 2 }],
      token: 'x'.repeat(16),
      db: store.db,
      owner: 'fleet-test',
      leaseMs: 60_000,
      pollMs: 20,
      healthIntervalMs: 20,
      clock: Date.now,
      log: quiet,
      fetch: fakeWorkers({ [A]: true }),
      anyEngine: true,
      run: async (job) => {
        started.push(job);
        return { status: 'completed' };
      },
    });
    const wasm = await queue('wasm');
    fleet.start();
    await expect.poll(() => started.map((j) => j.id)).toEqual([wasm.id]);
  });

  it('a worker that loses a run or fails its health check is left out for the cool-down, then back after a passing check', async () => {
    // The breaker keeps time by Date.now(): only that is stood still; timers run as they do.
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const advance = (ms: number) => void (now += ms);
    const up: Record<string, boolean> = { [A]: true };
    const outcomes: string[] = [];
    fleet = createFleet({
      workers: [{ url: A, slots: 1 }],
      token: 'x'.repeat(16),
      db: store.db,
      owner: 'fleet-test',
      leaseMs: 60_000,
      pollMs: 20,
      healthIntervalMs: 20,
      cooldownMs: 30_000,
      clock: Date.now,
      log: quiet,
      fetch: fakeWorkers(up),
      run: async (_job, _shutdown, worker: EngineEndpoint): Promise<AttemptOutcome> => {
        // The fake worker answers 503: the run fails as the worker's fault.
        const run = { args: ['-version'], expectedDurationS: null, timeoutMs: 1000, inputs: [], signal: new AbortController().signal, onOutput: async () => {} };
        const code = await runRemote(worker, run).then(
          () => 'done',
          (e: EngineError) => e.code,
        );
        outcomes.push(code);
        return { status: 'failed', requeued: true, code };
      },
    });
    const ready = () => fleet!.readiness.check(new AbortController().signal).then(() => true, () => false);
    fleet.start();
    await expect.poll(ready).toBe(true);

    await queue();
    await expect.poll(() => outcomes).toEqual(['ENGINE_UNAVAILABLE']);
    expect(fleet.status()[0]).toMatchObject({ state: 'down', retry_at: now + 30_000 });
    expect(await ready()).toBe(false);
    // Healthy again, but still cooling down: no job goes to it.
    await queue();
    await new Promise((r) => setTimeout(r, 100));
    expect(outcomes).toHaveLength(1);
    expect(fleet.status()[0]!.state).toBe('down');

    // After the cool-down, a passing health check closes the breaker and the waiting job runs (and is refused again).
    advance(30_001);
    await expect.poll(() => outcomes).toEqual(['ENGINE_UNAVAILABLE', 'ENGINE_UNAVAILABLE']);
    advance(30_001);
    await expect.poll(() => fleet!.status()[0]!.state).toBe('up');
    expect(await ready()).toBe(true);

    // A failed health check opens it too.
    up[A] = false;
    await expect.poll(() => fleet!.status()[0]!.state).toBe('down');
    expect(await ready()).toBe(false);
  });

  it('withFleet drives the pool and the fleet as one', async () => {
    const calls: string[] = [];
    const pool = {
      start: () => void calls.push('pool.start'),
      stop: async (_graceMs: number) => void calls.push('pool.stop'),
      queued: async (_job: { id: string; kind: string; priority: number }) => void calls.push('pool.queued'),
      running: () => 2,
    };
    expect(withFleet(null, pool)).toBe(pool);
    fleet = createFleet({
      workers: [{ url: A, slots: 1 }],
      token: 'x'.repeat(16),
      db: store.db,
      owner: 'o',
      leaseMs: 1000,
      pollMs: 1000,
      clock: Date.now,
      log: quiet,
      fetch: fakeWorkers({}),
      run: async () => ({ status: 'completed' }),
    });
    const both = withFleet(fleet, pool);
    both.start();
    await both.queued({ id: 'x', kind: 'convert', priority: 0 });
    expect(both.running()).toBe(2);
    await both.stop(0);
    expect(calls).toEqual(['pool.start', 'pool.queued', 'pool.stop']);
  });
});
