/**
 * API keys look like `ffe_<id>_<secret>`. Only the SHA-256 of the secret is stored; lookup is by id, and the
 * comparison is constant-time, against a dummy hash for unknown ids, so timing does not reveal which ids exist
 * (audit #33).
 */
import { asc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { apiKeys, type ApiKey } from '../db/schema.js';
import { newWebhookSecret } from '../delivery/signing.js';

export const SCOPES = ['jobs:read', 'jobs:write', 'keys:manage', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
export const DEFAULT_SCOPES: Scope[] = ['jobs:read', 'jobs:write'];

const KEY_PATTERN = /^ffe_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
// The hash of no real secret: compared against when the id is unknown, so both paths do the same work.
const DUMMY_HASH = '0'.repeat(64);

export interface ParsedKey {
  id: string;
  secret: string;
}

export function parseKey(value: string): ParsedKey | null {
  const match = KEY_PATTERN.exec(value);
  return match ? { id: match[1]!, secret: match[2]! } : null;
}

export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function randomBase32(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b & 31]).join('');
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** A new random key value (not stored): for FFEDGE_BOOTSTRAP_ADMIN_KEY. */
export function generateKeyValue(): string {
  return `ffe_${randomBase32(16)}_${randomSecret()}`;
}

export interface CreatedKey {
  id: string;
  /** Shown once; never stored. */
  key: string;
  /** The key's webhook signing secret (`whsec_...`): shown once, rotated with POST /api/v1/webhooks/secret. */
  webhookSecret: string;
  name: string;
  scopes: Scope[];
}

export async function createKey(
  db: Db,
  init: { name: string; scopes?: Scope[]; tier?: string; now: number },
): Promise<CreatedKey> {
  const id = randomBase32(16);
  const secret = randomSecret();
  const scopes = init.scopes ?? DEFAULT_SCOPES;
  const webhookSecret = newWebhookSecret();
  await db.insert(apiKeys).values({
    id,
    name: init.name,
    secretHash: await hashSecret(secret),
    scopes,
    tier: init.tier ?? 'standard',
    createdAt: init.now,
    webhookSecret,
  });
  return { id, key: `ffe_${id}_${secret}`, webhookSecret, name: init.name, scopes };
}

/**
 * Stores a key whose full value comes from configuration (FFEDGE_BOOTSTRAP_ADMIN_KEY). Idempotent: a restart with
 * the same value keeps the row; a changed secret for the same id replaces the hash.
 */
export async function bootstrapAdminKey(db: Db, value: string, now: number): Promise<string> {
  const parsed = parseKey(value);
  if (!parsed) throw new Error('FFEDGE_BOOTSTRAP_ADMIN_KEY is not a key of the form ffe_<16 base32>_<43 base64url>');
  const secretHash = await hashSecret(parsed.secret);
  await db
    .insert(apiKeys)
    // Its webhook secret is made here and not shown: POST /api/v1/webhooks/secret makes one to see.
    .values({ id: parsed.id, name: 'bootstrap admin', secretHash, scopes: ['admin'], createdAt: now, webhookSecret: newWebhookSecret() })
    .onConflictDoUpdate({ target: apiKeys.id, set: { secretHash, scopes: ['admin'], revokedAt: null } });
  return parsed.id;
}

/** A key as operators see it (`keys list`): everything but the secret's hash. */
export type KeySummary = Omit<ApiKey, 'secretHash' | 'webhookSecret' | 'webhookSecretPrevious' | 'webhookSecretPreviousUntil'>;

export async function listKeys(db: Db): Promise<KeySummary[]> {
  return db
    .select({ id: apiKeys.id, name: apiKeys.name, scopes: apiKeys.scopes, tier: apiKeys.tier, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
    .all();
}

/** Revokes a key (a revoked key keeps its first revocation time); false when no key has this id. */
export async function revokeKey(db: Db, id: string, now: number): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${now})` })
    .where(eq(apiKeys.id, id))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

/** What a service started without any usable key logs: the exact commands that make one. */
export const NO_KEY_HINT =
  'No API key can use this service yet. Create an admin key with `npm run keys -- create --name admin --scope admin` ' +
  '(it prints the key once), or set FFEDGE_BOOTSTRAP_ADMIN_KEY to the output of `npm run -s keys -- generate` and restart.';

export async function hasActiveKey(db: Db): Promise<boolean> {
  return (await db.select({ id: apiKeys.id }).from(apiKeys).where(isNull(apiKeys.revokedAt)).limit(1).get()) !== undefined;
}


/** Compares two strings in time that depends only on their lengths (here always 64 hex characters). */
export function constantTimeEqual(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ (i < b.length ? b.charCodeAt(i) : 0);
  return difference === 0;
}

/**
 * The key columns as the lookup reads them: an id that does not exist yields the same row shape with these
 * stand-ins (and the dummy hash) instead of no row, so the driver and the row mapping do the same work for both.
 */
const lookupColumns = {
  id: sql<string>`coalesce(${apiKeys.id}, '')`,
  name: sql<string>`coalesce(${apiKeys.name}, '')`,
  secretHash: sql<string>`coalesce(${apiKeys.secretHash}, ${DUMMY_HASH})`,
  scopes: sql<string[]>`coalesce(${apiKeys.scopes}, '[]')`.mapWith(apiKeys.scopes),
  tier: sql<string>`coalesce(${apiKeys.tier}, '')`,
  createdAt: sql<number>`coalesce(${apiKeys.createdAt}, 0)`,
  revokedAt: apiKeys.revokedAt,
  // A key made before webhook secrets existed has none: '' stands in so both paths yield the same nulls.
  webhookSecret: sql<string | null>`coalesce(${apiKeys.webhookSecret}, '')`.mapWith((v: string) => (v === '' ? null : v)),
  webhookSecretPrevious: apiKeys.webhookSecretPrevious,
  webhookSecretPreviousUntil: apiKeys.webhookSecretPreviousUntil,
};

/**
 * Returns the key row for a presented value, or null. A known id with a wrong secret, an unknown id and a malformed
 * value do the same work (audit #33): one SHA-256, one statement that always yields exactly one row of the same
 * columns (a missing row was a cheaper path through the driver and the mapping: about 40 µs faster over HTTP), and
 * one constant-time comparison of two 64-character hashes.
 */
export async function verifyKey(db: Db, presented: string): Promise<ApiKey | null> {
  const parsed = parseKey(presented);
  const secretHash = await hashSecret(parsed?.secret ?? presented);
  const row = await db
    .select(lookupColumns)
    .from(sql`(select ${parsed?.id ?? ''} as id) as presented`)
    .leftJoin(apiKeys, sql`${apiKeys.id} = presented.id`)
    .get();
  const matches = constantTimeEqual(secretHash, row?.secretHash ?? DUMMY_HASH);
  if (!matches || !row?.id || row.revokedAt !== null) return null;
  return row;
}

/** The key with this id, unless it is revoked (for a signed link, which names its key by id). */
export async function activeKeyById(db: Db, id: string): Promise<ApiKey | null> {
  const row = await db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
  return row && row.revokedAt === null ? row : null;
}

export function hasScope(key: Pick<ApiKey, 'scopes'>, scope: Scope): boolean {
  return key.scopes.includes('admin') || key.scopes.includes(scope);
}
