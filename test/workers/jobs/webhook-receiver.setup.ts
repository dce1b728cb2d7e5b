/**
 * Global setup of the workers-jobs project (runs in Node): a webhook receiver on 127.0.0.1 that the WEBHOOKS queue
 * consumer inside workerd sends to. It records every request and answers as the path says (`/fail-<n>/...`: 503 to
 * the first n requests, then 200); the tests read what arrived from `GET /_received?path=...`. Plain http: workerd
 * here cannot be made to trust a test's own certificate, so the project allows http to loopback for tests
 * (FFEDGE_OUTBOUND_ALLOW_HTTP / _LOOPBACK); the Node suite's receiver is HTTPS.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    webhookReceiver: string;
  }
}

interface Got {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export default async function setup(project: TestProject) {
  const received: Got[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (req.method === 'GET' && url.pathname === '/_received') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(received.filter((r) => r.path === url.searchParams.get('path'))));
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      const before = received.filter((r) => r.path === url.pathname).length;
      received.push({ path: url.pathname, headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const failures = Number(/^\/fail-(\d+)\//.exec(url.pathname)?.[1] ?? 0);
      res.writeHead(before < failures ? 503 : 200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  project.provide('webhookReceiver', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
