/**
 * What every job-creating endpoint shares: input checks, the Idempotency-Key, the insert that enforces the
 * concurrency quota, and the hand-off to dispatch. Validation is complete before anything is stored (audit #13).
 */
import type { Context } from 'hono';
import { and, eq, isNull } from 'drizzle-orm';
import { uploads, type Job, type JobKind } from '../db/schema.js';
import { ConcurrencyLimitError, createJob, IdempotencyError } from '../jobs/create.js';
import { DEFAULT_WEBHOOK_EVENTS } from '../delivery/events.js';
import { checkOutboundUrl } from '../delivery/ssrf.js';
import { problems } from '../problems.js';
import { parseInputUri, StorageUriError, type InputLocation } from '../storage/uri.js';
import type { Kind, KindPlan } from '../kinds/index.js';
import { chooseEngine, type Routed } from './engine-choice.js';
import type { AppEnv } from './env.js';
import { presentSigned } from './present.js';
import { limitsFor } from './middleware.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export interface Submission {
  kind: JobKind;
  request: Record<string, unknown>;
  /** JSON pointer of the input URI in the request body. */
  inputs: { pointer: string; uri: string }[];
  priority: number;
  engine: string | null;
  /** Why routing chose the engine. */
  engineReason?: string | null;
}

export async function checkInput(c: Context<AppEnv>, pointer: string, uri: string): Promise<InputLocation> {
  const { platform, apiKey } = c.var;
  const schemes = platform.localFiles ? (['upload', 'local'] as const) : (['upload'] as const);
  let location: InputLocation;
  try {
    location = parseInputUri(uri, schemes);
  } catch (error) {
    if (error instanceof StorageUriError) {
      throw problems.validation([{ pointer, message: error.message, allowed: error.allowedSchemes }]);
    }
    throw error;
  }
  if (location.kind === 'local') {
    const resolved = await platform.localFiles?.resolve(location.path);
    if (!resolved?.ok) {
      throw problems.unprocessable('INPUT_NOT_FOUND', 'The local input cannot be used.', [
        { pointer, message: resolved?.message ?? 'local inputs are not available here' },
      ]);
    }
  }
  if (location.kind === 'upload') {
    const found = await platform.db
      .select({ id: uploads.id })
      .from(uploads)
      .where(and(eq(uploads.id, location.id), eq(uploads.apiKeyId, apiKey.id), isNull(uploads.deletedAt)))
      .get();
    if (!found) throw problems.unprocessable('INPUT_NOT_FOUND', 'No upload with this id belongs to this key.', [{ pointer, message: 'unknown upload' }]);
  }
  return location;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Key order does not change what a request means, so it does not change its idempotency hash. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A request's webhook, checked before anything is stored: a URL the SSRF guard lets through (422 at /webhook_url
 * otherwise), events only with a URL, and a key that can sign. Null without a webhook.
 */
export function checkWebhook(c: Context<AppEnv>, request: Record<string, unknown>): { url: string; events: readonly string[] } | null {
  const { platform, apiKey } = c.var;
  const url = request.webhook_url as string | undefined;
  const events = request.webhook_events as string[] | undefined;
  if (url === undefined) {
    if (events !== undefined) {
      throw problems.unprocessable('INVALID_OPTION', 'webhook_events names the events of a webhook, and there is none.', [
        { pointer: '/webhook_events', message: 'webhook_events without webhook_url', suggestion: 'add webhook_url, or leave webhook_events out' },
      ]);
    }
    return null;
  }
  const checked = checkOutboundUrl(url, platform.config.outbound);
  if (!checked.ok) throw problems.unprocessable('UNSAFE_URL', 'The webhook URL cannot be used.', [{ pointer: '/webhook_url', message: checked.message }]);
  if (!apiKey.webhookSecret) {
    throw problems.unprocessable('NO_WEBHOOK_SECRET', 'This key has no webhook signing secret yet.', [
      { pointer: '/webhook_url', message: 'webhooks are signed with the key’s secret', suggestion: 'POST /api/v1/webhooks/secret makes one (shown once)' },
    ]);
  }
  return { url: checked.url.href, events: events ?? DEFAULT_WEBHOOK_EVENTS };
}

export async function submit(c: Context<AppEnv>, submission: Submission): Promise<{ job: Job; replayed: boolean }> {
  const { platform, apiKey } = c.var;
  const webhook = checkWebhook(c, submission.request);
  for (const input of submission.inputs) await checkInput(c, input.pointer, input.uri);

  const idempotencyKey = c.req.header('idempotency-key');
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw problems.validation([{ parameter: 'Idempotency-Key', message: 'Use 1 to 255 visible ASCII characters.' }]);
  }
  const { job, replayed } = await createJob(platform.db, {
    id: platform.ids(),
    apiKeyId: apiKey.id,
    kind: submission.kind,
    request: submission.request,
    priority: submission.priority,
    engine: submission.engine,
    engineReason: submission.engineReason ?? null,
    maxAttempts: platform.config.maxAttempts,
    concurrentLimit: limitsFor(c).concurrentJobs,
    retentionS: limitsFor(c).retentionS,
    webhook,
    now: platform.clock(),
    ...(idempotencyKey === undefined
      ? {}
      : { idempotency: { key: idempotencyKey, requestHash: await sha256Hex(`${submission.kind}\n${canonicalJson(submission.request)}`) } }),
  }).catch(refusal);
  if (!replayed) {
    await platform.coordinator.notify(job.id);
    if (webhook) await platform.webhooks.kick(job.id);
    await platform.dispatch.queued({ id: job.id, kind: job.kind, priority: job.priority });
  }
  return { job, replayed };
}

/** What creating a job refused, as the problem a client reads. */
function refusal(error: unknown): never {
  if (error instanceof ConcurrencyLimitError) {
    throw problems.tooManyRequests('CONCURRENCY_LIMIT', `This key already has ${error.limit} jobs queued or processing; wait for one to finish.`, 5);
  }
  if (error instanceof IdempotencyError) {
    throw error.reason === 'reused'
      ? problems.unprocessable('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request body.')
      : problems.conflict('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still being processed.');
  }
  throw error;
}

/**
 * What every job-creating route does once its body is parsed: the kind's checks of what the request alone tells
 * (422 with pointers, nothing stored: audit #13), the engine (routing at submission, or `route` where the kind
 * chooses its own way), the insert and the hand-off; 202 with the job.
 */
export async function acceptJob<R extends { options: { priority: number }; webhook_url?: string | undefined }>(
  c: Context<AppEnv>,
  kind: Kind<R, KindPlan>,
  request: R,
  route?: () => Promise<Routed>,
) {
  const found = kind.validate(request, limitsFor(c));
  if (found.length > 0) throw problems.planned(found);
  const routed = route ? await route() : await chooseEngine(c, kind, request, limitsFor(c));
  const { job, replayed } = await submit(c, {
    kind: kind.name,
    request: request as unknown as Record<string, unknown>,
    inputs: kind.inputs(request),
    priority: request.options.priority,
    engine: routed.engine,
    engineReason: routed.reason,
  });
  return { body: await presentSigned(c.var.platform, job, c.var.apiKey), headers: acceptedHeaders(job, replayed) };
}

export function acceptedHeaders(job: Job, replayed: boolean): Record<string, string> {
  return { location: `/api/v1/jobs/${job.id}`, ...(replayed ? { 'idempotent-replayed': 'true' } : {}) };
}
