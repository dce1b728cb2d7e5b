/**
 * The engine protocol (src/engine/protocol.ts), the native engine service (container/service.ts) and the protocol's
 * client (src/engine/protocol-client.ts) against it over real HTTP on 127.0.0.1, with real ffmpeg on tiny media.
 */
import { serve, type ServerType } from '@hono/node-server';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNativeService } from '../../../container/service.js';
import { EngineError, type RunSpec } from '../../../src/engine/engine.js';
import { listFiles, openFile } from '../../../src/engine/files.js';
import { createNativeEngine } from '../../../src/engine/native.js';
import { capabilitiesOf, httpEndpoint, probeRemote, runRemote, type EngineEndpoint } from '../../../src/engine/protocol-client.js';
import type { EngineService } from '../../../src/engine/protocol-server.js';
import { encodeLine, frameBody, FrameReader, isSafeRelativePath, ProtocolError } from '../../../src/engine/protocol.js';
import type { Progress } from '../../../src/media/progress-types.js';
import { ffprobe, makeClip } from '../../helpers/media.js';
import { ffmpegPidsUnder } from '../../helpers/procs.js';

const TOKEN = 'worker-test-token-0123456789';
const PROGRESS = ['-progress', 'pipe:1', '-nostats'];
const quiet = { info() {}, warn() {}, error() {} };

let root: string;
let clip: string;

interface Running {
  url: string;
  tmp: string;
  worker: EngineService;
  close(): Promise<void>;
}
const workers: Running[] = [];

async function startWorker(overrides: { slots?: number; inputLimitBytes?: number } = {}): Promise<Running> {
  const tmp = await mkdtemp(join(root, 'worker-'));
  const worker = createNativeService({
    engine: createNativeEngine(),
    token: TOKEN,
    tmpRoot: tmp,
    slots: overrides.slots ?? 2,
    inputLimitBytes: overrides.inputLimitBytes ?? 64 * 1024 * 1024,
    heartbeatMs: 200,
    log: quiet,
  });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: worker.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const running: Running = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tmp,
    worker,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  };
  workers.push(running);
  return running;
}

async function jobDir(): Promise<string> {
  const dir = await mkdtemp(join(root, 'job-'));
  await symlink(clip, join(dir, 'input')); // as the runner links a local: input
  return dir;
}

function spec(cwd: string, args: string[], overrides: Partial<RunSpec> = {}): RunSpec {
  return { args, cwd, expectedDurationS: null, timeoutMs: 60_000, signal: new AbortController().signal, ...overrides };
}

/**
 * An engine over the protocol that works on a dir, as a test needs it: every file of the dir goes up as an input, the
 * run's outputs come back into the dir.
 */
function remote(url: string, options: { silenceMs?: number } = {}) {
  const endpoint: EngineEndpoint = httpEndpoint({ url, token: TOKEN, ...options });
  const inputsOf = async (cwd: string) => {
    const { files, dirs } = await listFiles(cwd, { followLinks: true });
    return { inputs: files.map((file) => ({ path: file.path, size: file.size, open: () => openFile(file.absolute) })), dirs };
  };
  return {
    endpoint,
    async run(run: RunSpec) {
      const { inputs, dirs } = await inputsOf(run.cwd);
      return runRemote(endpoint, {
        ...run,
        inputs,
        dirs,
        async onOutput({ path, body }) {
          const target = join(run.cwd, ...path.split('/'));
          await mkdir(dirname(target), { recursive: true });
          await body.pipeTo(Writable.toWeb(createWriteStream(target, { flags: 'wx' })) as WritableStream<Uint8Array>);
        },
      });
    },
    async probe(file: string, options: { cwd: string }) {
      const { inputs } = await inputsOf(options.cwd);
      return probeRemote(endpoint, inputs.find((input) => input.path === file)!, { timeoutMs: 60_000, signal: new AbortController().signal });
    },
    capabilities: () => capabilitiesOf(endpoint),
  };
}

