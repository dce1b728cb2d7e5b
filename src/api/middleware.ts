import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { limitsForTier, type Limits } from '../config.js';
import type { ApiKey } from '../db/schema.js';
import { problems } from '../problems.js';
import { activeKeyById, hasScope, verifyKey, type Scope } from '../security/api-keys.js';
import { verifyLink, type LinkScope } from '../security/signed-links.js';
import { rateLimitHeaders } from '../security/token-bucket.js';
import { addressBucket, clientAddress } from './client-address.js';
import type { AppEnv } from './env.js';

function presentedKey(authorization: string | undefined, header: string | undefined): string | null {
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    return match ? match[1]! : null;
  }
  return header ?? null;
}

/** The authenticated key, if a middleware has set one (the type says always; public routes may have none). */
function keyOf(c: Context<AppEnv>): ApiKey | undefined {
  return (c.var as { apiKey?: ApiKey }).apiKey;
}

/**
 * The key named by the request, or a 401. A request that fails to authenticate is charged to its client address
 * (audit #10), so failing is limited like everything else; the 401 carries the address's RateLimit headers, and
 * past the limit it becomes a 429.
 */
async function authenticate(c: Context<AppEnv>): Promise<ApiKey> {
  const value = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
  const key = value ? await verifyKey(c.var.platform.db, value) : null;
  if (key) return key;
  const headers = await charge(c, 1);
  throw value ? problems.unauthorized('The API key is not valid.', headers) : problems.unauthorized(undefined, headers);
}

/** Authenticates the API key (Authorization: Bearer, or X-API-Key) and requires one scope. */
export function requireKey(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = await authenticate(c);
    if (!hasScope(key, scope)) throw problems.forbidden(`This key lacks the ${scope} scope.`);
    c.set('apiKey', key);
    await next();
  };
}

/**
 * A signed link instead of a key (src/security/signed-links.ts): `?token=` on the route of one job's resource, for
 * clients that cannot send a header. It stands for its key while that key is active and holds `scope`; a bad or
 * expired token is a 401 charged to the client address, as any failed authentication.
 */
export function requireLink(link: LinkScope, scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { platform } = c.var;
    const secret = platform.config.linkSecret;
    const jobId = c.req.param('id') ?? /\/jobs\/([^/]+)\//.exec(c.req.path)?.[1] ?? '';
    const keyId = secret ? await verifyLink(secret, c.req.query('token') ?? '', link, jobId, platform.clock()) : null;
    const key = keyId ? await activeKeyById(platform.db, keyId) : null;
    if (!key || !hasScope(key, scope)) {
      const headers = await charge(c, 1);
      throw problems.unauthorized('The link is not valid or has expired; GET the job again for a fresh one.', headers);
    }
    c.set('apiKey', key);
    await next();
  };
}

/**
 * For public routes that show a key more: a request without credentials goes on anonymously (and is limited by
 * its address), one with credentials must authenticate as for requireKey.
 */
export function optionalKey(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.header('authorization') !== undefined || c.req.header('x-api-key') !== undefined) c.set('apiKey', await authenticate(c));
    await next();
  };
}

/** The limits of the request's API key tier (the default tier before a key is known). */
export function limitsFor(c: { var: AppEnv['Variables'] }): Limits {
  return limitsForTier(c.var.platform.config, c.var.apiKey?.tier);
}

/**
 * Takes `cost` tokens from the key's bucket, or without a key from the client address's (audit #10): the RateLimit
 * headers to send, or a 429 with Retry-After.
 */
async function charge(c: Context<AppEnv>, cost: number): Promise<Record<string, string>> {
  const key = keyOf(c);
  const bucket = key ? key.id : addressBucket(clientAddress(c));
  const decision = await c.var.platform.limiter.take(bucket, cost, limitsFor(c));
  const headers = rateLimitHeaders(decision);
  if (!decision.allowed) {
    const detail = key ? 'Too many requests for this key; slow down.' : 'Too many requests from this address; slow down.';
    throw problems.tooManyRequests('RATE_LIMITED', detail, decision.retryAfterS, headers);
  }
  return headers;
}

/**
 * Charges `cost` tokens (the key's bucket, or the client address's on a public route); every limited response
 * carries RateLimit headers, and a refused one Retry-After.
 */
export function rateLimit(cost: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const headers = await charge(c, cost);
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
}

/** JSON bodies are limited while they stream (audit #8): past the limit, 413 before the rest is read. */
export const jsonBodyLimit: MiddlewareHandler<AppEnv> = (c, next) =>
  bodyLimit({
    maxSize: c.var.platform.config.limits.bodyBytes,
    onError: () => {
      throw problems.tooLarge(c.var.platform.config.limits.bodyBytes);
    },
  })(c, next);

export const requireJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) throw problems.unsupportedMedia('application/json');
  await next();
};
