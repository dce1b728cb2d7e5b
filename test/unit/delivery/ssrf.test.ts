import { describe, expect, it } from 'vitest';
import { STRICT_POLICY, blockedAddress, checkOutboundUrl, outboundPolicy, type OutboundPolicy } from '../../../src/delivery/ssrf.js';

const LOOPBACK_OK: OutboundPolicy = { ...STRICT_POLICY, allowLoopback: true };

/** [url, why it is dangerous, what the refusal must say]. Every one is refused under STRICT_POLICY. */
const REFUSED: readonly (readonly [string, string, string | RegExp])[] = [
  // Schemes
  ['http://example.com/hook', 'plain http', 'must use https'],
  ['file:///etc/passwd', 'file scheme', 'must use https'],
  ['ftp://example.com/', 'ftp scheme', 'must use https'],
  ['javascript:alert(1)', 'javascript scheme', 'must use https'],
  ['gopher://example.com:70/', 'gopher scheme', 'must use https'],
  ['//example.com/hook', 'scheme-relative', 'not a valid absolute URL'],
  // IPv4 loopback in every spelling WHATWG URL accepts
  ['https://127.0.0.1/', 'loopback', 'loopback address (127.0.0.0/8)'],
  ['https://127.255.255.254/', 'loopback, end of the range', 'loopback address (127.0.0.0/8)'],
  ['http://2130706433/', 'decimal loopback over http', 'must use https'],
  ['https://2130706433/', 'decimal loopback', 'loopback address (127.0.0.0/8)'],
  ['https://0177.0.0.1/', 'octal loopback', 'loopback address (127.0.0.0/8)'],
  ['https://0x7f.1/', 'hex and short loopback', 'loopback address (127.0.0.0/8)'],
  ['https://0x7f000001/', 'hex loopback', 'loopback address (127.0.0.0/8)'],
  ['https://127.1/', 'short loopback', 'loopback address (127.0.0.0/8)'],
  ['https://%31%32%37.0.0.1/', 'percent-encoded loopback', 'loopback address (127.0.0.0/8)'],
  ['https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/', 'full-width digits', 'loopback address (127.0.0.0/8)'],
  // IPv4 ranges
  ['https://10.0.0.1/', 'private 10/8', 'private address (10.0.0.0/8)'],
  ['https://172.16.0.1/', 'private 172.16/12', 'private address (172.16.0.0/12)'],
  ['https://172.31.255.255/', 'private 172.16/12, end of the range', 'private address (172.16.0.0/12)'],
  ['https://192.168.1.1/', 'private 192.168/16', 'private address (192.168.0.0/16)'],
  ['https://169.254.1.1/', 'link-local', 'link-local address (169.254.0.0/16)'],
  ['https://100.64.0.1/', 'carrier-grade NAT', 'carrier-grade NAT address (100.64.0.0/10)'],
  ['https://0/', 'unspecified 0.0.0.0', 'unspecified address (0.0.0.0/8)'],
  ['https://0.1.2.3/', 'this network 0/8', 'unspecified address (0.0.0.0/8)'],
  ['https://224.0.0.1/', 'multicast', 'multicast address (224.0.0.0/4)'],
  ['https://255.255.255.255/', 'broadcast', 'broadcast address'],
  ['https://240.0.0.1/', 'reserved 240/4', 'reserved address (240.0.0.0/4)'],
  ['https://192.0.0.8/', 'IETF protocol assignments', '192.0.0.0/24'],
  ['https://192.0.2.1/', 'TEST-NET-1', 'documentation address (192.0.2.0/24)'],
  ['https://198.18.0.1/', 'benchmarking', 'benchmarking address (198.18.0.0/15)'],
  ['https://198.51.100.1/', 'TEST-NET-2', 'documentation address (198.51.100.0/24)'],
  ['https://203.0.113.1/', 'TEST-NET-3', 'documentation address (203.0.113.0/24)'],
  // Cloud metadata
  ['https://169.254.169.254/latest/meta-data/', 'AWS/GCP/Azure metadata', 'cloud metadata address (169.254.169.254'],
  ['https://169.254.170.2/v2/credentials', 'ECS task credentials', 'cloud metadata address (169.254.170.2'],
  ['https://100.100.100.200/latest/meta-data/', 'Alibaba metadata', 'cloud metadata address (100.100.100.200: Alibaba'],
  ['https://[fd00:ec2::254]/latest/meta-data/', 'AWS IPv6 metadata', 'cloud metadata address (fd00:ec2::254'],
  ['https://[::ffff:169.254.169.254]/', 'metadata as IPv4-mapped', 'cloud metadata address (169.254.169.254'],
  // IPv6
  ['https://[::1]/', 'IPv6 loopback', 'loopback address (::1/128)'],
  ['https://[::]/', 'IPv6 unspecified', 'unspecified address (::/128)'],
  ['https://[fe80::1]/', 'IPv6 link-local', 'link-local address (fe80::/10)'],
  ['https://[fe80::1%25eth0]/', 'link-local with a zone (WHATWG refuses zones)', 'not a valid absolute URL'],
  ['https://[fc00::1]/', 'unique-local fc00::/7', 'unique-local address (fc00::/7)'],
  ['https://[fd12:3456::1]/', 'unique-local fd00::/8', 'unique-local address (fc00::/7)'],
  ['https://[fec0::1]/', 'deprecated site-local', 'site-local address (fec0::/10)'],
  ['https://[ff02::1]/', 'IPv6 multicast', 'multicast address (ff00::/8)'],
  ['https://[2001:db8::1]/', 'IPv6 documentation', 'documentation address (2001:db8::/32)'],
  ['https://[100::1]/', 'discard prefix', 'discard-only address (100::/64)'],
  ['https://[1::1]/', 'outside global unicast', 'outside IPv6 global unicast (2000::/3)'],
  // IPv6 forms that carry an IPv4 address
  ['https://[::ffff:127.0.0.1]/', 'IPv4-mapped loopback, dotted', 'loopback address (127.0.0.0/8)'],
  ['https://[::ffff:7f00:1]/', 'IPv4-mapped loopback, hex', 'loopback address (127.0.0.0/8)'],
  ['https://[::ffff:10.0.0.1]/', 'IPv4-mapped private', 'private address (10.0.0.0/8)'],
  ['https://[0:0:0:0:0:ffff:192.168.0.1]/', 'IPv4-mapped private, long form', 'private address (192.168.0.0/16)'],
  ['https://[::127.0.0.1]/', 'IPv4-compatible loopback', 'IPv4-compatible address (::/96) carrying a loopback address'],
  ['https://[::5db8:d822]/', 'IPv4-compatible public (deprecated form)', 'IPv4-compatible address (::/96)'],
  ['https://[::ffff:0:7f00:1]/', 'IPv4-translated loopback', 'IPv4-translated address'],
  ['https://[64:ff9b::a00:1]/', 'NAT64 of 10.0.0.1', 'NAT64 address (64:ff9b::/96) carrying a private address (10.0.0.0/8)'],
  ['https://[64:ff9b::7f00:1]/', 'NAT64 of 127.0.0.1', 'NAT64 address (64:ff9b::/96) carrying a loopback address'],
  ['https://[64:ff9b::a9fe:a9fe]/', 'NAT64 of the metadata address', 'NAT64 address (64:ff9b::/96) carrying a cloud metadata address'],
  ['https://[64:ff9b:1::a00:1]/', 'local-use NAT64 prefix', 'special-purpose address'],
  ['https://[2002:a00:1::]/', '6to4 of 10.0.0.1', '6to4 address (2002::/16) carrying a private address (10.0.0.0/8)'],
  ['https://[2002:7f00:1::]/', '6to4 of 127.0.0.1', '6to4 address (2002::/16) carrying a loopback address'],
  ['https://[2002:5db8:d822::]/', '6to4 of a public address (deprecated tunnel)', '6to4 address (2002::/16)'],
  ['https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'Teredo, client 192.0.2.45', 'Teredo address (2001::/32) carrying a documentation address'],
  ['https://[2001:0:a00:1::]/', 'Teredo, server 10.0.0.1', 'Teredo address (2001::/32) carrying a private address (10.0.0.0/8)'],
  // Credentials and parser confusion
  ['https://example.com@127.0.0.1/', 'userinfo hiding the real host', 'must not contain credentials'],
  ['https://user:pass@example.com/', 'credentials in the URL', 'must not contain credentials'],
  ['https://user@example.com/', 'a user name in the URL', 'must not contain credentials'],
  ['https://127.0.0.1#@example.com/', 'fragment hiding the real host', 'loopback address (127.0.0.0/8)'],
  ['https://127.0.0.1?@example.com/', 'query hiding the real host', 'loopback address (127.0.0.0/8)'],
  ['https://example.com\\@127.0.0.1/', 'backslash: WHATWG reads example.com, other parsers 127.0.0.1', 'contains a backslash'],
  ['https://exa mple.com/', 'a space in the host', 'spaces or control characters'],
  ['https://example.com/\n@127.0.0.1', 'a newline WHATWG would drop', 'spaces or control characters'],
  ['https://example.com\t/', 'a tab WHATWG would drop', 'spaces or control characters'],
  ['https://example.com\u202e/', 'a bidi override', 'spaces or control characters'],
  // Ports
  ['https://example.com:8443/', 'a non-default port', "port 8443 is not allowed (the default port 443 is)"],
  ['https://example.com:22/', 'the ssh port', 'port 22 is not allowed'],
  ['https://example.com:80/', 'the http port over https', 'port 80 is not allowed'],
  ['https://example.com:6379/', 'a Redis port', 'port 6379 is not allowed'],
  // Local names
  ['https://localhost/', 'localhost', 'points to localhost'],
  ['https://LOCALHOST./', 'localhost, upper case, trailing dot', 'points to localhost'],
  ['https://foo.localhost/', 'a subdomain of localhost', 'points to localhost'],
  ['https://metadata/', 'a single-label name', 'single-label name'],
  ['https://intranet./', 'a single label with a trailing dot', 'single-label name'],
  // Size and shape
  [`https://example.com/${'a'.repeat(2100)}`, 'an over-long URL', 'longer than 2048 characters'],
  ['', 'an empty URL', 'the URL is empty'],
  ['https://', 'no host', 'not a valid absolute URL'],
  ['https://1.2.3.4.5/', 'an address-like host WHATWG refuses', 'not a valid absolute URL'],
  ['https://0x100000000/', 'an IPv4 number past 32 bits', 'not a valid absolute URL'],
];

/** The URL as a test name: invisible characters spelled out, long ones cut. */
function printable(url: string): string {
  const visible = url.replace(/[\p{Cc}\u202e]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return visible.length > 60 ? `${visible.slice(0, 40)}…(${visible.length} characters)` : visible;
}

describe('checkOutboundUrl under STRICT_POLICY', () => {
  it('the table covers at least 45 refused URLs', () => {
    expect(REFUSED.length).toBeGreaterThanOrEqual(45);
  });

  for (const [url, why, message] of REFUSED) {
    it(`audit #28: refuses ${printable(url)} (${why})`, () => {
      const result = checkOutboundUrl(url, STRICT_POLICY);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.message).toEqual(typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message));
    });
  }

  it('audit #28: refusals never echo the URL (they are shown to the client that sent it)', () => {
    for (const [url] of REFUSED) {
      const result = checkOutboundUrl(url, STRICT_POLICY);
      if (!result.ok && url.length > 12) expect(result.message).not.toContain(url);
    }
  });

  it.each([
    ['https://example.com/hook', 'https://example.com/hook'],
    ['https://93.184.216.34/', 'https://93.184.216.34/'],
    ['https://[2606:4700::1111]/', 'https://[2606:4700::1111]/'],
    // NAT64 of a public address: how an IPv6-only network reaches an IPv4-only receiver.
    ['https://[64:ff9b::5db8:d822]/', 'https://[64:ff9b::5db8:d822]/'],
    ['https://[::ffff:93.184.216.34]/', 'https://[::ffff:5db8:d822]/'],
    ['https://EXAMPLE.com:443/a?b=c', 'https://example.com/a?b=c'],
    ['https://hooks.example.com./x', 'https://hooks.example.com./x'],
    // The fragment is never sent; it is dropped rather than refused.
    ['https://example.com/hook#part', 'https://example.com/hook'],
    ['https://b\u00fccher.example/hook', 'https://xn--bcher-kva.example/hook'],
  ])('passes %s', (url, href) => {
    const result = checkOutboundUrl(url, STRICT_POLICY);
    expect(result).toMatchObject({ ok: true });
    if (result.ok) expect(result.url.href).toBe(href);
  });
});

