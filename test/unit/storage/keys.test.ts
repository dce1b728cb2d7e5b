import { describe, expect, it } from 'vitest';
import {
  InvalidBlobKeyError,
  MAX_BLOB_KEY_LENGTH,
  assertBlobKey,
  healthProbeKey,
  logKey,
  outputKey,
  uploadKey,
} from '../../../src/storage/keys.js';

const JOB = '0190b6a4-7c3e-7d2a-9f1b-2c3d4e5f6a7b';

describe('blob keys', () => {
  it('are built from ids ffedge made, in one spelling', () => {
    expect(uploadKey(JOB)).toBe(`uploads/${JOB}`);
    expect(uploadKey(JOB.toUpperCase())).toBe(`uploads/${JOB}`);
    expect(outputKey(JOB, 1, 'output.mp4')).toBe(`outputs/${JOB}/1/output.mp4`);
    expect(outputKey(JOB, 3, '720p/segment_001.m4s')).toBe(`outputs/${JOB}/3/720p/segment_001.m4s`);
    expect(logKey(JOB, 2)).toBe(`logs/${JOB}/2.log`);
    expect(healthProbeKey()).toMatch(/^\.health\/[0-9a-f-]{36}$/);
    expect(healthProbeKey()).not.toBe(healthProbeKey());
  });

  it('refuse ids and names that are not what the builder expects', () => {
    for (const id of ['', 'x', '../x', `${JOB}/x`, `${JOB} `, JOB.replace(/-/g, '')]) {
      expect(() => uploadKey(id), id).toThrow(InvalidBlobKeyError);
      expect(() => outputKey(id, 1, 'a.mp4'), id).toThrow(InvalidBlobKeyError);
    }
    for (const attempt of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1001]) {
      expect(() => outputKey(JOB, attempt, 'a.mp4'), String(attempt)).toThrow(InvalidBlobKeyError);
      expect(() => logKey(JOB, attempt), String(attempt)).toThrow(InvalidBlobKeyError);
    }
    for (const name of ['', '../x', 'a/../b', './a', 'a//b', '/a', 'a/', 'a b.mp4', 'ä.mp4', 'a\\b', 'a%2fb', 'a\u0000b']) {
      expect(() => outputKey(JOB, 1, name), JSON.stringify(name)).toThrow(InvalidBlobKeyError);
    }
  });

  it('accept only bounded [A-Za-z0-9._-] segments, with no empty, . or .. segment', () => {
    for (const key of ['uploads/abc', 'a', 'a.b-c_D/E.f', '.health/x', '...']) expect(() => assertBlobKey(key)).not.toThrow();
    for (const key of [
      '',
      '/',
      '/a',
      'a/',
      'a//b',
      '.',
      '..',
      'a/./b',
      'a/../b',
      'a\\b',
      'a b',
      'a:b',
      'a~b',
      'a%2e',
      'ü',
      'a\nb',
      'x'.repeat(256),
      `${'a/'.repeat(16)}a`,
      `${'x'.repeat(200)}/`.repeat(6).slice(0, MAX_BLOB_KEY_LENGTH + 1),
    ]) {
      expect(() => assertBlobKey(key), JSON.stringify(key)).toThrow(InvalidBlobKeyError);
    }
  });

  it('errors never echo the key', () => {
    try {
      assertBlobKey('secret/../x');
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidBlobKeyError);
      expect((error as InvalidBlobKeyError).code).toBe('INVALID_BLOB_KEY');
      expect((error as Error).message).not.toContain('secret');
    }
  });
});
