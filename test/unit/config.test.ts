import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('config', () => {
  it('defaults the pool to half the cores, at least one', () => {
    expect(loadConfig({}, { cores: 1 }).poolSize).toBe(1);
    expect(loadConfig({}, { cores: 8 }).poolSize).toBe(4);
  });
  it('refuses malformed and out-of-range numbers instead of guessing', () => {
    expect(() => loadConfig({ FFEDGE_LEASE_MS: '1e9' })).toThrow(/whole number/);
    expect(() => loadConfig({ FFEDGE_LEASE_MS: '10' })).toThrow(/between/);
  });
  it('audit #10: trusts no client-address header unless one is named, and then only a header name', () => {
    expect(loadConfig({}).trustedProxyHeader).toBeNull();
    expect(loadConfig({ FFEDGE_TRUSTED_PROXY_HEADER: ' X-Forwarded-For ' }).trustedProxyHeader).toBe('x-forwarded-for');
    expect(() => loadConfig({ FFEDGE_TRUSTED_PROXY_HEADER: 'x-forwarded-for: 1.2.3.4' })).toThrow(/header name/);
  });
});
