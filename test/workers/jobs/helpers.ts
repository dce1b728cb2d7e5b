/** Helpers for jobs run inside workerd: the API Worker's own fetch handler, keys, media, and the engines' bindings. */
import { env, exports } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { inject } from 'vitest';
import type { Db } from '../../../src/db/client.js';
import * as schema from '../../../src/db/schema.js';
import { probeRemote, type EngineEndpoint } from '../../../src/engine/protocol-client.js';
import { createKey } from '../../../src/security/api-keys.js';
import { readEvents, type SseEvent } from '../../helpers/sse.js';

export const worker = (exports as unknown as { default: Fetcher }).default;
export const db = drizzle(env.DB, { schema }) as unknown as Db;

export interface JobView {
  id: string;
  status: string;
  engine: string | null;
  attempts: number;
  progress: { percentage: number | null; stage: string };
  error: { code: string; message: string } | null;
  outputs: { name: string; size: number; content_type: string; url: string; sha256?: string }[];
  result: Record<string, unknown> | null;
}

export function media(name: 'small' | 'long' | 'crf40' | 'ladder'): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(inject('media')[name]), (c) => c.charCodeAt(0));
}

export async function newKey(): Promise<{ key: string; id: string; webhookSecret: string }> {
  return createKey(db, { name: 'jobs', now: Date.now() });
}

/** The API over the Worker's fetch handler, with one key. */
export function api(key: string) {
  const headers = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
  const fetch = (path: string, init: RequestInit = {}) =>
    worker.fetch(new Request(`https://ffedge.test${path}`, { ...init, headers: { ...headers(), ...(init.headers as Record<string, string>) } }));
  return {
    fetch,
    async upload(bytes: Uint8Array<ArrayBuffer>, filename: string): Promise<string> {
      const res = await fetch(`/api/v1/uploads?filename=${encodeURIComponent(filename)}`, { method: 'POST', body: bytes });
      if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { uri: string }).uri;
    },
    async convert(body: Record<string, unknown>): Promise<JobView> {
      const res = await fetch('/api/v1/convert', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status !== 202) throw new Error(`convert: ${res.status} ${await res.text()}`);
      return (await res.json()) as JobView;
    },
    async get(id: string): Promise<JobView> {
      return (await (await fetch(`/api/v1/jobs/${id}`)).json()) as JobView;
    },
    /** The job's SSE stream, read until `until` (by default its `done`). */
    async events(id: string, until?: (event: SseEvent) => boolean): Promise<SseEvent[]> {
      const res = await fetch(`/api/v1/jobs/${id}/events`);
      if (res.status !== 200) throw new Error(`events: ${res.status}`);
      return readEvents(res, until);
    },
  };
}

export type Api = ReturnType<typeof api>;

export function dataOf(events: SseEvent[], type: string): Record<string, unknown>[] {
  return events.filter((e) => e.event === type).map((e) => JSON.parse(e.data) as Record<string, unknown>);
}

/** The wasm Worker, through the same binding the JobCoordinator uses: ffprobe for checking outputs. */
export const wasmEngine: EngineEndpoint = {
  name: 'wasm',
  silenceMs: null,
  token: inject('nativeWorker').token,
  fetch: (request) => (env as unknown as { WASM: Fetcher }).WASM.fetch(request),
};

export async function probeBytes(bytes: Uint8Array<ArrayBuffer>, name: string) {
  return probeRemote(wasmEngine, { path: name, size: bytes.byteLength, open: () => new Blob([bytes]).stream() }, {
    timeoutMs: 30_000,
    signal: new AbortController().signal,
  });
}

/** The native worker's own view: how many runs it has now. */
export async function nativeRunning(): Promise<number> {
  const res = await fetch(`${inject('nativeWorker').url}/health`);
  return ((await res.json()) as { running: number }).running;
}

export async function eventually(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function coordinator(jobId: string) {
  return env.JOB_COORDINATOR.get(env.JOB_COORDINATOR.idFromName(jobId));
}
