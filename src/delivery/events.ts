/**
 * The webhook events: the job events of the one event log (`job_events`, written by the transition triggers) under
 * the names receivers know. The trigger that makes a delivery for each (src/db/migrations/0007_webhook_event_trigger.sql)
 * names them the same way; test/unit/delivery/events.test.ts holds the two together.
 */
export const WEBHOOK_EVENTS = ['job.queued', 'job.started', 'job.progress', 'job.completed', 'job.failed', 'job.cancelled', 'job.retrying'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** What a webhook gets when the request names no events: how the job ended. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = ['job.completed', 'job.failed', 'job.cancelled'];

/** The signed message a receiver can be checked with (POST /webhooks/test); never a job's event. */
export const PING_EVENT = 'webhook.ping';

/** A job event's webhook name: `job.retrying` is a job queued again after a failed attempt. */
export function webhookEventOf(event: { type: 'status' | 'progress'; data: Record<string, unknown> }): WebhookEvent {
  if (event.type === 'progress') return 'job.progress';
  const status = String(event.data.status);
  if (status === 'queued') return Number(event.data.attempt) > 0 ? 'job.retrying' : 'job.queued';
  if (status === 'processing') return 'job.started';
  return `job.${status}` as WebhookEvent;
}
