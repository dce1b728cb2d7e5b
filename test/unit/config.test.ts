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
});
