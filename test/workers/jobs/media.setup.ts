/**
 * Global setup of the workers-jobs project (runs in Node): tiny media made with the real ffmpeg, handed to the tests
 * in workerd (which have neither ffmpeg nor a file system) as base64.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { makeClip, run } from '../../helpers/media.js';

declare module 'vitest' {
  export interface ProvidedContext {
    media: {
      /** 2 s, 160x120, 10 fps, H.264 + AAC. */
      small: string;
      /** 120 s, 320x240, 25 fps, H.264 at a low quality (small), no audio: long enough to cancel mid-run. */
      long: string;
      /** `small` encoded again at crf 40: a distorted copy to analyze against it. */
      crf40: string;
      /** 4 s, 320x240, 25 fps, H.264 + AAC: a clip to package. */
      ladder: string;
    };
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'ffedge-workers-media-'));
  try {
    await makeClip(join(dir, 'small.mp4'), { seconds: 2, size: '160x120', rate: 10 });
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=120',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '45', '-g', '250', '-pix_fmt', 'yuv420p',
      join(dir, 'long.mp4'),
    ]);
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', join(dir, 'small.mp4'), '-an', '-c:v', 'libx264', '-crf', '40', '-pix_fmt', 'yuv420p', join(dir, 'crf40.mp4')]);
    const base64 = async (name: string) => (await readFile(join(dir, name))).toString('base64');
    await makeClip(join(dir, 'ladder.mp4'), { seconds: 4, size: '320x240', rate: 25 });
    project.provide('media', { small: await base64('small.mp4'), long: await base64('long.mp4'), crf40: await base64('crf40.mp4'), ladder: await base64('ladder.mp4') });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
