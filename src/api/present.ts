/** How a job row looks to a client: no key ids, no blob keys, no lease details. */
import type { z } from '@hono/zod-openapi';
import type { JobResultSchema } from '../schemas/results.js';
import type { Job } from '../db/schema.js';
import type { Platform } from '../platform.js';
import { limitsForTier } from '../config.js';
import { linkExpiry, signLink, signOutputLink } from '../security/signed-links.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export type JobResult = z.infer<typeof JobResultSchema>;

/** A job's signed links (presentSigned): its events stream, and the token for each of its outputs' prefixes. */
export interface SignedLinks {
  eventsUrl: string | null;
  outputTokens: ReadonlyMap<string, string>;
}

const UNSIGNED: SignedLinks = { eventsUrl: null, outputTokens: new Map() };

/** What an output's signed link grants: a package's folder (so relative URIs resolve under it), else the file. */
export function outputPrefix(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(0, slash + 1);
}

const encodeName = (name: string) => name.split('/').map(encodeURIComponent).join('/');

/** How a job looks to a client; `signed` are its signed links (presentSigned), none where they are not made. */
export function presentJob(job: Job, signed: SignedLinks = UNSIGNED) {
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
      // A package's files keep their folders in the URL, so that the playlists' relative URIs resolve. Signed, the URL
      // works without the key (a <video>, hls.js, a shared link); unsigned, it needs the key.
      url: signed.outputTokens.has(outputPrefix(o.name))
        ? `/api/v1/o/${signed.outputTokens.get(outputPrefix(o.name))}/${encodeName(o.name)}`
        : `${self}/outputs/${encodeName(o.name)}`,
    })),
    outputs_expire_at: iso(job.outputsExpireAt),
    outputs_removed: job.outputsDeletedAt !== null && job.outputsDeletedReason ? { at: iso(job.outputsDeletedAt)!, reason: job.outputsDeletedReason } : null,
    // As the kind made it; the end-to-end tests check every completed job's result against its kind's schema.
    result: (job.result ?? null) as JobResult,
    request: job.request,
    created_at: iso(job.createdAt)!,
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    links: { self, events: `${self}/events`, events_url: signed.eventsUrl, logs: `${self}/logs` },
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

/** The tokens of a completed job's outputs, one per prefix, valid for the key's tier's output_link_ttl_s. */
async function outputTokens(platform: Platform, job: Job, tier: string): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  const secret = platform.config.linkSecret;
  if (!secret || job.status !== 'completed') return tokens;
  const ttlMs = limitsForTier(platform.config, tier).outputLinkTtlS * 1000;
  const expires = linkExpiry(platform.clock(), ttlMs);
  for (const prefix of new Set((job.outputs ?? []).map((o) => outputPrefix(o.name)))) {
    tokens.set(prefix, await signOutputLink(secret, job.id, job.apiKeyId, prefix, expires));
  }
  return tokens;
}

/** presentJob with its signed links; `key` is the job's own key (its tier says how long output links last). */
export async function presentSigned(platform: Platform, job: Job, key: { tier: string }) {
  return presentJob(job, { eventsUrl: await signedEventsUrl(platform, job), outputTokens: await outputTokens(platform, job, key.tier) });
}
