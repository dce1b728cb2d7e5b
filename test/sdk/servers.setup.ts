/**
 * Global setup of the workers project (runs in Node): the real Node servers the SDK suite talks to from inside
 * workerd (test/workers/sdk.test.ts), and the clip as base64 (workerd has no ffmpeg and no file system).
 */
import { Buffer } from 'node:buffer';
import type { TestProject } from 'vitest/node';
import type { SdkTarget } from './suite.js';
import { startSdkServers } from './targets.js';

declare module 'vitest' {
  export interface ProvidedContext {
    sdkTarget: Omit<SdkTarget, 'clip'> & { clip: string };
  }
}

export default async function setup(project: TestProject) {
  const servers = await startSdkServers();
  project.provide('sdkTarget', { ...servers.target, clip: Buffer.from(servers.target.clip).toString('base64') });
  return () => servers.close();
}
