/**
 * Analyze jobs on Workers: VMAF needs libvmaf, which only the Transcoder's native worker has (the image's static
 * ffmpeg; here the stand-in started by test/workers/native-worker.setup.ts with the same FFEDGE_VMAF_* settings), so
 * routing sends the job there; PSNR and SSIM of a small pair fit the wasm Worker, which starts sooner.
 */
import { describe, expect, it } from 'vitest';
import { api, dataOf, media, nativeRunning, newKey, type JobView } from './helpers.js';

interface Summary {
  mean: number;
  frames: number;
}

async function analyze(c: ReturnType<typeof api>, body: Record<string, unknown>): Promise<JobView> {
  const res = await c.fetch('/api/v1/analyze', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 202) throw new Error(`analyze: ${res.status} ${await res.text()}`);
  return (await res.json()) as JobView;
}

describe('analyze jobs on Workers', () => {
  it('sends a VMAF job to the Transcoder container, which has libvmaf, and completes it', async () => {
    const c = api((await newKey()).key);
    const reference = await c.upload(media('small'), 'small.mp4');
    const input = await c.upload(media('crf40'), 'crf40.mp4');
    // No metrics named: all three, since an engine here (the container) has libvmaf.
    const job = await analyze(c, { input, reference });
    expect(job.engine).toBe('native');

    const events = await c.events(job.id);
    expect(dataOf(events, 'status').map((d) => d.status)).toEqual(['queued', 'processing', 'completed']);
    const done = await c.get(job.id);
    expect(done).toMatchObject({ status: 'completed', engine: 'native', attempts: 1, error: null });
    const result = done.result as { metrics: Record<string, Summary>; frames_compared: number; vmaf_model: string };
    // 2 s at 10 fps.
    expect(result.frames_compared).toBe(20);
    expect(Object.keys(result.metrics)).toEqual(['vmaf', 'psnr', 'ssim']);
    expect(result.vmaf_model).toBe('vmaf_v0.6.1');
    expect(result.metrics.vmaf!.mean).toBeGreaterThan(10);
    expect(result.metrics.vmaf!.mean).toBeLessThan(95);
    expect(result.metrics.ssim!.mean).toBeGreaterThan(0.5);
    expect(result.metrics.ssim!.mean).toBeLessThan(1);

    expect(done.outputs.map((o) => o.name)).toEqual(['frames.csv', 'frames.json']);
    const res = await c.fetch(`/api/v1/jobs/${job.id}/outputs/frames.csv`);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await res.text()).trim().split('\n');
    expect(lines[0]).toBe('frame,time_s,vmaf,psnr,psnr_y,ssim,ssim_y');
    expect(lines).toHaveLength(21);
    expect(await nativeRunning()).toBe(0);
  });

  it('runs PSNR and SSIM of a small pair on the wasm Worker', async () => {
    const c = api((await newKey()).key);
    const reference = await c.upload(media('small'), 'small.mp4');
    const input = await c.upload(media('crf40'), 'crf40.mp4');
    const job = await analyze(c, { input, reference, metrics: ['psnr', 'ssim'] });
    expect(job.engine).toBe('wasm');
    await c.events(job.id);
    const done = await c.get(job.id);
    expect(done).toMatchObject({ status: 'completed', engine: 'wasm', error: null });
    const result = done.result as { metrics: Record<string, Summary>; frames_compared: number };
    expect(result.frames_compared).toBe(20);
    expect(result.metrics.psnr!.frames).toBe(20);
  });
});
