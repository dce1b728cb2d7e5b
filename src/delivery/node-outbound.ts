/**
 * The guarded outbound HTTP client for Node and Deno (audit #28). Unlike fetch, node:http lets the caller choose the
 * address a socket connects to, which is what closes DNS rebinding: the name is resolved once, every address it
 * gives is checked, and the socket is opened to a checked address, while the Host header and the TLS server name
 * (SNI and the certificate check) stay the URL's host name. Nothing here looks the name up a second time.
 *
 * Plain node:http, node:https, node:dns and node:tls only, so Deno's Node compatibility runs it as it is.
 */
import { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import {
  OutboundError,
  failureKind,
  outboundFailure,
  outboundLimits,
  withoutHost,
  type OutboundFetch,
  type OutboundLimits,
  type OutboundRequest,
  type OutboundResponse,
} from './outbound.js';
import { blockedAddress, checkOutboundUrl, type OutboundPolicy } from './ssrf.js';

export type Resolver = (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;

/** The system resolver (getaddrinfo, as every Node client uses), all addresses in the order it gives them. */
const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true })).map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));

/**
 * FFEDGE_OUTBOUND_CA_FILE: a PEM file of CA certificates to trust besides the usual ones (a private CA the
 * receivers use, or a test's own). Unset: undefined. An unreadable file, one without a certificate or one with a
 * certificate that does not parse throws, so the mistake shows at start rather than as failed deliveries (OpenSSL
 * itself skips a bad certificate in a trust list without a word).
 */
export async function caFromEnv(env: Record<string, string | undefined>): Promise<string | undefined> {
  const name = 'FFEDGE_OUTBOUND_CA_FILE';
  const file = env[name]?.trim();
  if (!file) return undefined;
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch {
    throw new Error(`${name}: cannot read ${file}`);
  }
  const certificates = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) throw new Error(`${name}: ${file} holds no PEM certificate`);
  certificates.forEach((certificate, index) => {
    try {
      new X509Certificate(certificate);
    } catch {
      throw new Error(`${name}: certificate ${index + 1} in ${file} does not parse`);
    }
  });
  return pem;
}

interface Target {
  /** Where the socket connects: an address the policy allowed. */
  address: string;
  /** What the URL called it: the Host header and, for a name, the TLS server name. */
  hostname: string;
  /** True when the URL's host was a literal address (no SNI, the certificate is checked against the address). */
  literal: boolean;
}

/**
 * The client. `ca` adds trusted CAs to the runtime's bundled roots (tls.rootCertificates) rather than replacing
 * them; with it, those two sets are the whole trust store (NODE_EXTRA_CA_CERTS is not consulted). Each request gets
 * its own connection, closed when the call returns: a pooled socket would outlive the call's deadline and body cap,
 * and deliveries to one receiver are too sparse for reuse to matter.
 */
