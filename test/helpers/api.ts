import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { RESULT_SCHEMAS } from '../../src/schemas/results.js';
import type { TestServer } from './node-server.js';

export interface JobView {
  id: string;
  kind: string;
  status: string;
  attempts: number;
  progress: { percentage: number | null; stage: string };
  error: { code: string; message: string } | null;
  outputs: { name: string; size: number; content_type: string; url: string }[];
  result: Record<string, unknown> | null;
  links: { self: string; events: string; logs: string };
}

/** A completed job's result is what the OpenAPI document says its kind's result is (src/schemas/results.ts). */
export function expectDocumentedResult(job: { kind?: string; result: unknown }): void {
  const schema = RESULT_SCHEMAS[job.kind as keyof typeof RESULT_SCHEMAS];
  expect(schema, `a result schema for kind ${job.kind}`).toBeDefined();
  const parsed = schema.safeParse(job.result);
  expect(parsed.success ? [] : parsed.error.issues, `the ${job.kind} result as documented`).toEqual([]);
}

/** Client helpers bound to one server and key. */
export function client(server: { fetch: TestServer['fetch'] }, key: string) {
  const headers = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
  return {
    headers,
    async upload(file: string | Uint8Array, filename = 'clip.mp4'): Promise<string> {
      const body = typeof file === 'string' ? await readFile(file) : file;
      const res = await server.fetch(`/api/v1/uploads?filename=${encodeURIComponent(filename)}`, { method: "POST", headers: headers(), body: body as unknown as BodyInit });
      if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { uri: string }).uri;
    },
    /** POST /stream, then waits for the job to finish and expects it completed. */
    async streamed(body: Record<string, unknown>, timeoutMs = 120_000): Promise<JobView & { result: Record<string, any> }> {
      const res = await server.fetch('/api/v1/stream', { method: 'POST', headers: headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });
      if (res.status !== 202) throw new Error(`stream: ${res.status} ${await res.text()}`);
      const done = await this.waitFor(((await res.json()) as JobView).id, ['completed', 'failed'], timeoutMs);
      expect(done.error).toBeNull();
      return done as JobView & { result: Record<string, any> };
    },
    async convert(body: Record<string, unknown>): Promise<JobView> {
      const res = await server.fetch('/api/v1/convert', {
        method: 'POST',
        headers: headers({ 'content-type': 'application/json' }),
        body: JSON.stringify(body),
      });
      if (res.status !== 202) throw new Error(`convert: ${res.status} ${await res.text()}`);
      return (await res.json()) as JobView;
    },
    async get(id: string): Promise<JobView> {
      return (await (await server.fetch(`/api/v1/jobs/${id}`, { headers: headers() })).json()) as JobView;
    },
    async cancel(id: string): Promise<Response> {
      return server.fetch(`/api/v1/jobs/${id}`, { method: 'DELETE', headers: headers() });
    },
    /** Polls until the job reaches one of the statuses (or fails the test after timeoutMs). */
    async waitFor(id: string, statuses: string[], timeoutMs = 60_000, predicate: (j: JobView) => boolean = () => true): Promise<JobView> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await this.get(id);
        if (statuses.includes(job.status) && predicate(job)) {
          if (job.status === 'completed') expectDocumentedResult(job);
          return job;
        }
        if (Date.now() > deadline) throw new Error(`job ${id} is ${job.status} (${JSON.stringify(job.progress)}), wanted ${statuses.join('|')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async download(url: string, extra: Record<string, string> = {}): Promise<Response> {
      return server.fetch(url, { headers: headers(extra) });
    },
  };
}
