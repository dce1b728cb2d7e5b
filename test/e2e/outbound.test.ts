/**
 * The guarded outbound clients against real servers on 127.0.0.1 (audit #28): an HTTPS receiver whose certificate,
 * made here with the openssl CLI by a throwaway CA, is valid for `receiver.test` and 127.0.0.1. `.test` names never
 * resolve in real DNS (RFC 6761), so a request to `https://receiver.test:<port>/` that arrives proves the client
 * connected to the address the test's resolver gave and the guard checked, and looked nothing up itself.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { caFromEnv, nodeOutbound, type Resolver } from '../../src/delivery/node-outbound.js';
import { OutboundError, fetchOutbound, type OutboundFetch, type OutboundRequest } from '../../src/delivery/outbound.js';
import type { OutboundPolicy } from '../../src/delivery/ssrf.js';
import { freePort } from '../helpers/services.js';

const run = promisify(execFile);
const FIVE_MB = 5 * 1024 * 1024;

/** Loopback allowed (the receivers are on it), any port (theirs are random), https only. */
const LOOPBACK: OutboundPolicy = { allowHttp: false, allowLoopback: true, ports: '*' };
/** The production address rules, with any port so a random test port is not what refuses. */
const STRICT_ANY_PORT: OutboundPolicy = { allowHttp: false, allowLoopback: false, ports: '*' };

interface Hit {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The TLS server name the client sent (SNI); false when it sent none. */
  servername: string | false | null;
}

let dir: string;
let ca: string;
let receiver: https.Server;
let receiverPort: number;
let elsewhere: https.Server;
let elsewherePort: number;
let plainElsewhere: http.Server;
let silent: net.Server;
let silentPort: number;
let plain: http.Server;
let plainPort: number;
const hits: Hit[] = [];
const elsewhereHits: string[] = [];
const plainHits: Hit[] = [];
/** For each 5 MB answer: how much the server had written when the connection closed, and whether it got it all out. */
const bigAnswers: { sent: number; finished: boolean }[] = [];

/** A CA and a server certificate it signs for receiver.test and 127.0.0.1. */
async function makeCertificates(into: string): Promise<void> {
  const openssl = (...args: string[]) => run('/usr/bin/openssl', args, { cwd: into });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ffedge test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  await openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=receiver.test');
  await writeFile(join(into, 'server.ext'), 'subjectAltName=DNS:receiver.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
}

/** Routes shared by the HTTPS receiver and the plain one (for the fetch client). */
function handle(record: Hit[], location: string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const servername = 'encrypted' in req.socket ? (req.socket as TLSSocket).servername : null;
      record.push({ method: req.method!, path: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString(), servername });
      if (req.url === '/hang') return; // accepted and read, never answered
      if (req.url === '/redirect') return res.writeHead(302, { location }).end();
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(FIVE_MB) });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        res.once('close', () => bigAnswers.push({ sent, finished: res.writableFinished }));
        const pump = () => {
          while (sent < FIVE_MB && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      res.writeHead(204).end();
    });
  };
}

async function listen<T extends net.Server>(server: T): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function stop(server: net.Server | undefined): Promise<void> {
  if (!server) return;
  (server as http.Server).closeAllConnections?.();
  await new Promise((r) => server.close(r));
}

const connections = (server: net.Server) =>
  new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

/** Polls until `server` has no open connection (the client closed its side), or gives up after `ms`. */
async function drained(server: net.Server, ms = 5_000): Promise<number> {
  const deadline = Date.now() + ms;
  let open = await connections(server);
  while (open > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    open = await connections(server);
  }
  return open;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffedge-outbound-'));
  await makeCertificates(dir);
  ca = await readFile(join(dir, 'ca.pem'), 'utf8');
  const tls = { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.pem')) };
  // Where the redirects point: anything arriving here means a client followed one.
  const landed = (req: http.IncomingMessage, res: http.ServerResponse) => {
    elsewhereHits.push(req.url!);
    res.writeHead(200).end('you followed the redirect');
  };
  elsewhere = https.createServer(tls, landed);
  elsewherePort = await listen(elsewhere);
  plainElsewhere = http.createServer(landed);
  const plainElsewherePort = await listen(plainElsewhere);
  receiver = https.createServer(tls, handle(hits, `https://127.0.0.1:${elsewherePort}/landed`));
  receiverPort = await listen(receiver);
  // Accepts TCP, reads and drops what it gets and never says a word: a TLS handshake with it never completes.
  silent = net.createServer((socket) => socket.resume());
  silentPort = await listen(silent);
  plain = http.createServer(handle(plainHits, `http://127.0.0.1:${plainElsewherePort}/landed`));
  plainPort = await listen(plain);
});

