import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiKeys } from '../../../src/db/schema.js';
import { bootstrapAdminKey, createKey, hasActiveKey, hasScope, listKeys, parseKey, revokeKey, verifyKey } from '../../../src/security/api-keys.js';
import { tempDb } from '../../helpers/db.js';

let store: Awaited<ReturnType<typeof tempDb>>;
beforeEach(async () => {
  store = await tempDb();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await store.close();
});

describe('api keys', () => {
  it('stores only the SHA-256 of the secret and verifies the full key', async () => {
    const created = await createKey(store.db, { name: 'ci', now: 1 });
    expect(created.key).toMatch(/^ffe_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/);
    const row = await store.db.select().from(apiKeys).where(eq(apiKeys.id, created.id)).get();
    expect(row?.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(parseKey(created.key)!.secret);
    expect((await verifyKey(store.db, created.key))?.id).toBe(created.id);
  });

  it('refuses a revoked key', async () => {
    const created = await createKey(store.db, { name: 'ci', now: 1 });
    await store.db.update(apiKeys).set({ revokedAt: 2 }).where(eq(apiKeys.id, created.id));
    expect(await verifyKey(store.db, created.key)).toBeNull();
  });

  it('revokes by id once (the first time is kept), says when no key has the id, and lists keys without hashes', async () => {
    expect(await hasActiveKey(store.db)).toBe(false);
    const created = await createKey(store.db, { name: 'ci', now: 1 });
    expect(await hasActiveKey(store.db)).toBe(true);
    expect(await revokeKey(store.db, created.id, 5)).toBe(true);
    expect(await revokeKey(store.db, created.id, 9)).toBe(true);
    expect(await revokeKey(store.db, 'nosuchkeyid00000', 9)).toBe(false);
    expect(await verifyKey(store.db, created.key)).toBeNull();
    expect(await hasActiveKey(store.db)).toBe(false);
    expect(await listKeys(store.db)).toEqual([{ id: created.id, name: 'ci', scopes: ['jobs:read', 'jobs:write'], tier: 'standard', createdAt: 1, revokedAt: 5 }]);
  });

  it('audit #33: unknown ids and wrong secrets take the same steps: one hash, one lookup, one constant-time comparison', async () => {
    const created = await createKey(store.db, { name: 'ci', now: 1 });
    const wrongSecret = `ffe_${created.id}_${'A'.repeat(43)}`;
    const unknownId = `ffe_${'z'.repeat(16)}_${'A'.repeat(43)}`;
    const digests = vi.spyOn(crypto.subtle, 'digest');
    const selects = vi.spyOn(store.db, 'select');

    const steps = async (key: string) => {
      digests.mockClear();
      selects.mockClear();
      expect(await verifyKey(store.db, key)).toBeNull();
      // hono's timingSafeEqual hashes both sides before its constant-time comparison, so the digest count includes it.
      return { digests: digests.mock.calls.length, selects: selects.mock.calls.length };
    };
    const unknown = await steps(unknownId);
    const wrong = await steps(wrongSecret);
    expect(unknown).toEqual(wrong);
    expect(unknown.selects).toBe(1);
    expect(unknown.digests).toBeGreaterThanOrEqual(3);
  });

  it('bootstraps an admin key from configuration idempotently; there is no default key', async () => {
    expect(await store.db.select().from(apiKeys).all()).toEqual([]);
    const value = `ffe_${'b'.repeat(16)}_${'S'.repeat(43)}`;
    await bootstrapAdminKey(store.db, value, 1);
    await bootstrapAdminKey(store.db, value, 2);
    const rows = await store.db.select().from(apiKeys).all();
    expect(rows).toHaveLength(1);
    const key = await verifyKey(store.db, value);
    expect(key && hasScope(key, 'keys:manage')).toBe(true);
    await expect(bootstrapAdminKey(store.db, 'admin', 3)).rejects.toThrow(/not a key/);
  });
});
