/**
 * The guarded outbound HTTP client: the one way the service sends a request to a URL a client gave it (webhook
 * deliveries now, https:// inputs later). This module holds the runtime-neutral contract and the implementation for
 * runtimes that can only `fetch` (Workers); node-outbound.ts is the one for Node and Deno, which also resolves the
 * name itself and connects to the address it checked.
 */
import { checkOutboundUrl, type OutboundPolicy } from './ssrf.js';

export interface OutboundRequest {
  url: string;
  method: 'POST' | 'GET';
  /** A `host` header is ignored: the Host is always the URL's. */
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

export interface OutboundResponse {
  /** A 3xx is returned as it is: redirects are never followed (the next hop would escape the checks). */
  status: number;
  /** Bytes of the body read (at most maxResponseBytes; the rest is not read). */
  bytesRead: number;
  durationMs: number;
}

export type OutboundErrorKind = 'blocked' | 'dns' | 'connect' | 'timeout' | 'tls' | 'protocol' | 'aborted';

/**
 * A request that did not get an answer. The message is safe to show a client or write to a delivery log: it is
 * ours, never the upstream's text, a stack or an address a name resolved to. The original error, for the server's
 * own logs, is the `cause`.
 */
export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OutboundError';
  }
}

export type OutboundFetch = (request: OutboundRequest, signal?: AbortSignal) => Promise<OutboundResponse>;

export interface OutboundLimits {
  /** From the start of the connection to an established socket, TLS included. */
  connectTimeoutMs: number;
  /** The whole exchange: name resolution, connection, request, and reading the answer up to the cap. */
  totalTimeoutMs: number;
  maxResponseBytes: number;
}

export const DEFAULT_OUTBOUND_LIMITS: OutboundLimits = Object.freeze({
  connectTimeoutMs: 5_000,
  totalTimeoutMs: 10_000,
  maxResponseBytes: 65_536,
});

/** The defaults with the given values over them; a value that is not a number of 0 or more throws. */
export function outboundLimits(limits: Partial<OutboundLimits> = {}): OutboundLimits {
  const merged = { ...DEFAULT_OUTBOUND_LIMITS };
  for (const name of Object.keys(merged) as (keyof OutboundLimits)[]) {
    const value = limits[name];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) throw new Error(`outbound limits: ${name} must be a number of 0 or more`);
    merged[name] = value;
  }
  return merged;
}

const MESSAGES: Readonly<Record<Exclude<OutboundErrorKind, 'blocked'>, string>> = {
  dns: 'the host name could not be resolved',
  connect: 'could not connect to the host',
  timeout: 'the host did not answer in time',
  tls: 'the TLS handshake failed (the certificate is not trusted, or not valid for the host)',
  protocol: 'the host did not answer with valid HTTP',
  aborted: 'the request was aborted',
};

/** An OutboundError with this kind's safe message (or a more precise one of ours). */
export function outboundFailure(kind: Exclude<OutboundErrorKind, 'blocked'>, cause?: unknown, message?: string): OutboundError {
  return new OutboundError(kind, message ?? MESSAGES[kind], { cause });
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
// OpenSSL's verification results (DEPTH_ZERO_SELF_SIGNED_CERT, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, CERT_HAS_EXPIRED...),
// Node's own TLS errors and handshake failures.
const TLS_CODE = /CERT|SELF_SIGNED|^UNABLE_TO_|HOSTNAME_MISMATCH|^ERR_TLS_|^ERR_SSL_|^EPROTO$/;

/**
 * The kind of failure a system, TLS or HTTP parser error code means (Node's `error.code`, undici's `cause.code`).
 * Unknown codes count as `connect`: the exchange failed somewhere between us and the host.
 */
export function failureKind(code: unknown): Exclude<OutboundErrorKind, 'blocked' | 'aborted'> {
  if (typeof code !== 'string') return 'connect';
  if (DNS_CODES.has(code)) return 'dns';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (code.startsWith('HPE_')) return 'protocol';
  if (TLS_CODE.test(code)) return 'tls';
  return 'connect';
}

/** Drops any `host` header, whatever its case: the URL decides where the request goes and what it is called. */
export function withoutHost(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'host'));
}

/**
 * The client for runtimes that can only `fetch` (Workers). It checks the URL (scheme, credentials, port, literal
 * addresses, local names), then fetches with `redirect: 'manual'` so a 3xx comes back as its status, a deadline over
 * the whole exchange, and a body read up to maxResponseBytes and then cancelled.
 *
 * What it cannot do here: resolve the name and pin the connection to the checked address. Workers expose no DNS
 * and no sockets to fetch with; the platform resolves and connects on its own. What stands in for that is the
 * platform itself: a Worker's fetch leaves from Cloudflare's edge to the public Internet, with no route to the
 * loopback or private addresses of the machine it runs on or of Cloudflare's network (private networks are reached
 * only through explicit bindings such as Workers VPC or Tunnels, which this client does not use). So on Workers a
 * name that resolves to 10.0.0.1 fails to connect rather than reaching someone's internal service; the checks here
 * keep literal addresses, scheme, port and credentials to the same rules as on Node. Fetch exposes no connection
 * phase, so connectTimeoutMs is covered by totalTimeoutMs.
 */
export function fetchOutbound(options: { policy: OutboundPolicy; limits?: Partial<OutboundLimits>; fetch?: typeof fetch }): OutboundFetch {
  const limits = outboundLimits(options.limits);
  // Called unbound: Workers' fetch throws "Illegal invocation" when called as a method of another object.
  const send = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  return async (request, signal) => {
    const checked = checkOutboundUrl(request.url, options.policy);
    if (!checked.ok) throw new OutboundError('blocked', checked.message);
    if (signal?.aborted) throw outboundFailure('aborted', signal.reason);
    const started = Date.now();
    const controller = new AbortController();
    let stoppedBy: 'timeout' | 'aborted' | null = null;
    const stop = (why: 'timeout' | 'aborted') => {
      stoppedBy ??= why;
      controller.abort();
    };
    const timer = setTimeout(() => stop('timeout'), limits.totalTimeoutMs);
    const onAbort = () => stop('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await send(checked.url.href, {
        method: request.method,
        headers: withoutHost(request.headers),
        // A copy for bytes: fetch takes no view that might be of a SharedArrayBuffer (and bodies here are small).
        body: typeof request.body === 'string' || request.body === undefined ? request.body : new Uint8Array(request.body),
        redirect: 'manual',
        signal: controller.signal,
      });
      const bytesRead = await readCapped(response.body, limits.maxResponseBytes);
      return { status: response.status, bytesRead, durationMs: Date.now() - started };
    } catch (error) {
      if (stoppedBy !== null) throw outboundFailure(stoppedBy, error);
      if (error instanceof OutboundError) throw error;
      const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
      throw outboundFailure(failureKind(cause?.code ?? (error as { code?: unknown } | null)?.code), error);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  };
}

/** Reads a body until its end or `max` bytes, whichever comes first, and cancels the rest unread. */
async function readCapped(body: ReadableStream<Uint8Array> | null, max: number): Promise<number> {
  if (body === null) return 0;
  const reader = body.getReader();
  let kept = 0;
  while (kept < max) {
    const { done, value } = await reader.read();
    if (done) return kept;
    kept = Math.min(max, kept + value.byteLength);
  }
  await reader.cancel();
  return kept;
}
