/**
 * A real webhook receiver for tests: HTTPS on 127.0.0.1 with a self-signed certificate made by openssl for the test
 * (the service trusts it through FFEDGE_OUTBOUND_CA_FILE), recording every request, and answering as each path's
 * responder says (a status, a delay, a body of any size), so that a test can be the receiver that is down, slow,
 * gone (410) or talkative.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** When the request arrived (ms). */
  at: number;
}

export interface Answer {
  status: number;
  /** Waits this long before answering (a slow receiver). */
  delayMs?: number;
  /** The size of the body to answer with (zeros). */
  bodyBytes?: number;
}

/** `count` is how many requests this path had before this one. */
export type Responder = (request: Received, count: number) => Answer;

export interface Receiver {
  /** https://127.0.0.1:<port> */
  origin: string;
  /** The certificate the receiver serves (PEM file): trust it with FFEDGE_OUTBOUND_CA_FILE. */
  caFile: string;
  received: Received[];
  on(path: string, responder: Responder): void;
  /** The requests to `path`, waiting until `count` arrived. */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A certificate for 127.0.0.1 and `names`, made in `dir`. */
export async function selfSignedCert(dir: string, names: string[] = []): Promise<{ key: string; cert: string; certFile: string }> {
  const keyFile = join(dir, 'receiver-key.pem');
  const certFile = join(dir, 'receiver-cert.pem');
  const san = ['IP:127.0.0.1', ...names.map((name) => `DNS:${name}`)].join(',');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', `subjectAltName=${san}`,
  ]);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}

export async function startReceiver(dir: string): Promise<Receiver> {
  const { key, cert, certFile } = await selfSignedCert(dir);
  const received: Received[] = [];
  const responders = new Map<string, Responder>();
  const waiters = new Set<() => void>();
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      const request: Received = { path, headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const count = received.filter((r) => r.path === path).length;
      received.push(request);
      for (const wake of waiters) wake();
      const answer: Answer = (responders.get(path) ?? (() => ({ status: 204 })))(request, count);
      const reply = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'text/plain' });
        if (!answer.bodyBytes) return void res.end();
        // Written in pieces, so a client that stops reading is not sent the rest.
        let left = answer.bodyBytes;
        const piece = Buffer.alloc(64 * 1024);
        const more = () => {
          while (left > 0) {
            const n = Math.min(left, piece.length);
            left -= n;
            if (!res.write(piece.subarray(0, n))) return void res.once('drain', more);
          }
          res.end();
        };
        more();
      };
      if (answer.delayMs) setTimeout(reply, answer.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    caFile: certFile,
    received,
    on: (path, responder) => void responders.set(path, responder),
    async waitFor(path, count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = received.filter((r) => r.path === path);
        if (got.length >= count) return got;
        if (Date.now() > deadline) throw new Error(`${path}: ${got.length} of ${count} requests after ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
        });
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
