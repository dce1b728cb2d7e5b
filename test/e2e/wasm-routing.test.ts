/**
 * Engine routing on the real Node service: with native ffmpeg and the wasm engine, and with the wasm engine alone
 * (FFMPEG_PATH pointing nowhere). Jobs carry the engine and the reason; what no engine can run, or the forced
 * engine cannot, is refused at submission with 422 naming the capability; POST /estimate answers from a probe.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type JobView } from '../helpers/api.js';
import { ffprobe, makeClip } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/node-server.js';

type Routed = JobView & { engine: string | null; engine_reason: string | null };

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors: { pointer?: string; message: string; allowed?: string[]; suggestion?: string }[];
}

async function post(server: TestServer, key: string, path: string, body: unknown): Promise<Response> {
  return server.fetch(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function outputFile(server: TestServer, api: ReturnType<typeof client>, job: JobView): Promise<string> {
  const output = job.outputs[0]!;
  const res = await api.download(output.url);
  expect(res.status).toBe(200);
  const file = join(server.dir, `${job.id}-${output.name}`);
  await writeFile(file, new Uint8Array(await res.arrayBuffer()));
  return file;
}

describe('routing with native ffmpeg and the wasm engine', () => {
  let server: TestServer;
  let key: string;
  let api: ReturnType<typeof client>;
  let input: string;

  beforeAll(async () => {
    server = await startTestServer({ FFEDGE_POOL_SIZE: '1', FFEDGE_CONCURRENT_JOBS: '20' });
    key = await server.key();
    api = client(server, key);
    const clip = join(server.dir, 'clip.mp4');
    await makeClip(clip, { seconds: 2 });
    input = await api.upload(clip);
  });
  afterAll(async () => server?.close());

  it('lists both engines, and what wasm lists but cannot run', async () => {
    const res = await server.fetch('/api/v1/capabilities', { headers: api.headers() });
    const caps = (await res.json()) as {
      engines: { name: string; encoders: string[]; memory_limit_bytes: number | null; excluded?: { name: string; reason: string }[] }[];
    };
    expect(caps.engines.map((e) => e.name)).toEqual(['native', 'wasm']);
    const [native, wasm] = caps.engines;
    expect(native!.memory_limit_bytes).toBeNull();
    expect(native!.encoders).toContain('libvpx-vp9');
    expect(wasm!.memory_limit_bytes).toBeGreaterThan(0);
    expect(wasm!.encoders).not.toContain('libvpx-vp9');
    expect(wasm!.excluded?.map((e) => e.name)).toEqual(expect.arrayContaining(['libvpx-vp9', 'libx265']));
  });

  it('routes to native, and says why on the job', async () => {
    const job = (await api.convert({ input, output: 'mp4' })) as Routed;
    expect(job.engine).toBe('native');
    expect(job.engine_reason).toMatch(/least expected time/);
    expect((await api.waitFor(job.id, ['completed', 'failed'])).status).toBe('completed');
  });

  it('runs a job forced to wasm on wasm, with a valid output', async () => {
    const job = (await api.convert({ input, output: { format: 'webm', video: { codec: 'vp8' } }, options: { engine: 'wasm' } })) as Routed;
    expect(job).toMatchObject({ engine: 'wasm', engine_reason: expect.stringMatching(/forced by options\.engine/) });
    const done = await api.waitFor(job.id, ['completed', 'failed']);
    expect(done.error).toBeNull();
    const probe = await ffprobe(await outputFile(server, api, done));
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['vp8', 'opus']);
  });

  it('routes what wasm cannot run (vp9, h265) to native', async () => {
    for (const output of [{ format: 'webm', video: { codec: 'vp9' } }, { format: 'mp4', video: { codec: 'h265' } }]) {
      const job = (await api.convert({ input, output })) as Routed;
      expect(job.engine).toBe('native');
    }
  });

  it('refuses a job forced to wasm that wasm cannot do with 422 naming the capability', async () => {
    const res = await post(server, key, '/api/v1/convert', { input, output: { format: 'webm', video: { codec: 'vp9' } }, options: { engine: 'wasm' } });
    expect(res.status).toBe(422);
    const problem = (await res.json()) as Problem;
    expect(problem.code).toBe('ENGINE_INCAPABLE');
    expect(problem.detail).toMatch(/^Engine wasm cannot run this job: no working encoder libvpx-vp9/);
    expect(problem.errors).toEqual([
      expect.objectContaining({ pointer: '/output/video/codec', message: expect.stringContaining('libvpx-vp9'), suggestion: expect.stringContaining('vp8') }),
    ]);

    const h265 = await post(server, key, '/api/v1/convert', { input, output: { format: 'mp4', video: { codec: 'h265' } }, options: { engine: 'wasm' } });
    expect(h265.status).toBe(422);
    expect(((await h265.json()) as Problem).errors[0]!.message).toContain('libx265');
  });

  it('cancelling a wasm job ends its thread', async () => {
    const wasm = server.platform.wasm!;
    const slow = { input, output: { format: 'mp4', video: { resolution: '1080p', upscale: true, preset: 'veryslow' } }, options: { engine: 'wasm' } };
    const job = await api.convert(slow);
    await api.waitFor(job.id, ['processing'], 60_000, (j) => j.progress.stage === 'processing');
    expect(wasm.threads().some((t) => t.state === 'busy')).toBe(true);
    expect((await api.cancel(job.id)).status).toBeLessThan(300);
    await api.waitFor(job.id, ['cancelled']);
    await expect.poll(() => wasm.threads().filter((t) => t.state === 'busy').length, { timeout: 10_000 }).toBe(0);
  });

  it('estimates from a probe: engine, stream copy, outputs, duration, size and time', async () => {
    const res = await post(server, key, '/api/v1/estimate', { input, output: { format: 'webm', video: { codec: 'vp8' } } });
    expect(res.status).toBe(200);
    const estimate = (await res.json()) as {
      engine: string;
      engine_reason: string;
      stream_copy: boolean;
      input: { size_bytes: number; duration_s: number; probed: boolean; partial: boolean };
      outputs: { name: string; content_type: string }[];
      expected: { duration_s: number; size_bytes: number; processing_s: number };
      engines: { name: string; capable: boolean; processing_s: number; missing: string[] }[];
    };
    expect(estimate).toMatchObject({
      engine: 'native',
      stream_copy: false,
      input: { probed: true, partial: false },
      outputs: [{ name: 'output.webm', content_type: 'video/webm' }],
    });
    expect(estimate.input.duration_s).toBeCloseTo(2, 1);
    expect(estimate.expected.duration_s).toBeCloseTo(2, 1);
    expect(estimate.expected.size_bytes).toBeGreaterThan(10_000);
    expect(estimate.expected.processing_s).toBeGreaterThan(0);
    expect(estimate.engines.map((e) => [e.name, e.capable])).toEqual([
      ['native', true],
      ['wasm', true],
    ]);

    // The same codecs in another container: nothing to encode.
    const copy = (await (await post(server, key, '/api/v1/estimate', { input, output: 'mkv' })).json()) as typeof estimate;
    expect(copy.stream_copy).toBe(true);
    expect(copy.expected.size_bytes).toBe(copy.input.size_bytes);
    expect(copy.expected.processing_s).toBeLessThan(estimate.expected.processing_s);
  });

  it('estimates refuse what submission would refuse', async () => {
    const forced = await post(server, key, '/api/v1/estimate', { input, output: { format: 'webm', video: { codec: 'vp9' } }, options: { engine: 'wasm' } });
    expect(forced.status).toBe(422);
    expect(((await forced.json()) as Problem).code).toBe('ENGINE_INCAPABLE');
    const unknown = await post(server, key, '/api/v1/estimate', { input: 'upload:01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c', output: 'mp4' });
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as Problem).code).toBe('INPUT_NOT_FOUND');
  });
});

describe('routing without native ffmpeg: wasm runs what it can', () => {
  let server: TestServer;
  let key: string;
  let api: ReturnType<typeof client>;
  let input: string;

  beforeAll(async () => {
    server = await startTestServer({
      FFEDGE_POOL_SIZE: '1',
      FFEDGE_CONCURRENT_JOBS: '20',
      FFMPEG_PATH: '/nonexistent/ffmpeg',
      FFPROBE_PATH: '/nonexistent/ffprobe',
    });
    key = await server.key();
    api = client(server, key);
    const clip = join(server.dir, 'clip.mp4');
    await makeClip(clip, { seconds: 2 });
    input = await api.upload(clip);
  });
  afterAll(async () => server?.close());

  it('lists the wasm engine only, and is ready', async () => {
    const caps = (await (await server.fetch('/api/v1/capabilities', { headers: api.headers() })).json()) as { engines: { name: string }[] };
    expect(caps.engines.map((e) => e.name)).toEqual(['wasm']);
    expect((await server.fetch('/health/ready')).status).toBe(200);
  });

  it.each([
    ['h264 mp4', 'mp4', ['h264', 'aac']],
    ['mp3', 'mp3', ['mp3']],
  ] as const)('runs %s on wasm', async (_name, output, codecs) => {
    const job = (await api.convert({ input, output })) as Routed;
    expect(job.engine).toBe('wasm');
    expect(job.engine_reason).toMatch(/only engine/);
    const done = await api.waitFor(job.id, ['completed', 'failed']);
    expect(done.error).toBeNull();
    const probe = await ffprobe(await outputFile(server, api, done));
    expect(probe.streams.map((s) => s.codec_name)).toEqual(codecs);
  });

  it('probes on wasm', async () => {
    const res = await post(server, key, '/api/v1/probe', { input });
    const job = (await res.json()) as JobView;
    const done = res.status === 200 ? job : await api.waitFor(job.id, ['completed', 'failed']);
    expect(done.result).toMatchObject({ format: expect.stringContaining('mp4'), streams: [{ codec: 'h264' }, { codec: 'aac' }] });
  });

  it('refuses vp9 with 422 naming the capability wasm lacks', async () => {
    const res = await post(server, key, '/api/v1/convert', { input, output: { format: 'webm', video: { codec: 'vp9' } } });
    expect(res.status).toBe(422);
    const problem = (await res.json()) as Problem;
    expect(problem.code).toBe('ENGINE_INCAPABLE');
    expect(problem.detail).toMatch(/^No engine can run this job: wasm: no working encoder libvpx-vp9/);
  });

  it('refuses a job forced to native with 422 naming the engines there are', async () => {
    const res = await post(server, key, '/api/v1/convert', { input, output: 'mp4', options: { engine: 'native' } });
    expect(res.status).toBe(422);
    const problem = (await res.json()) as Problem;
    expect(problem.code).toBe('ENGINE_UNAVAILABLE');
    expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/options/engine', allowed: ['wasm'] })]);
  });
});