function streamOf(chunks: (string | number[])[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : new Uint8Array(chunk));
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ffedge-remote-'));
  clip = join(root, 'clip.mp4');
  await makeClip(clip, { seconds: 1, size: '160x120', audio: false });
});

afterAll(async () => {
  for (const worker of workers) await worker.close();
  await rm(root, { recursive: true, force: true });
});

describe('worker protocol: framing', () => {
  it('reads lines and exact byte counts across any chunking', async () => {
    const frames = new FrameReader(streamOf(['{"a":', '1}\n', [1, 2], [3, 10, 4], '{"b":2}\n']));
    expect(await frames.readLine()).toBe('{"a":1}');
    const got: number[] = [];
    await frames.readExactly(4, (chunk) => void got.push(...chunk));
    expect(got).toEqual([1, 2, 3, 10]);
    await frames.readExactly(1, (chunk) => void got.push(...chunk));
    expect(await frames.readLine()).toBe('{"b":2}');
    expect(await frames.atEnd()).toBe(true);
    expect(await frames.readLine()).toBeNull();
  });

  it('refuses an over-long line, a cut line and a file cut short', async () => {
    await expect(new FrameReader(streamOf(['x'.repeat(100)])).readLine(10)).rejects.toBeInstanceOf(ProtocolError);
    await expect(new FrameReader(streamOf(['{"a":1}'])).readLine()).rejects.toThrow(/inside a line/);
    await expect(new FrameReader(streamOf([[1, 2]])).readExactly(3, () => {})).rejects.toThrow(/inside a file/);
  });

  it('frames a header and files, and errors when a file is not its declared size', async () => {
    const file = (bytes: number[]) => ({ size: bytes.length, open: () => streamOf([bytes]) });
    const body = await collect(frameBody({ v: 1 }, [file([1, 2]), file([]), file([3])]));
    expect([...body]).toEqual([...encodeLine({ v: 1 }), 1, 2, 3]);
    await expect(collect(frameBody({}, [{ size: 3, open: () => streamOf([[1]]) }]))).rejects.toThrow(/before its declared size/);
    await expect(collect(frameBody({}, [{ size: 1, open: () => streamOf([[1, 2]]) }]))).rejects.toThrow(/longer than/);
  });

  it('allows only relative paths that stay inside the run dir', () => {
    for (const ok of ['input', 'out.mp4', 'thumbs/thumb_001.jpg', 'a-b_c.d']) expect(isSafeRelativePath(ok), ok).toBe(true);
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../b', './x', 'a//b', '.hidden', 'a/', 'x y', 'é', 'a\\b', '-i']) {
      expect(isSafeRelativePath(bad), bad).toBe(false);
    }
  });
});

describe('engine endpoints', () => {
  it("an endpoint by URL fetches with the exchange's own signal, which a copied Request's may stop following", async () => {
    // undici links a Request's signal to the one it was made with through a weak reference: once the Request is
    // collected, an abort no longer reaches a fetch that was given request.signal. The exchange's signal is kept.
    const seen: AbortSignal[] = [];
    const endpoint = httpEndpoint({
      url: 'http://127.0.0.1:9',
      token: TOKEN,
      fetch: (async (_url: string, init: RequestInit) => {
        seen.push(init.signal!);
        return new Response('{}', { status: 503 });
      }) as typeof fetch,
    });
    const controller = new AbortController();
    const request = new Request('http://engine/v1/capabilities', { signal: controller.signal });
    await endpoint.fetch(request, controller.signal);
    expect(seen[0]).toBe(controller.signal);
  });
});