describe('checkOutboundUrl under a looser policy', () => {
  it('allowHttp lets http:// through, and nothing else that was refused', () => {
    const policy = { ...STRICT_POLICY, allowHttp: true };
    expect(checkOutboundUrl('http://example.com/hook', policy).ok).toBe(true);
    expect(checkOutboundUrl('http://example.com:8080/hook', policy)).toMatchObject({ ok: false, message: expect.stringContaining('default port 80') });
    expect(checkOutboundUrl('http://127.0.0.1/', policy).ok).toBe(false);
    expect(checkOutboundUrl('ftp://example.com/', policy)).toMatchObject({ ok: false, message: 'the URL must use https or http' });
  });

  it('allowLoopback lets loopback addresses and local names through, and no other private range', () => {
    for (const url of ['https://127.0.0.1/', 'https://127.1/', 'https://[::1]/', 'https://[::ffff:127.0.0.1]/', 'https://localhost/', 'https://a.localhost/', 'https://receiver/']) {
      expect(checkOutboundUrl(url, LOOPBACK_OK).ok, url).toBe(true);
    }
    for (const url of ['https://10.0.0.1/', 'https://169.254.169.254/', 'https://[fe80::1]/', 'https://[::127.0.0.1]/', 'https://[64:ff9b::7f00:1]/', 'https://[2002:7f00:1::]/', 'https://0/']) {
      expect(checkOutboundUrl(url, LOOPBACK_OK).ok, url).toBe(false);
    }
  });

  it("ports '*' allows any port; a list allows those and the default", () => {
    expect(checkOutboundUrl('https://example.com:8443/', { ...STRICT_POLICY, ports: '*' }).ok).toBe(true);
    const listed = { ...STRICT_POLICY, ports: [8443, 9443] };
    expect(checkOutboundUrl('https://example.com:8443/', listed).ok).toBe(true);
    expect(checkOutboundUrl('https://example.com:9443/', listed).ok).toBe(true);
    expect(checkOutboundUrl('https://example.com:443/', listed).ok).toBe(true);
    expect(checkOutboundUrl('https://example.com/', listed).ok).toBe(true);
    expect(checkOutboundUrl('https://example.com:8080/', listed).ok).toBe(false);
  });
});

