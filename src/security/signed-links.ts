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
  return out;
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
