/**
 * Standard Webhooks signing (https://www.standardwebhooks.com), with the spec's own package: `webhook-signature` is
 * `v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the key's `whsec_` secret. While a rotated secret overlaps
 * the new one, both sign: the header carries both signatures, space-separated, as the spec allows, so a receiver
 * with either secret verifies.
 */
import { Webhook } from 'standardwebhooks';

const SECRET_BYTES = 32;

/** A new signing secret: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `whsec_${btoa(binary)}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers of a message `id` sent at `at` (ms) with `body`, signed with every secret in `secrets`. */
export function signWebhook(secrets: readonly string[], id: string, at: number, body: string): SignedHeaders {
  if (secrets.length === 0) throw new Error('no webhook secret to sign with');
  const when = new Date(at);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(id, when, body)).join(' '),
  };
}

/** The secrets that sign now: the current one, and the previous one while its overlap lasts. */
export function signingSecrets(key: { webhookSecret: string | null; webhookSecretPrevious: string | null; webhookSecretPreviousUntil: number | null }, now: number): string[] {
  const secrets = key.webhookSecret ? [key.webhookSecret] : [];
  if (key.webhookSecretPrevious && key.webhookSecretPreviousUntil !== null && key.webhookSecretPreviousUntil > now) secrets.push(key.webhookSecretPrevious);
  return secrets;
}
