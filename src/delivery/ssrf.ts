/**
 * The SSRF guard (audit #28): which URLs and addresses the service may connect to on a client's behalf (webhook
 * targets now, https:// inputs later). Pure and runtime-neutral, as it is bundled into the Worker: it judges URLs
 * and addresses only. Resolving a name once, checking every address it gives and connecting to the address that was
 * checked is the HTTP client's part (node-outbound.ts); where the client cannot resolve (Workers), see outbound.ts.
 *
 * The address rules are an allow-list in spirit: an address passes only when ipaddr.js calls it plain `unicast` (and,
 * for IPv6, it lies in global unicast 2000::/3). The tables below exist to say *why* in words a client can act on;
 * anything they miss is still refused by the `unicast` test.
 */
import ipaddr from 'ipaddr.js';

export interface OutboundPolicy {
  /** Plain http:// allowed (development only). */
  allowHttp: boolean;
  /** Loopback addresses (127.0.0.0/8, ::1) and local names (localhost, single labels) allowed (tests only). */
  allowLoopback: boolean;
  /** Ports allowed: the scheme's default only, any, or these besides the default. */
  ports: 'default' | '*' | readonly number[];
}

export const STRICT_POLICY: OutboundPolicy = Object.freeze({ allowHttp: false, allowLoopback: false, ports: 'default' });

/** Longer URLs are refused before parsing: no receiver needs one, and every log line and delivery row holds it. */
const MAX_URL_LENGTH = 2048;

type Env = Record<string, string | undefined>;

/**
 * The policy the operator configured: FFEDGE_OUTBOUND_ALLOW_HTTP=1, FFEDGE_OUTBOUND_ALLOW_LOOPBACK=1 and
 * FFEDGE_OUTBOUND_PORTS (`*`, or a list such as `8443,9443`). Unset means strict. A malformed value throws, so a typo
 * fails the start instead of quietly loosening or tightening the guard.
 */
export function outboundPolicy(env: Env): OutboundPolicy {
  return {
    allowHttp: flag(env, 'FFEDGE_OUTBOUND_ALLOW_HTTP'),
    allowLoopback: flag(env, 'FFEDGE_OUTBOUND_ALLOW_LOOPBACK'),
    ports: portList(env, 'FFEDGE_OUTBOUND_PORTS'),
  };
}

function flag(env: Env, name: string): boolean {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '' || raw === '0') return false;
  if (raw === '1') return true;
  throw new Error(`${name} must be 1 or 0`);
}

function portList(env: Env, name: string): OutboundPolicy['ports'] {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '' || raw === 'default') return 'default';
  if (raw === '*') return '*';
  const ports = raw.split(',').map((item) => item.trim());
  for (const port of ports) {
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw new Error(`${name} must be *, or port numbers (1-65535) separated by commas, such as 8443,9443`);
    }
  }
  return Object.freeze([...new Set(ports.map(Number))]);
}

export type OutboundUrlCheck = { ok: true; url: URL } | { ok: false; message: string };

