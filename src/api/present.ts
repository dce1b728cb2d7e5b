/** How a job row looks to a client: no key ids, no blob keys, no lease details. */
import type { z } from '@hono/zod-openapi';
import type { JobResultSchema } from '../schemas/results.js';
import type { Job } from '../db/schema.js';
import type { Platform } from '../platform.js';
import { signLink } from '../security/signed-links.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export type JobResult = z.infer<typeof JobResultSchema>;

/** How a job looks to a client; `eventsUrl` is its signed events link (see signedEventsUrl), null where none is made. */
export function presentJob(job: Job, eventsUrl: string | null = null) {
  const self = `/api/v1/jobs/${job.id}`;
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    priority: job.priority,
    engine: job.engine,
    engine_reason: job.engineReason,
    progress: {
      percentage: job.progressPercentage,
      stage: job.progressStage as 'queued',
      fps: job.progressFps,
      speed: job.progressSpeed,
      out_time_s: job.progressOutTimeS,
      eta_s: job.progressEtaS,
    },
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    error:
      job.errorCode && (job.status === 'failed' || job.status === 'cancelled')
        ? { code: job.errorCode, message: job.errorMessage ?? '' }
        : null,
    outputs: (job.outputs ?? []).map((o) => ({
      name: o.name,
      size: o.size,
      content_type: o.content_type,
      // A package's files keep their folders in the URL, so that the playlists' relative URIs resolve.
      url: `${self}/outputs/${o.name.split('/').map(encodeURIComponent).join('/')}`,
    })),
    // As the kind made it; the end-to-end tests check every completed job's result against its kind's schema.
    result: (job.result ?? null) as JobResult,
    request: job.request,
    created_at: iso(job.createdAt)!,
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    links: { self, events: `${self}/events`, events_url: eventsUrl, logs: `${self}/logs` },
  };
}

export function encodeCursor(cursor: { createdAt: number; id: string }): string {
  return btoa(JSON.stringify([cursor.createdAt, cursor.id])).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** Null for anything that is not a cursor this server made. */
export function decodeCursor(value: string): { createdAt: number; id: string } | null {
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(value)) return null;
    const parsed: unknown = JSON.parse(atob(value.replaceAll('-', '+').replaceAll('_', '/')));
    if (!Array.isArray(parsed) || parsed.length !== 2) return null;
    const [createdAt, id] = parsed as unknown[];
    if (!Number.isSafeInteger(createdAt) || typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) return null;
    return { createdAt: createdAt as number, id };
  } catch {
    return null;
  }
}

/**
 * The job's events stream as a link that needs no header (a browser's EventSource cannot send one): signed for the
 * job's key, valid for config.eventsUrlTtlMs. Null where no link secret is configured (Workers without
 * FFEDGE_LINK_SECRET).
 */
export async function signedEventsUrl(platform: Platform, job: Job): Promise<string | null> {
  const secret = platform.config.linkSecret;
  if (!secret) return null;
  const token = await signLink(secret, 'events', job.id, job.apiKeyId, platform.clock() + platform.config.eventsUrlTtlMs);
  return `/api/v1/jobs/${job.id}/events?token=${token}`;
}

/** presentJob with its signed links. */
export async function presentSigned(platform: Platform, job: Job) {
  return presentJob(job, await signedEventsUrl(platform, job));
}