describe('blockedAddress (what a resolver answers)', () => {
  it.each([
    ['10.1.2.3', 'a private address (10.0.0.0/8)'],
    ['127.0.0.53', 'a loopback address (127.0.0.0/8)'],
    ['::1', 'a loopback address (::1/128)'],
    ['::ffff:10.0.0.1', 'a private address (10.0.0.0/8)'],
    ['::ffff:a9fe:a9fe', 'a cloud metadata address (169.254.169.254: AWS, Google Cloud, Azure, Oracle and others)'],
    ['fe80::1%eth0', 'a link-local address (fe80::/10)'],
    ['[fd00:ec2::254]', 'a cloud metadata address (fd00:ec2::254: AWS over IPv6)'],
    ['192.88.99.1', 'a 6to4 relay address (192.88.99.0/24)'],
    ['192.175.48.1', 'a special-purpose address (as112)'],
    ['not-an-address', 'not an IP address'],
    ['', 'not an IP address'],
  ])('audit #28: refuses %s as %s', (address, reason) => {
    expect(blockedAddress(address, STRICT_POLICY)).toBe(reason);
  });

  it.each(['93.184.216.34', '1.1.1.1', '2606:4700::1111', '2a00:1450:4001:80b::200e', '64:ff9b::101:101', '::ffff:1.1.1.1'])('passes %s', (address) => {
    expect(blockedAddress(address, STRICT_POLICY)).toBeNull();
  });

  it('allowLoopback passes 127.0.0.0/8, ::1 and mapped loopback, but never metadata or private addresses', () => {
    expect(blockedAddress('127.0.0.1', LOOPBACK_OK)).toBeNull();
    expect(blockedAddress('::1', LOOPBACK_OK)).toBeNull();
    expect(blockedAddress('::ffff:127.0.0.1', LOOPBACK_OK)).toBeNull();
    expect(blockedAddress('169.254.169.254', LOOPBACK_OK)).toMatch(/metadata/);
    expect(blockedAddress('192.168.0.1', LOOPBACK_OK)).toMatch(/private/);
  });
});