// Controls, spaces and invisible reorderings: WHATWG parsing drops or encodes some of them silently, so the URL a
// client reads would not be the URL that is fetched.
const CONTROL_OR_SPACE = /[\p{Cc}\p{Z}\u061C\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/u;

/**
 * The checks that need no network, made when a URL is submitted and again before every connection. The URL is
 * parsed as WHATWG URL parses it (as fetch and Node's http clients will), which also turns every spelling of an IPv4
 * address (2130706433, 0177.0.0.1, 0x7f.1, 127.1, full-width digits, percent-encoding) into its dotted form first, so
 * the address checks see the address that would be connected to. A fragment is never sent on the wire; it is dropped
 * from the returned URL rather than refused. Messages are safe to show a client: they never echo the URL.
 */
export function checkOutboundUrl(raw: string, policy: OutboundPolicy): OutboundUrlCheck {
  const refuse = (message: string): OutboundUrlCheck => ({ ok: false, message });
  if (typeof raw !== 'string' || raw.length === 0) return refuse('the URL is empty');
  if (raw.length > MAX_URL_LENGTH) return refuse(`the URL is longer than ${MAX_URL_LENGTH} characters`);
  if (CONTROL_OR_SPACE.test(raw)) return refuse('the URL contains spaces or control characters');
  // WHATWG reads `\` as `/` in http(s) URLs, other parsers (and people) read it as part of the user name:
  // `https://example.com\@10.0.0.1/` is one host to fetch and another to a log reader or a receiver's proxy.
  if (raw.includes('\\')) return refuse('the URL contains a backslash');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('the URL is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) {
    return refuse(policy.allowHttp ? 'the URL must use https or http' : 'the URL must use https');
  }
  if (url.username !== '' || url.password !== '') return refuse('the URL must not contain credentials (user:password@)');
  // WHATWG leaves the port empty when it is the scheme's default, however it was written (`:443`, `:0443`).
  if (url.port !== '' && !portAllowed(Number(url.port), policy)) {
    const defaultPort = url.protocol === 'https:' ? 443 : 80;
    return refuse(`the URL's port ${url.port} is not allowed (the default port ${defaultPort} is)`);
  }
  const host = url.hostname;
  const literal = host.startsWith('[') ? host.slice(1, -1) : ipaddr.IPv4.isValidFourPartDecimal(host) ? host : null;
  if (literal !== null) {
    const reason = blockedAddress(literal, policy);
    if (reason !== null) return refuse(`the URL points to ${reason}`);
  } else {
    const reason = localNameReason(host, policy);
    if (reason !== null) return refuse(reason);
  }
  url.hash = '';
  return { ok: true, url };
}

function portAllowed(port: number, policy: OutboundPolicy): boolean {
  return policy.ports === '*' || (policy.ports !== 'default' && policy.ports.includes(port));
}

/**
 * Names the resolver answers from the machine itself rather than from public DNS: `localhost` and its subdomains
 * (RFC 6761) and single labels (search domains, /etc/hosts, container and cluster names). Refused before any
 * lookup, since where a name cannot be resolved here (Workers) this check is the only one a name gets.
 */
function localNameReason(host: string, policy: OutboundPolicy): string | null {
  if (policy.allowLoopback) return null;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name === 'localhost' || name.endsWith('.localhost')) return 'the URL points to localhost';
  if (!name.includes('.')) return 'the URL\'s host is a single-label name, which resolves only inside a network';
  return null;
}

/** Cloud instance metadata services: they hand out credentials to whatever on the machine asks. */
const METADATA: ReadonlyMap<string, string> = new Map([
  ['169.254.169.254', 'a cloud metadata address (169.254.169.254: AWS, Google Cloud, Azure, Oracle and others)'],
  ['169.254.170.2', 'a cloud metadata address (169.254.170.2: AWS ECS task credentials)'],
  ['100.100.100.200', 'a cloud metadata address (100.100.100.200: Alibaba Cloud)'],
  ['fd00:ec2::254', 'a cloud metadata address (fd00:ec2::254: AWS over IPv6)'],
]);