export function nodeOutbound(options: {
  policy: OutboundPolicy;
  resolver?: Resolver;
  ca?: string | Buffer;
  limits?: Partial<OutboundLimits>;
}): OutboundFetch {
  const { policy } = options;
  const limits = outboundLimits(options.limits);
  const resolve = options.resolver ?? systemResolver;
  // Built once per client rather than per request: parsing the bundled roots takes milliseconds each time.
  const secureContext = options.ca === undefined ? undefined : createSecureContext({ ca: [...rootCertificates, options.ca] });

  /** Resolves once, checks every address, and names the one to connect to. */
  async function target(url: URL): Promise<Target> {
    if (url.hostname.startsWith('[')) return { address: url.hostname.slice(1, -1), hostname: url.hostname, literal: true };
    if (isIP(url.hostname) === 4) return { address: url.hostname, hostname: url.hostname, literal: true };
    let addresses: Awaited<ReturnType<Resolver>>;
    try {
      addresses = await resolve(url.hostname);
    } catch (error) {
      throw outboundFailure('dns', error);
    }
    if (addresses.length === 0) throw outboundFailure('dns', undefined, 'the host name has no addresses');
    // Every address, not only the first: a client may try any of them, and a resolver controlled by an attacker
    // would list a public address first and a private one after it.
    for (const { address } of addresses) {
      const reason = blockedAddress(address, policy);
      if (reason !== null) throw new OutboundError('blocked', `the URL's host resolves to ${reason}`);
    }
    return { address: addresses[0]!.address, hostname: url.hostname, literal: false };
  }

  return (request, signal) =>
    new Promise<OutboundResponse>((resolvePromise, reject) => {
      const checked = checkOutboundUrl(request.url, policy);
      if (!checked.ok) return reject(new OutboundError('blocked', checked.message));
      if (signal?.aborted) return reject(outboundFailure('aborted', signal.reason));
      const url = checked.url;
      const started = Date.now();
      let req: http.ClientRequest | undefined;
      let connectTimer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      // Every way the exchange ends comes through here, once; the socket is destroyed whatever is left unread.
      const finish = (error: OutboundError | null, response?: OutboundResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(totalTimer);
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
        req?.destroy();
        if (error) reject(error);
        else resolvePromise(response!);
      };
      const totalTimer = setTimeout(() => finish(outboundFailure('timeout')), limits.totalTimeoutMs);
      const onAbort = () => finish(outboundFailure('aborted', signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });

      target(url).then(
        (pinned) => {
          if (settled) return;
          req = send(url, pinned, request);
          req.on('error', (error) => finish(classify(error)));
          req.once('socket', (socket) => {
            connectTimer = setTimeout(
              () => finish(outboundFailure('timeout', undefined, 'connecting to the host took too long')),
              limits.connectTimeoutMs,
            );
            socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
          });
          req.once('response', (res) => {
            clearTimeout(connectTimer);
            const status = res.statusCode ?? 0;
            let kept = 0;
            const done = () => finish(null, { status, bytesRead: kept, durationMs: Date.now() - started });
            res.on('error', (error) => finish(classify(error)));
            res.on('data', (chunk: Buffer) => {
              kept = Math.min(limits.maxResponseBytes, kept + chunk.length);
              // Enough: finish destroys the socket, and the rest of the body is never read.
              if (kept >= limits.maxResponseBytes) done();
            });
            res.once('end', done);
            // Closed before its end (after an 'end', finish has already run and this does nothing).
            res.once('close', () => finish(outboundFailure('connect', undefined, 'the connection closed before the answer was complete')));
            if (limits.maxResponseBytes === 0) done();
          });
          req.end(request.body);
        },
        (error: unknown) => finish(error instanceof OutboundError ? error : outboundFailure('dns', error)),
      );
    });

  function send(url: URL, pinned: Target, request: OutboundRequest): http.ClientRequest {
    const headers: Record<string, string> = { ...withoutHost(request.headers), host: url.host };
    if (request.body !== undefined) headers['content-length'] = String(byteLength(request.body));
    const common = {
      host: pinned.address,
      port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
      method: request.method,
      path: `${url.pathname}${url.search}`,
      headers,
      agent: false as const,
      // Never asked for when `host` is an address, which it always is here; should a runtime ask anyway, it gets the
      // checked address and not a second answer from DNS.
      lookup: pinnedLookup(pinned.address),
    };
    if (url.protocol === 'http:') return http.request(common);
    return https.request({
      ...common,
      // The name the certificate must be valid for, and the SNI; an address URL has neither SNI nor a name to check
      // but the address itself.
      servername: pinned.literal ? undefined : pinned.hostname,
      ...(secureContext ? { secureContext } : {}),
      rejectUnauthorized: true,
    });
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | { address: string; family: number }[], family?: number) => void;

function pinnedLookup(address: string) {
  const family = address.includes(':') ? 6 : 4;
  return (_hostname: string, options: { all?: boolean } | LookupCallback, callback?: LookupCallback) => {
    const done = (typeof options === 'function' ? options : callback)!;
    if (typeof options === 'object' && options.all) done(null, [{ address, family }]);
    else done(null, address, family);
  };
}

function byteLength(body: string | Uint8Array): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

function classify(error: unknown): OutboundError {
  if (error instanceof OutboundError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  return outboundFailure(failureKind(code), error);
}