afterAll(async () => {
  await Promise.all([stop(receiver), stop(elsewhere), stop(plainElsewhere), stop(silent), stop(plain)]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  hits.length = 0;
  elsewhereHits.length = 0;
  plainHits.length = 0;
  bigAnswers.length = 0;
});

/** A resolver the test controls, which also counts what it was asked. */
function resolverOf(table: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolver = async (hostname: string) => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? (6 as const) : (4 as const) }));
  };
  return Object.assign(resolver, { asked });
}

const get = (url: string): OutboundRequest => ({ url, method: 'GET', headers: {} });

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundError);
  return error as OutboundError;
}

async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - started };
}

describe('nodeOutbound', () => {
  it('a POST reaches the receiver with its body and headers', async () => {
    const client = nodeOutbound({ policy: LOOPBACK, ca });
    const body = JSON.stringify({ type: 'job.completed', data: { id: 'j1' } });
    const response = await client({
      url: `https://127.0.0.1:${receiverPort}/hook?via=test`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1', Host: 'evil.example' },
      body,
    });
    expect(response).toMatchObject({ status: 204, bytesRead: 0 });
    expect(response.durationMs).toBeGreaterThanOrEqual(0);
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ method: 'POST', path: '/hook?via=test', body });
    expect(hits[0]!.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': 'msg_1',
      'content-length': String(Buffer.byteLength(body)),
      // The caller's Host is dropped: the URL names the host.
      host: `127.0.0.1:${receiverPort}`,
    });
  });

  it('sends a byte body as it is', async () => {
    const client = nodeOutbound({ policy: LOOPBACK, ca });
    const bytes = new TextEncoder().encode('déjà vu');
    await client({ url: `https://127.0.0.1:${receiverPort}/hook`, method: 'POST', headers: {}, body: bytes });
    expect(hits[0]).toMatchObject({ body: 'déjà vu', headers: { 'content-length': String(bytes.byteLength) } });
  });

  it('audit #28: a name that resolves to loopback is refused under the strict address rules, and nothing reaches the receiver', async () => {
    const resolver = resolverOf({ 'receiver.test': ['127.0.0.1'] });
    const error = await failure(nodeOutbound({ policy: STRICT_ANY_PORT, resolver, ca })(get(`https://receiver.test:${receiverPort}/hook`)));
    expect(error.kind).toBe('blocked');
    expect(error.message).toBe("the URL's host resolves to a loopback address (127.0.0.0/8)");
    expect(resolver.asked).toEqual(['receiver.test']);
    expect(hits).toHaveLength(0);
  });

  it("audit #28: connects to the address that was checked, resolving once, while the Host header and the TLS name stay the URL's", async () => {
    const resolver = resolverOf({ 'receiver.test': ['127.0.0.1'] });
    const response = await nodeOutbound({ policy: LOOPBACK, resolver, ca })(get(`https://receiver.test:${receiverPort}/hook`));
    expect(response.status).toBe(204);
    // receiver.test exists only in the test's resolver: had the client looked it up again, nothing would have arrived.
    expect(resolver.asked).toEqual(['receiver.test']);
    expect(hits).toHaveLength(1);
    expect(hits[0]!.headers.host).toBe(`receiver.test:${receiverPort}`);
    expect(hits[0]!.servername).toBe('receiver.test');
  });

  it('audit #28: the certificate is checked against the URL\'s name, not against the address connected to', async () => {
    // The certificate is valid for 127.0.0.1 too; other.test resolves there, and must still be refused by TLS.
    const resolver = resolverOf({ 'other.test': ['127.0.0.1'] });
    const error = await failure(nodeOutbound({ policy: LOOPBACK, resolver, ca })(get(`https://other.test:${receiverPort}/hook`)));
    expect(error.kind).toBe('tls');
    expect(hits).toHaveLength(0);
  });

  it('audit #28: every resolved address is checked: [public, 127.0.0.1] is refused and nothing is connected', async () => {
    const resolver = resolverOf({ 'receiver.test': ['93.184.216.34', '127.0.0.1'] });
    const error = await failure(nodeOutbound({ policy: STRICT_ANY_PORT, resolver, ca })(get(`https://receiver.test:${receiverPort}/hook`)));
    expect(error).toMatchObject({ kind: 'blocked', message: expect.stringContaining('loopback address') });
    expect(hits).toHaveLength(0);
  });

  it.each([
    [['127.0.0.1', '10.0.0.7'], 'a private address (10.0.0.0/8)'],
    [['::1', '169.254.169.254'], 'a cloud metadata address'],
    [['127.0.0.1', '::ffff:192.168.0.1'], 'a private address (192.168.0.0/16)'],
    [['127.0.0.1', 'fe80::1%lo'], 'a link-local address (fe80::/10)'],
  ])('audit #28: allowLoopback still refuses a name resolving to %j', async (addresses, reason) => {
    const resolver = resolverOf({ 'receiver.test': addresses });
    const error = await failure(nodeOutbound({ policy: LOOPBACK, resolver, ca })(get(`https://receiver.test:${receiverPort}/hook`)));
    expect(error).toMatchObject({ kind: 'blocked', message: expect.stringContaining(reason) });
    expect(hits).toHaveLength(0);
  });

  it('audit #28: a literal address is checked as it is and never handed to the resolver', async () => {
    const resolver = resolverOf({});
    expect((await nodeOutbound({ policy: LOOPBACK, resolver, ca })(get(`https://127.0.0.1:${receiverPort}/hook`))).status).toBe(204);
    const error = await failure(nodeOutbound({ policy: STRICT_ANY_PORT, resolver, ca })(get(`https://0x7f.1:${receiverPort}/hook`)));
    expect(error).toMatchObject({ kind: 'blocked', message: 'the URL points to a loopback address (127.0.0.0/8)' });
    expect(resolver.asked).toEqual([]);
    expect(hits).toHaveLength(1);
  });

  it('audit #28: a 302 comes back as its status, and its Location receives nothing', async () => {
    const response = await nodeOutbound({ policy: LOOPBACK, ca })(get(`https://127.0.0.1:${receiverPort}/redirect`));
    expect(response.status).toBe(302);
    expect(hits.map((hit) => hit.path)).toEqual(['/redirect']);
    expect(elsewhereHits).toEqual([]);
  });

  it('audit #28: a receiver that accepts the request and never answers times out at the total timeout', async () => {
    const client = nodeOutbound({ policy: LOOPBACK, ca, limits: { connectTimeoutMs: 5_000, totalTimeoutMs: 300 } });
    const { value: error, ms } = await timed(failure(client(get(`https://127.0.0.1:${receiverPort}/hang`))));
    expect(error).toMatchObject({ kind: 'timeout', message: 'the host did not answer in time' });
    expect(hits.map((hit) => hit.path)).toEqual(['/hang']);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(5_000);
  });

  it('audit #28: a server that accepts TCP and never completes the TLS handshake times out at the connect timeout', async () => {
    const client = nodeOutbound({ policy: LOOPBACK, ca, limits: { connectTimeoutMs: 200, totalTimeoutMs: 20_000 } });
    const { value: error, ms } = await timed(failure(client(get(`https://127.0.0.1:${silentPort}/`))));
    expect(error).toMatchObject({ kind: 'timeout', message: 'connecting to the host took too long' });
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(10_000);
    // The half-open socket is closed, not left to the server.
    expect(await drained(silent)).toBe(0);
  });

  it('audit #28: a 5 MB answer is read only up to maxResponseBytes, and the call returns without waiting for the rest', async () => {
    const client = nodeOutbound({ policy: LOOPBACK, ca, limits: { maxResponseBytes: 65_536, totalTimeoutMs: 30_000 } });
    const { value: response, ms } = await timed(client(get(`https://127.0.0.1:${receiverPort}/big`)));
    expect(response.status).toBe(200);
    expect(response.bytesRead).toBeLessThanOrEqual(65_536);
    expect(response.bytesRead).toBeGreaterThan(0);
    expect(ms).toBeLessThan(10_000);
    // The client hung up mid-answer: the server could not get its 5 MB out.
    expect(await drained(receiver)).toBe(0);
    expect(bigAnswers).toEqual([{ sent: expect.any(Number), finished: false }]);
  });

  it('a refused connection is a connect failure', async () => {
    const port = await freePort();
    const error = await failure(nodeOutbound({ policy: LOOPBACK, ca })(get(`https://127.0.0.1:${port}/hook`)));
    expect(error).toMatchObject({ kind: 'connect', message: 'could not connect to the host' });
  });

  it('a name that does not resolve is a dns failure', async () => {
    const error = await failure(nodeOutbound({ policy: LOOPBACK, resolver: resolverOf({}), ca })(get(`https://nowhere.test:${receiverPort}/`)));
    expect(error).toMatchObject({ kind: 'dns', message: 'the host name could not be resolved' });
    const empty = await failure(nodeOutbound({ policy: LOOPBACK, resolver: async () => [], ca })(get(`https://nowhere.test:${receiverPort}/`)));
    expect(empty.kind).toBe('dns');
  });

  it("a certificate from a CA the client does not trust is a tls failure, with no upstream text in the message", async () => {
    const error = await failure(nodeOutbound({ policy: LOOPBACK })(get(`https://127.0.0.1:${receiverPort}/hook`)));
    expect(error.kind).toBe('tls');
    expect(error.message).toBe('the TLS handshake failed (the certificate is not trusted, or not valid for the host)');
    // The reason stays available to the server's own logs.
    expect((error.cause as { code?: string }).code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    expect(hits).toHaveLength(0);
  });

  it('an abort through the signal ends the call as aborted; an already aborted signal sends nothing', async () => {
    const client = nodeOutbound({ policy: LOOPBACK, ca, limits: { totalTimeoutMs: 20_000 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const { value: error, ms } = await timed(failure(client(get(`https://127.0.0.1:${receiverPort}/hang`), controller.signal)));
    expect(error).toMatchObject({ kind: 'aborted', message: 'the request was aborted' });
    expect(ms).toBeLessThan(10_000);
    hits.length = 0;
    const before = await failure(client(get(`https://127.0.0.1:${receiverPort}/hook`), AbortSignal.abort()));
    expect(before.kind).toBe('aborted');
    expect(hits).toHaveLength(0);
  });

  it('audit #28: plain http is refused unless the policy allows it', async () => {
    const url = `http://127.0.0.1:${plainPort}/hook`;
    const error = await failure(nodeOutbound({ policy: LOOPBACK })(get(url)));
    expect(error).toMatchObject({ kind: 'blocked', message: 'the URL must use https' });
    expect(plainHits).toHaveLength(0);
    expect((await nodeOutbound({ policy: { ...LOOPBACK, allowHttp: true } })(get(url))).status).toBe(204);
    expect(plainHits).toHaveLength(1);
  });

});

describe('caFromEnv (FFEDGE_OUTBOUND_CA_FILE)', () => {
  it('reads the PEM file, or nothing when the variable is unset', async () => {
    expect(await caFromEnv({ FFEDGE_OUTBOUND_CA_FILE: join(dir, 'ca.pem') })).toBe(ca);
    expect(await caFromEnv({})).toBeUndefined();
    expect(await caFromEnv({ FFEDGE_OUTBOUND_CA_FILE: ' ' })).toBeUndefined();
  });

  it('throws on a file it cannot read or one without a certificate', async () => {
    await expect(caFromEnv({ FFEDGE_OUTBOUND_CA_FILE: join(dir, 'missing.pem') })).rejects.toThrow('FFEDGE_OUTBOUND_CA_FILE');
    await expect(caFromEnv({ FFEDGE_OUTBOUND_CA_FILE: join(dir, 'server.ext') })).rejects.toThrow('no PEM certificate');
    const broken = join(dir, 'broken.pem');
    await writeFile(broken, `${ca}-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n`);
    await expect(caFromEnv({ FFEDGE_OUTBOUND_CA_FILE: broken })).rejects.toThrow('certificate 2 in');
  });
});

describe('fetchOutbound (the Workers client, here on Node\'s fetch)', () => {
  const POLICY: OutboundPolicy = { allowHttp: true, allowLoopback: true, ports: '*' };
  const client = (limits = {}): OutboundFetch => fetchOutbound({ policy: POLICY, limits });

  it('a POST reaches the receiver with its body and headers', async () => {
    const response = await client()({
      url: `http://127.0.0.1:${plainPort}/hook`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_2' },
      body: '{"ok":true}',
    });
    expect(response.status).toBe(204);
    expect(plainHits[0]).toMatchObject({ method: 'POST', body: '{"ok":true}', headers: { 'webhook-id': 'msg_2' } });
  });

  it('audit #28: a 302 comes back as its status, and its Location receives nothing', async () => {
    expect((await client()(get(`http://127.0.0.1:${plainPort}/redirect`))).status).toBe(302);
    expect(elsewhereHits).toEqual([]);
  });

  it('audit #28: a 5 MB answer is read only up to maxResponseBytes', async () => {
    const { value: response, ms } = await timed(client({ maxResponseBytes: 65_536, totalTimeoutMs: 30_000 })(get(`http://127.0.0.1:${plainPort}/big`)));
    expect(response.status).toBe(200);
    expect(response.bytesRead).toBeLessThanOrEqual(65_536);
    expect(response.bytesRead).toBeGreaterThan(0);
    expect(ms).toBeLessThan(10_000);
    // Cancelling the body closed the connection: the server could not get its 5 MB out.
    await expect.poll(() => bigAnswers, { timeout: 5_000 }).toEqual([{ sent: expect.any(Number), finished: false }]);
  });

  it('audit #28: a receiver that never answers times out at the total timeout', async () => {
    const { value: error, ms } = await timed(failure(client({ totalTimeoutMs: 300 })(get(`http://127.0.0.1:${plainPort}/hang`))));
    expect(error.kind).toBe('timeout');
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(5_000);
  });

  it('audit #28: a blocked literal address is refused before fetch is called', async () => {
    const calls: string[] = [];
    const spy = (async (input: RequestInfo | URL) => {
      calls.push(String(input));
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    for (const url of ['https://10.0.0.1/hook', 'https://[::ffff:169.254.169.254]/', 'https://user:pw@example.com/', 'ftp://example.com/']) {
      const error = await failure(fetchOutbound({ policy: POLICY, fetch: spy })(get(url)));
      expect(error.kind, url).toBe('blocked');
    }
    const strict = await failure(fetchOutbound({ policy: { ...POLICY, allowLoopback: false }, fetch: spy })(get(`http://127.0.0.1:${plainPort}/hook`)));
    expect(strict).toMatchObject({ kind: 'blocked', message: 'the URL points to a loopback address (127.0.0.0/8)' });
    expect(calls).toEqual([]);
    expect(plainHits).toHaveLength(0);
  });

  it('fetch is given redirect: manual and a URL without its fragment', async () => {
    const seen: RequestInit[] = [];
    const urls: string[] = [];
    const spy = (async (input: RequestInfo | URL, init?: RequestInit) => {
      urls.push(String(input));
      seen.push(init!);
      return new Response('abc', { status: 200 });
    }) as typeof fetch;
    const response = await fetchOutbound({ policy: POLICY, fetch: spy })({ url: 'https://example.com/hook#x', method: 'GET', headers: { host: 'evil.example', a: 'b' } });
    expect(response).toMatchObject({ status: 200, bytesRead: 3 });
    expect(urls).toEqual(['https://example.com/hook']);
    expect(seen[0]).toMatchObject({ redirect: 'manual', method: 'GET', headers: { a: 'b' } });
  });

  it('a refused connection is a connect failure; an abort is aborted', async () => {
    const port = await freePort();
    expect((await failure(client()(get(`http://127.0.0.1:${port}/`)))).kind).toBe('connect');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect((await failure(client({ totalTimeoutMs: 20_000 })(get(`http://127.0.0.1:${plainPort}/hang`), controller.signal))).kind).toBe('aborted');
  });
});