/** Named IPv4 ranges, most specific first (255.255.255.255 before 240.0.0.0/4). */
const V4_RANGES: readonly (readonly [string, string])[] = [
  ['0.0.0.0/8', 'an unspecified address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a carrier-grade NAT address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'an IETF protocol address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.88.99.0/24', 'a 6to4 relay address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['255.255.255.255/32', 'the broadcast address'],
  ['240.0.0.0/4', 'a reserved address'],
];

const V6_RANGES: readonly (readonly [string, string])[] = [
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['::ffff:0:0:0/96', 'an IPv4-translated address'],
  ['100::/64', 'a discard-only address'],
  ['2001:db8::/32', 'a documentation address'],
  ['fc00::/7', 'a unique-local address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
];

const parsedRanges = (table: readonly (readonly [string, string])[]) =>
  table.map(([cidr, label]) => ({ cidr, label, range: ipaddr.parseCIDR(cidr) }));
const V4 = parsedRanges(V4_RANGES);
const V6 = parsedRanges(V6_RANGES);
const MAPPED = ipaddr.parseCIDR('::ffff:0:0/96');
const COMPATIBLE = ipaddr.parseCIDR('::/96');
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16');
const TEREDO = ipaddr.parseCIDR('2001::/32');
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/**
 * Null when `address` may be connected to under `policy`; otherwise a short reason such as
 * `a private address (10.0.0.0/8)`. IPv6 forms that carry an IPv4 address are judged by it: IPv4-mapped (how a
 * dual-stack socket reaches IPv4) and NAT64 64:ff9b::/96 (how an IPv6-only network does) pass when the embedded
 * address would; IPv4-compatible ::/96, 6to4 and Teredo are refused whatever they carry (deprecated tunnels through
 * relays nobody here controls), naming the embedded address when that is the worse news.
 */
export function blockedAddress(address: string, policy: OutboundPolicy): string | null {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(text)) return 'not an IP address';
  const parsed = ipaddr.parse(text);
  return parsed.kind() === 'ipv4' ? blockedV4(parsed as ipaddr.IPv4, policy) : blockedV6(parsed as ipaddr.IPv6, policy);
}

function blockedV4(address: ipaddr.IPv4, policy: OutboundPolicy): string | null {
  const metadata = METADATA.get(address.toString());
  if (metadata) return metadata;
  const named = V4.find(({ range }) => address.match(range));
  if (named?.cidr === '127.0.0.0/8' && policy.allowLoopback) return null;
  if (named) return `${named.label} (${named.cidr})`;
  const range = address.range();
  return range === 'unicast' ? null : `a special-purpose address (${range})`;
}

function blockedV6(address: ipaddr.IPv6, policy: OutboundPolicy): string | null {
  const metadata = METADATA.get(address.toString());
  if (metadata) return metadata;
  if (address.match(MAPPED)) return blockedV4(address.toIPv4Address(), policy);
  const named = V6.find(({ range }) => address.match(range));
  if (named?.cidr === '::1/128' && policy.allowLoopback) return null;
  if (named) return `${named.label} (${named.cidr})`;
  // Never loopback, even under allowLoopback: these reach the address they carry, if at all, through a gateway or
  // a relay. Only NAT64 is an ordinary way to reach a public IPv4 host (from an IPv6-only network).
  const [, p1 = 0, p2 = 0, p3 = 0, , , p6 = 0, p7 = 0] = address.parts;
  if (address.match(NAT64)) return carrying('a NAT64 address (64:ff9b::/96)', true, v4FromParts(p6, p7));
  if (address.match(COMPATIBLE)) return carrying('an IPv4-compatible address (::/96)', false, v4FromParts(p6, p7));
  if (address.match(SIX_TO_FOUR)) return carrying('a 6to4 address (2002::/16)', false, v4FromParts(p1, p2));
  if (address.match(TEREDO)) {
    // The relay server's address, then the client's (stored inverted): either may be the one that is reached.
    return carrying('a Teredo address (2001::/32)', false, v4FromParts(p2, p3), v4FromParts(~p6 & 0xffff, ~p7 & 0xffff));
  }
  const range = address.range();
  if (range !== 'unicast') return `a special-purpose address (${range})`;
  if (!address.match(GLOBAL_UNICAST)) return 'an address outside IPv6 global unicast (2000::/3)';
  return null;
}

function carrying(label: string, passWhenPublic: boolean, ...carried: ipaddr.IPv4[]): string | null {
  const inner = carried.map((v4) => blockedV4(v4, STRICT_POLICY)).find((reason) => reason !== null);
  if (inner) return `${label} carrying ${inner}`;
  return passWhenPublic ? null : label;
}

function v4FromParts(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}
