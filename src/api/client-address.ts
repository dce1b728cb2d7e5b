/**
 * The client address that traffic without an API key is rate limited by (audit #10).
 *
 * A request header is never trusted by default, since the client writes its own headers. An operator whose proxy
 * sets one names it in FFEDGE_TRUSTED_PROXY_HEADER. Otherwise each runtime's own view of the peer is used, read
 * where Hono's getConnInfo helpers read it: the TCP socket on Node (@hono/node-server's c.env.incoming), Deno.serve's
 * remoteAddr (hono/deno's c.env), and on Workers CF-Connecting-IP, which Cloudflare's edge sets and a client cannot
 * (hono/cloudflare-workers). The helpers themselves are not imported into this shared core: the Node one is not in
 * Deno's import map, and the Workers module also pulls in static-asset code that only loads on Workers.
 */
import type { Context } from 'hono';
import type { AppEnv } from './env.js';

/** The peer's address as the runtime or the trusted proxy reports it; null when there is none to be had. */
export function clientAddress(c: Context<AppEnv>): string | null {
  const { platform } = c.var;
  const header = platform.config.trustedProxyHeader;
  // A proxy appends the address it saw, so the last entry is the one the trusted proxy wrote.
  if (header) return c.req.header(header)?.split(',').at(-1)?.trim() || null;
  switch (platform.runtime) {
    case 'workers':
      return c.req.header('cf-connecting-ip') ?? null;
    case 'deno':
      return (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname ?? null;
    case 'node':
      // No env when the app is called in-process (app.request) rather than through the node server.
      return (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? null;
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The rate-limit bucket of an address. An IPv6 subscriber is usually given a whole /64, so the /64 is one client;
 * an IPv4-mapped IPv6 address is its IPv4 address. Anything that is not an address (no peer, a garbled proxy
 * header) shares one bucket, so it cannot mint fresh buckets.
 */
export function addressBucket(address: string | null): string {
  if (!address) return 'addr:unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const v4 = mapped ?? address;
  if (IPV4.test(v4)) return `addr:${v4}`;
  const groups = ipv6Groups(address);
  return groups ? `addr:${groups.slice(0, 4).join(':')}::/64` : 'addr:unknown';
}

/** The eight groups of an IPv6 address (leading zeros dropped), or null when it is not one. */
function ipv6Groups(address: string): string[] | null {
  const bare = address.replace(/%.*$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  const halves = bare.split('::');
  if (halves.length > 2) return null;
  const parts = (text: string) => (text === '' ? [] : text.split(':'));
  let head = parts(halves[0]!);
  let tail = halves.length === 2 ? parts(halves[1]!) : [];
  // An embedded IPv4 address (::ffff:1.2.3.4 forms that are not mapped) fills the last two groups.
  const last = (halves.length === 2 ? tail : head).at(-1);
  if (last !== undefined && IPV4.test(last)) {
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    const v4 = [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    if (halves.length === 2) tail = [...tail.slice(0, -1), ...v4];
    else head = [...head.slice(0, -1), ...v4];
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ''));
}