describe('native worker over HTTP', () => {
  it('answers /health without a token and refuses /v1 without the right one', async () => {
    const worker = await startWorker();
    const health = await fetch(`${worker.url}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', protocol: 1 });
    for (const authorization of [undefined, 'Bearer nope', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const res = await fetch(`${worker.url}/v1/run`, {
        method: 'POST',
        headers: authorization ? { authorization } : {},
        body: '{"v":1}\n',
      });
      expect(res.status, authorization).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toEqual({ code: 'UNAUTHORIZED', message: expect.any(String) });
    }
    expect((await fetch(`${worker.url}/v1/capabilities`)).status).toBe(401);
    expect(await readdir(worker.tmp)).toEqual([]);
  });

  it('refuses unsafe paths, bad headers, short and long bodies with 400, keeping no dir', async () => {
    const worker = await startWorker();
    const post = (body: string) =>
      fetch(`${worker.url}/v1/run`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body });
    const header = (inputs: unknown, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ v: 1, args: ['-version'], expected_duration_s: null, timeout_ms: 1000, inputs, ...extra }) + '\n';
    const cases = [
      header([{ path: '../escape', size: 1 }]) + 'x',
      header([{ path: '/etc/passwd', size: 1 }]) + 'x',
      header([{ path: 'input', size: 5 }]) + 'abc',
      header([{ path: 'input', size: 1 }]) + 'abc',
      header([], { v: 2 }),
      header([], { shell: true }),
      'not json\n',
    ];
    for (const body of cases) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect((await res.json()) as { code: string }).toMatchObject({ code: 'BAD_REQUEST' });
    }
    const limited = await startWorker({ inputLimitBytes: 2 });
    const tooLarge = await fetch(`${limited.url}/v1/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: header([{ path: 'input', size: 3 }]) + 'abc',
    });
    expect(tooLarge.status).toBe(413);
    expect(await readdir(worker.tmp)).toEqual([]);
    expect(await readdir(limited.tmp)).toEqual([]);
  });

  it('runs a job: inputs up, progress across, outputs down into the job dir; the worker keeps nothing', async () => {
    const worker = await startWorker();
    const engine = remote(worker.url);
    const dir = await jobDir();
    await writeFile(join(dir, 'overlay.txt'), 'second input');
    await mkdir(join(dir, 'sub')); // an output dir made before the run, as a plan with subfolders needs
    const progress: Progress[] = [];
    const result = await engine.run(
      spec(dir, [...PROGRESS, '-i', 'file:input', '-vf', 'scale=80:60', '-c:v', 'libx264', '-preset', 'ultrafast', 'sub/out.mp4', '-f', 'image2', '-frames:v', '1', 'thumb.png'], {
        expectedDurationS: 1,
        onProgress: (p) => progress.push(p),
      }),
    );
    expect(typeof result.logTail).toBe('string');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ stage: 'processing', percentage: 100 });
    const probed = await ffprobe(join(dir, 'sub', 'out.mp4'));
    expect(probed.streams[0]).toMatchObject({ codec_type: 'video', width: 80, height: 60 });
    expect((await readFile(join(dir, 'thumb.png'))).subarray(1, 4).toString()).toBe('PNG');
    expect((await readdir(dir)).sort()).toEqual(['input', 'overlay.txt', 'sub', 'thumb.png']);
    await expect.poll(() => readdir(worker.tmp)).toEqual([]);
    expect(worker.worker.running()).toBe(0);
  });

  it('probes remotely and reports ffmpeg failures with a scrubbed log', async () => {
    const worker = await startWorker();
    const engine = remote(worker.url);
    const dir = await jobDir();
    const probe = await engine.probe('input', { cwd: dir });
    expect(probe.streams[0]).toMatchObject({ type: 'video', width: 160, height: 120 });
    await writeFile(join(dir, 'junk'), 'not media');
    await expect(engine.probe('junk', { cwd: dir })).rejects.toMatchObject({ code: 'PROBE_FAILED' });

    const failed = await engine.run(spec(dir, ['-i', 'file:missing.mp4', 'out.mp4'])).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(EngineError);
    expect(failed).toMatchObject({ code: 'FFMPEG_FAILED' });
    expect((failed as EngineError).logTail).toMatch(/missing\.mp4/);
    expect((failed as EngineError).logTail).not.toContain(worker.tmp);
    await expect.poll(() => readdir(worker.tmp)).toEqual([]);
  });

  it('the client aborting kills the remote ffmpeg and removes the run dir', async () => {
    const worker = await startWorker();
    const engine = remote(worker.url);
    const dir = await jobDir();
    const abort = new AbortController();
    let started!: () => void;
    const progressed = new Promise<void>((resolve) => (started = resolve));
    // -re keeps the CPU low: a long run at real-time speed.
    const running = engine.run(
      spec(dir, [...PROGRESS, '-re', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=10', '-t', '600', '-f', 'null', '-'], {
        signal: abort.signal,
        onProgress: () => started(),
      }),
    );
    await progressed;
    expect(await ffmpegPidsUnder(worker.tmp)).toHaveLength(1);
    abort.abort();
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect.poll(() => ffmpegPidsUnder(worker.tmp), { timeout: 2_000, interval: 50 }).toEqual([]);
    await expect.poll(() => readdir(worker.tmp), { timeout: 2_000, interval: 50 }).toEqual([]);
    await expect.poll(() => worker.worker.running(), { timeout: 2_000 }).toBe(0);
  });

  it('a client that goes away during the upload leaves no dir and frees its slot', async () => {
    const worker = await startWorker({ slots: 1 });
    const abort = new AbortController();
    const header = { v: 1, args: ['-version'], expected_duration_s: null, timeout_ms: 1000, inputs: [{ path: 'input', size: 1_000_000 }] };
    let sent!: () => void;
    const halfSent = new Promise<void>((resolve) => (sent = resolve));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encodeLine(header));
        controller.enqueue(new Uint8Array(1000));
        sent();
        // ...and the rest never comes.
      },
    });
    const request = fetch(`${worker.url}/v1/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body,
      signal: abort.signal,
      duplex: 'half',
    } as RequestInit).catch(() => null);
    await halfSent;
    await expect.poll(async () => (await readdir(worker.tmp)).length).toBe(1);
    abort.abort();
    await request;
    await expect.poll(() => readdir(worker.tmp), { timeout: 2_000 }).toEqual([]);
    await expect.poll(() => worker.worker.running(), { timeout: 2_000 }).toBe(0);
  });

  it('a full worker answers busy before reading the body; an unreachable or dead one is ENGINE_UNAVAILABLE', async () => {
    const worker = await startWorker({ slots: 1 });
    const engine = remote(worker.url);
    const dir = await jobDir();
    const abort = new AbortController();
    let started!: () => void;
    const progressed = new Promise<void>((resolve) => (started = resolve));
    const long = engine.run(
      spec(dir, [...PROGRESS, '-re', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=10', '-t', '600', '-f', 'null', '-'], {
        signal: abort.signal,
        onProgress: () => started(),
      }),
    );
    await progressed;
    await expect(engine.run(spec(await jobDir(), ['-version']))).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });

    // The worker goes away mid-run: the run is lost, not failed.
    await worker.close();
    await expect(long).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
    abort.abort();
    await expect(engine.run(spec(await jobDir(), ['-version']))).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
    await expect(engine.capabilities()).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
    await expect.poll(() => ffmpegPidsUnder(worker.tmp), { timeout: 2_000, interval: 50 }).toEqual([]);
  });

  it('a worker that goes silent is taken as lost after the idle limit', async () => {
    // A fake worker: accepts the run, says it started, then nothing.
    const silent = serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: async (request) => {
        await request.arrayBuffer();
        return new Response(new ReadableStream({ start: (c) => c.enqueue(encodeLine({ type: 'started', v: 1 })) }));
      },
    });
    await new Promise((r) => silent.once('listening', r));
    try {
      const engine = remote(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, { silenceMs: 300 });
      const dir = await mkdtemp(join(root, 'job-'));
      await mkdir(join(dir, 'sub'));
      await expect(engine.run(spec(dir, ['-version']))).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE', message: 'the worker stopped responding' });
    } finally {
      (silent as unknown as { closeAllConnections(): void }).closeAllConnections();
      silent.close();
    }
  });
});
