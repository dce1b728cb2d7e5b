/** Media made at test time with the real ffmpeg, and ffprobe to check results. */
import { spawn } from 'node:child_process';

export function run(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`${command} exited ${code}: ${stderr.slice(-2000)}`))));
  });
}

/** A clip with a test pattern and a sine tone. */
export async function makeClip(file: string, options: { seconds?: number; size?: string; rate?: number; audio?: boolean } = {}) {
  const { seconds = 2, size = '320x240', rate = 25, audio = true } = options;
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`,
    ...(audio ? ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`] : []),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    ...(audio ? ['-c:a', 'aac', '-shortest'] : []),
    file,
  ]);
}

export interface Probed {
  format: { format_name: string; duration?: string };
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; duration?: string }[];
}

export async function ffprobe(file: string): Promise<Probed> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file]);
  return JSON.parse(stdout) as Probed;
}

/** A clip whose left half is one flat colour and right half another (for reading pixels back after a crop). */
export async function makeHalvesClip(file: string, options: { left: string; right: string; seconds?: number; size?: string }) {
  const { left, right, seconds = 2, size = '640x360' } = options;
  const [width, height] = size.split('x').map(Number) as [number, number];
  const half = `${width / 2}x${height}`;
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `color=c=${left}:s=${half}:r=25:d=${seconds}`,
    '-f', 'lavfi', '-i', `color=c=${right}:s=${half}:r=25:d=${seconds}`,
    '-filter_complex', '[0:v][1:v]hstack=inputs=2[v]', '-map', '[v]',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    file,
  ]);
}
