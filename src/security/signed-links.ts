/**
 * Short-lived signed links: a token that stands for an API key on one resource of one job until it expires, for
 * clients that cannot send a header (a browser's EventSource). HMAC-SHA256 with Web Crypto over what the token
 * grants (what, job, key, expiry), so it works the same on Node, Deno and Workers; verified by `crypto.subtle.verify`,
 * which compares in constant time. The key's own state (revoked, scopes) is checked when the token is used.
 *
 * Token: `<expiry, unix seconds>.<key id>.<base64url signature>`.
 */
export type LinkScope = 'events';

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    keys.set(secret, key);
  }
  return key;
}

const message = (scope: LinkScope, jobId: string, keyId: string, expiresS: number) => encoder.encode(`ffedge-link-v1|${scope}|${jobId}|${keyId}|${expiresS}`);

function base64url(bytes: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]{43}$/.test(text)) return null;
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  // One spelling per signature: the last character carries two unused bits, and a token that sets them must not
  // pass as the token that does not (a changed link would otherwise still verify).
  return base64url(out.buffer) === text ? out : null;
}

export async function signLink(secret: string, scope: LinkScope, jobId: string, keyId: string, expiresAtMs: number): Promise<string> {
  const expiresS = Math.floor(expiresAtMs / 1000);
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(secret), message(scope, jobId, keyId, expiresS));
  return `${expiresS}.${keyId}.${base64url(signature)}`;
}

/** The key id the token stands for, or null when it is not one this secret made for this job, or it has expired. */
export async function verifyLink(secret: string, token: string, scope: LinkScope, jobId: string, nowMs: number): Promise<string | null> {
  const match = /^(\d{1,12})\.([A-Za-z0-9]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return null;
  const expiresS = Number(match[1]);
  const signature = fromBase64url(match[3]!);
  if (!signature || expiresS * 1000 <= nowMs) return null;
  const valid = await crypto.subtle.verify('HMAC', await hmacKey(secret), signature, message(scope, jobId, match[2]!, expiresS));
  return valid ? match[2]! : null;
}

/**
 * An output link: `/api/v1/o/<token>/<name>` fetches a completed job's output `name` without the key while the token
 * holds. The token grants a path prefix of that job (one output's name, or a package's folder `hls/` so the
 * playlists' relative URIs resolve under it), names the secret that signed it (`kid`, so links signed before a
 * rotation keep working with FFEDGE_LINK_SECRET_PREVIOUS until they expire), and is signed for the job's key.
 *
 * Token: `<job id>.<expiry, unix seconds>.<kid>.<base64url prefix>.<base64url signature>`.
 */
export type OutputLinkCheck = { ok: true; jobId: string; prefix: string } | { ok: false; reason: 'invalid' | 'expired' };

const kids = new Map<string, Promise<string>>();

/** Which secret signed a link: the first 8 characters of its SHA-256, which tell secrets apart and give none away. */
function kidOf(secret: string): Promise<string> {
  let kid = kids.get(secret);
  if (!kid) {
    kid = crypto.subtle.digest('SHA-256', encoder.encode(`ffedge-kid|${secret}`)).then((d) => base64url(d).slice(0, 8));
    kids.set(secret, kid);
  }
  return kid;
}

const outputMessage = (jobId: string, keyId: string, prefix: string, expiresS: number, kid: string) =>
  encoder.encode(`ffedge-output-v1|${jobId}|${keyId}|${prefix}|${expiresS}|${kid}`);

const textToBase64url = (text: string) => base64url(encoder.encode(text).buffer as ArrayBuffer);

function base64urlToText(value: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(value)) return null;
  try {
    const binary = atob(value.replaceAll('-', '+').replaceAll('_', '/'));
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0)));
  } catch {
    return null;
  }
}

export async function signOutputLink(secret: string, jobId: string, keyId: string, prefix: string, expiresAtMs: number): Promise<string> {
  const expiresS = Math.floor(expiresAtMs / 1000);
  const kid = await kidOf(secret);
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(secret), outputMessage(jobId, keyId, prefix, expiresS, kid));
  return `${jobId}.${expiresS}.${kid}.${textToBase64url(prefix)}.${base64url(signature)}`;
}

/**
 * Checks a token against the secrets (current first) and the job's key (`keyOf`: the job's key id while the job
 * and its key exist and the key is not revoked, else null). A token whose signature holds but whose time is up is
 * `expired`; anything else that does not hold is `invalid`.
 */
export async function verifyOutputLink(
  secrets: readonly string[],
  token: string,
  nowMs: number,
  keyOf: (jobId: string) => Promise<string | null>,
): Promise<OutputLinkCheck> {
  const match = /^([0-9a-f-]{36})\.(\d{1,12})\.([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})$/.exec(token);
  const prefix = match ? base64urlToText(match[4]!) : null;
  const signature = match ? fromBase64url(match[5]!) : null;
  if (!match || prefix === null || !signature) return { ok: false, reason: 'invalid' };
  const [, jobId, expires, kid] = match as unknown as [string, string, string, string];
  let secret: string | undefined;
  for (const candidate of secrets) if ((await kidOf(candidate)) === kid) secret = candidate;
  const keyId = secret ? await keyOf(jobId) : null;
  if (!secret || !keyId) return { ok: false, reason: 'invalid' };
  const valid = await crypto.subtle.verify('HMAC', await hmacKey(secret), signature, outputMessage(jobId, keyId, prefix, Number(expires), kid));
  if (!valid) return { ok: false, reason: 'invalid' };
  if (Number(expires) * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, jobId, prefix };
}

/** Whether a link for `prefix` covers output `name`: the name itself, or anything under a folder prefix. */
export function linkCovers(prefix: string, name: string): boolean {
  return prefix.endsWith('/') ? name.startsWith(prefix) : name === prefix;
}

/**
 * When a link made now for `ttlMs` expires: rounded up to a step (a tenth of the time, at most 15 min), so links made
 * within one step are the same URL and players and caches see one resource, not a new one on every GET.
 */
export function linkExpiry(nowMs: number, ttlMs: number): number {
  const step = Math.min(ttlMs / 10, 15 * 60_000);
  return Math.ceil((nowMs + ttlMs) / step) * step;
}
