import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { limitsForTier, type Limits } from '../config.js';
import { problems } from '../problems.js';
import { hasScope, verifyKey, type Scope } from '../security/api-keys.js';
import { rateLimitHeaders } from '../security/token-bucket.js';
import type { AppEnv } from './env.js';

function presentedKey(authorization: string | undefined, header: string | undefined): string | null {
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    return match ? match[1]! : null;
  }
  return header ?? null;
}

/** Authenticates the API key (Authorization: Bearer, or X-API-Key) and requires one scope. */
export function requireKey(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const value = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
    if (!value) throw problems.unauthorized();
    const key = await verifyKey(c.var.platform.db, value);
    if (!key) throw problems.unauthorized('The API key is not valid.');
    if (!hasScope(key, scope)) throw problems.forbidden(`This key lacks the ${scope} scope.`);
    c.set('apiKey', key);
    await next();
  };
}

/** The limits of the request's API key tier (the default tier before a key is known). */
export function limitsFor(c: { var: AppEnv['Variables'] }): Limits {
  return limitsForTier(c.var.platform.config, c.var.apiKey?.tier);
}

/**
 * Charges `cost` tokens of the key's bucket (audit #10); every limited response carries RateLimit headers, and a
 * refused one Retry-After.
 */
export function rateLimit(cost: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const decision = await c.var.platform.limiter.take(c.var.apiKey.id, cost, limitsFor(c));
    const headers = rateLimitHeaders(decision);
    if (!decision.allowed) {
      throw problems.tooManyRequests('RATE_LIMITED', 'Too many requests for this key; slow down.', decision.retryAfterS, headers);
    }
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
