/**
 * Global setup of the workerd projects (runs in Node): starts the real native worker (`container/main.ts`, as
 * `npm run worker` does) on 127.0.0.1 with real ffmpeg, and hands its URL and token to vitest.config.ts, which
 * points the Transcoder's container port at it (FFEDGE_TRANSCODER_LOCAL_URL, durable-objects/host-container.ts).
 * Docker cannot run here; everything from the JobCoordinator to this worker's HTTP API is the production path.
 * The worker is reached through test/helpers/faulty-engine.ts, which passes everything through except the runs of
 * jobs that ask it to misbehave (test/workers/jobs/faults.test.ts).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { startFaultyEngine } from '../helpers/faulty-engine.js';
import { freePort } from '../helpers/process.js';
import { VMAF_ENV } from '../helpers/vmaf.js';

declare module 'vitest' {
  export interface ProvidedContext {
    nativeWorker: { url: string; token: string };
  }
}

export default async function setup(project: TestProject) {
  const token = randomBytes(24).toString('base64url');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'container/main.ts'], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      FFEDGE_WORKER_TOKEN: token,
      FFEDGE_WORKER_SLOTS: '4',
      FFEDGE_WORKER_HEARTBEAT_MS: '500',
      // As the image has it: the static ffmpeg with libvmaf, and the models.
      ...VMAF_ENV,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('the native worker did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const faulty = await startFaultyEngine(url);
  project.provide('nativeWorker', { url: faulty.url, token });
  return async () => {
    await faulty.close();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
}