describe('outboundPolicy (FFEDGE_OUTBOUND_*)', () => {
  it('is strict when nothing is set', () => {
    expect(outboundPolicy({})).toEqual(STRICT_POLICY);
    expect(outboundPolicy({ FFEDGE_OUTBOUND_ALLOW_HTTP: '', FFEDGE_OUTBOUND_ALLOW_LOOPBACK: '0', FFEDGE_OUTBOUND_PORTS: '' })).toEqual(STRICT_POLICY);
  });

  it('reads the flags and the ports', () => {
    expect(outboundPolicy({ FFEDGE_OUTBOUND_ALLOW_HTTP: '1' })).toMatchObject({ allowHttp: true, allowLoopback: false });
    expect(outboundPolicy({ FFEDGE_OUTBOUND_ALLOW_LOOPBACK: '1' })).toMatchObject({ allowHttp: false, allowLoopback: true });
    expect(outboundPolicy({ FFEDGE_OUTBOUND_PORTS: '*' }).ports).toBe('*');
    expect(outboundPolicy({ FFEDGE_OUTBOUND_PORTS: 'default' }).ports).toBe('default');
    expect(outboundPolicy({ FFEDGE_OUTBOUND_PORTS: '8443, 9443,8443' }).ports).toEqual([8443, 9443]);
  });

  it.each([
    ['FFEDGE_OUTBOUND_ALLOW_HTTP', 'true'],
    ['FFEDGE_OUTBOUND_ALLOW_HTTP', 'yes'],
    ['FFEDGE_OUTBOUND_ALLOW_LOOPBACK', '2'],
    ['FFEDGE_OUTBOUND_PORTS', '8443;9443'],
    ['FFEDGE_OUTBOUND_PORTS', '0'],
    ['FFEDGE_OUTBOUND_PORTS', '65536'],
    ['FFEDGE_OUTBOUND_PORTS', '8443,'],
    ['FFEDGE_OUTBOUND_PORTS', '*,8443'],
    ['FFEDGE_OUTBOUND_PORTS', '-1'],
    ['FFEDGE_OUTBOUND_PORTS', '84.43'],
  ])('throws on %s=%s, naming the variable', (name, value) => {
    expect(() => outboundPolicy({ [name]: value })).toThrow(name);
  });
});
