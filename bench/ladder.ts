/**
 * A 3-rung ladder in one run (ffedge's stream plan: one decode, a split into one scaler per rung) against the old
 * service's way (one ffmpeg run per rung, each decoding the input again), on the same machine in the same run, with
 * the same encoder settings. Prints each way's median wall time over interleaved runs and their ratio.
 *
 * `npm run bench:ladder` (or `-- --runs 5 --seconds 12`). Needs ffmpeg on PATH. Compare ratios from one run.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { planStream } from '../src/media/stream-plan.js';
import { StreamRequestSchema } from '../src/schemas/stream.js';

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const runs = arg('runs', 3);
const seconds = arg('seconds', 12);

function ffmpeg(args: string[], cwd: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`ffmpeg failed: ${stderr}`))));
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const dir = await mkdtemp(join(tmpdir(), 'ffedge-bench-ladder-'));
try {
  await ffmpeg(
    ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=duration=${seconds}`, '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-f', 'mp4', 'input'],
    dir,
  );
  const rungs = [
    { height: 720, video: { bitrate: '2.5M', preset: 'veryfast' } },
    { height: 480, video: { bitrate: '1.2M', preset: 'veryfast' } },
    { height: 360, video: { bitrate: '700k', preset: 'veryfast' } },
  ];
  const probe = { format: 'mov,mp4', duration_s: seconds, size: null, bit_rate: null, streams: [{ index: 0, type: 'video' as const, codec: 'h264', width: 1280, height: 720, fps: 30 }, { index: 1, type: 'audio' as const, codec: 'aac', sample_rate: 44100, channels: 1 }] };
  const limits = loadConfig({}).limits;
  const plan = (ladder: typeof rungs) => {
    const made = planStream(StreamRequestSchema.parse({ input: 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e', format: 'hls', ladder }), [probe], limits);
    if (Array.isArray(made)) throw new Error(JSON.stringify(made));
    return made;
  };
  const together = plan(rungs);
  // The old way: the same rungs, one run each (each a one-rung plan of the same planner, so settings match).
  const apart = rungs.map((rung) => plan([rung]));

  // Each run works in a dir of its own, with the input linked in under the planner's file name.
  const runIn = async (work: string, made: ReturnType<typeof plan>) => {
    await mkdir(work, { recursive: true });
    await symlink(join(dir, 'input'), join(work, 'input')).catch(() => undefined);
    await Promise.all(made.dirs.map((d) => mkdir(join(work, d), { recursive: true })));
    return ffmpeg(made.args, work);
  };
  const oneRun: number[] = [];
  const perRung: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const mode of i % 2 === 0 ? (['one', 'per'] as const) : (['per', 'one'] as const)) {
      const work = join(dir, `run-${i}-${mode}`);
      if (mode === 'one') oneRun.push(await runIn(work, together));
      else {
        let total = 0;
        for (const [k, single] of apart.entries()) total += await runIn(join(work, String(k)), single);
        perRung.push(total);
      }
      await rm(work, { recursive: true, force: true });
    }
  }
  const one = median(oneRun);
  const per = median(perRung);
  console.log(`3-rung ladder (720p, 480p, 360p; ${seconds} s of 1280x720 at 30 fps; x264 veryfast), median of ${runs} interleaved runs:`);
  console.log(`  one run, one decode:      ${(one / 1000).toFixed(2)} s`);
  console.log(`  one run per rung (x3):    ${(per / 1000).toFixed(2)} s`);
  console.log(`  ratio one run / per rung: ${(one / per).toFixed(2)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
