/**
 * Verifies a webhook the service sent (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`)
 * with the spec's own package, and returns its payload. Throws when the signature does not match one of the key's
 * secrets or the timestamp is more than five minutes off (replays).
 */
import { Webhook } from 'standardwebhooks';

export interface WebhookEvent {
  type: 'job.queued' | 'job.started' | 'job.progress' | 'job.completed' | 'job.failed' | 'job.cancelled' | 'job.retrying' | 'webhook.ping';
  timestamp: string;
  data: Record<string, unknown> & { id: string; status: string };
}

/** `payload` must be the raw body as received (a re-serialised object would not verify). */
export function verifyWebhook(payload: string, headers: Headers | Record<string, string>, secret: string): WebhookEvent {
  const plain = headers instanceof Headers ? Object.fromEntries(headers) : Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return new Webhook(secret).verify(payload, plain) as WebhookEvent;
}
