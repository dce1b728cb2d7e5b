import { describe, expect, it } from 'vitest';
import { addressBucket } from '../../../src/api/client-address.js';

describe('client address buckets', () => {
  it('audit #10: one bucket per IPv4 address and per IPv6 /64, however the address is written', () => {
    expect(addressBucket('203.0.113.7')).toBe('addr:203.0.113.7');
    expect(addressBucket('::ffff:203.0.113.7')).toBe('addr:203.0.113.7');
    expect(addressBucket('::FFFF:203.0.113.7')).toBe('addr:203.0.113.7');
    const slash64 = 'addr:2001:db8:0:1::/64';
    for (const written of ['2001:db8:0:1::1', '2001:0db8:0000:0001:ffff:ffff:ffff:ffff', '2001:DB8:0:1:0:0:0:2', '2001:db8::1:0:0:0:3', '2001:db8:0:1::9%eth0', '[2001:db8:0:1::1]']) {
      expect(addressBucket(written), written).toBe(slash64);
    }
    expect(addressBucket('2001:db8:0:2::1')).not.toBe(slash64);
    expect(addressBucket('::1')).toBe('addr:0:0:0:0::/64');
    expect(addressBucket('64:ff9b::192.0.2.33')).toBe('addr:64:ff9b:0:0::/64');
  });

  it('puts anything that is not an address into one shared bucket, so garbage cannot mint fresh ones', () => {
    for (const value of [null, '', 'unknown', '203.0.113.256', '1.2.3', 'a:b:c', '1::2::3', 'not an address', '2001:db8:0:1:2:3:4:5:6', `x${'1'.repeat(100)}`]) {
      expect(addressBucket(value), String(value)).toBe('addr:unknown');
    }
  });
});
