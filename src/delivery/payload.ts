/**
 * What a webhook says: a safe summary of the job at its event, in the Standard Webhooks shape `{ type, timestamp,
 * data }`. Only what a client may see (audit #9): ids, status, progress, outputs with their links, and a failure's
 * code and safe message (the job's error_message, which src/jobs/failures.ts made safe). Never the request's storage
 * URIs, a log, a stack, a server path, an engine's stderr or upstream text.
 */
import type { Job } from '../db/schema.js';
import type { WebhookEvent } from './events.js';

export interface EventFacts {
  event: WebhookEvent;
  /** The event's own data as the log holds it (status events: status, attempt, error_code, error_message). */
  data: Record<string, unknown> | null;
  /** When the event happened (ms). */
  at: number;
  /** A progress event's percentage, as the delivery kept it (the log keeps only the newest progress rows). */
  percentage: number | null;
}

export interface WebhookPayload {
  type: WebhookEvent;
  timestamp: string;
  data: {
    id: string;
    kind: string;
    status: string;
    attempt: number;
    progress: { percentage: number | null; stage: string };
    outputs: { name: string; size: number; content_type: string; url: string }[];
    error: { code: string; message: string } | null;
    links: { self: string; events: string; outputs: string; webhooks: string };
  };
}

/** `base` is the service's public origin (FFEDGE_PUBLIC_URL); without it the links are paths on the API's origin. */
export function webhookPayload(job: Job, facts: EventFacts, base = ''): WebhookPayload {
  const self = `${base}/api/v1/jobs/${job.id}`;
  const data = facts.data ?? {};
  const status = facts.event === 'job.progress' ? 'processing' : typeof data.status === 'string' ? data.status : job.status;
  const errorCode = typeof data.error_code === 'string' ? data.error_code : null;
  const ended = facts.event === 'job.failed' || facts.event === 'job.cancelled' || facts.event === 'job.retrying';
  return {
    type: facts.event,
    timestamp: new Date(facts.at).toISOString(),
    data: {
      id: job.id,
      kind: job.kind,
      status,
      attempt: typeof data.attempt === 'number' ? data.attempt : job.attempts,
      progress:
        facts.event === 'job.progress'
          ? { percentage: facts.percentage, stage: typeof data.stage === 'string' ? data.stage : job.progressStage }
          : { percentage: facts.event === 'job.completed' ? 100 : null, stage: status },
      // The outputs exist once the job completed; they are the job's, read when the delivery is first sent.
      outputs:
        facts.event === 'job.completed'
          ? (job.outputs ?? []).map((o) => ({
              name: o.name,
              size: o.size,
              content_type: o.content_type,
              url: `${self}/outputs/${o.name.split('/').map(encodeURIComponent).join('/')}`,
            }))
          : [],
      error: ended && errorCode ? { code: errorCode, message: typeof data.error_message === 'string' ? data.error_message : '' } : null,
      links: { self, events: `${self}/events`, outputs: `${self}/outputs`, webhooks: `${self}/webhooks` },
    },
  };
}
