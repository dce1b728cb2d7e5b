/**
 * The one schema shared by D1 (Workers) and libSQL (Node, Deno). Times are integer milliseconds since the epoch.
 * Migrations are generated from this file by drizzle-kit (`npm run db:generate`) into src/db/migrations; the
 * event triggers live in a hand-written migration next to them.
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const JOB_STATUSES = ['queued', 'processing', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const ACTIVE_STATUSES = ['queued', 'processing'] as const satisfies readonly JobStatus[];
export const JOB_KINDS = ['convert', 'probe', 'stream', 'analyze'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Hex SHA-256 of the secret part; the secret itself is never stored. */
  secretHash: text('secret_hash').notNull(),
  scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
  tier: text('tier').notNull().default('standard'),
  createdAt: integer('created_at').notNull(),
  revokedAt: integer('revoked_at'),
  /**
   * The Standard Webhooks signing secret (`whsec_...`) of the key's webhooks, shown once when made. Stored as it is:
   * signing needs it. After a rotation the previous one signs too, until `webhookSecretPreviousUntil`.
   */
  webhookSecret: text('webhook_secret'),
  webhookSecretPrevious: text('webhook_secret_previous'),
  webhookSecretPreviousUntil: integer('webhook_secret_previous_until'),
});

export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    apiKeyId: text('api_key_id').notNull(),
    kind: text('kind', { enum: JOB_KINDS }).notNull(),
    status: text('status', { enum: JOB_STATUSES }).notNull(),
    priority: integer('priority').notNull().default(0),
    engine: text('engine'),
    /** Why routing chose the engine (or what forced it), for clients and operators. */
    engineReason: text('engine_reason'),
    request: text('request', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    progressPercentage: real('progress_percentage'),
    progressStage: text('progress_stage').notNull().default('queued'),
    progressFps: real('progress_fps'),
    progressSpeed: real('progress_speed'),
    progressOutTimeS: real('progress_out_time_s'),
    progressEtaS: real('progress_eta_s'),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    version: integer('version').notNull().default(0),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    outputs: text('outputs', { mode: 'json' }).$type<JobOutput[]>(),
    result: text('result', { mode: 'json' }).$type<Record<string, unknown>>(),
    logTail: text('log_tail'),
    batchId: text('batch_id'),
    idempotencyKey: text('idempotency_key'),
    webhookUrl: text('webhook_url'),
    webhookEvents: text('webhook_events', { mode: 'json' }).$type<string[]>(),
    /** Set when the receiver answered 410 Gone: nothing more is sent for this job. */
    webhookStoppedAt: integer('webhook_stopped_at'),
    /** The key's tier's retention when the job was made: its outputs are deleted this long after it completes. */
    retentionS: integer('retention_s'),
    outputsExpireAt: integer('outputs_expire_at'),
    /** When the outputs' blobs were deleted, and why: 'expired' (the sweep) or 'deleted' (DELETE /jobs/:id/outputs). */
    outputsDeletedAt: integer('outputs_deleted_at'),
    outputsDeletedReason: text('outputs_deleted_reason', { enum: ['expired', 'deleted'] }),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('jobs_key_created').on(t.apiKeyId, t.createdAt, t.id),
    index('jobs_key_status_created').on(t.apiKeyId, t.status, t.createdAt, t.id),
    index('jobs_status_lease').on(t.status, t.leaseUntil),
    // In claim order (priority descending, then oldest): an ascending priority left SQLite sorting every queued job
    // of the top priority on each claim (transitions.claim).
    index('jobs_claim').on(t.status, sql`${t.priority} desc`, t.createdAt),
    index('jobs_batch').on(t.batchId),
    index('jobs_outputs_expiry').on(t.outputsExpireAt).where(sql`${t.outputsDeletedAt} is null`),
    uniqueIndex('jobs_key_idempotency').on(t.apiKeyId, t.idempotencyKey),
  ],
);

export interface JobOutput {
  name: string;
  key: string;
  size: number;
  content_type: string;
  sha256?: string;
}

/** Append-only per job; progress rows are bounded by the trigger that writes them. */
export const jobEvents = sqliteTable(
  'job_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    jobId: text('job_id').notNull(),
    type: text('type', { enum: ['status', 'progress'] }).notNull(),
    data: text('data').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('job_events_job').on(t.jobId, t.id)],
);

export const idempotency = sqliteTable(
  'idempotency',
  {
    apiKeyId: text('api_key_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    /** Null while the first request is still creating its job. */
    jobId: text('job_id'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_expires').on(t.expiresAt)],
);

export const uploads = sqliteTable(
  'uploads',
  {
    id: text('id').primaryKey(),
    apiKeyId: text('api_key_id').notNull(),
    key: text('key').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    filename: text('filename'),
    contentType: text('content_type'),
    createdAt: integer('created_at').notNull(),
    /** When the retention sweep deletes it (the key's tier's retention_s after upload). */
    expiresAt: integer('expires_at'),
    /** When its blob was deleted, by the sweep or by DELETE /uploads/:id; the row stays and says so. */
    deletedAt: integer('deleted_at'),
  },
  (t) => [index('uploads_key_created').on(t.apiKeyId, t.createdAt), index('uploads_expiry').on(t.expiresAt).where(sql`${t.deletedAt} is null`)],
);

/**
 * A resumable (tus) upload that has not ended yet, and for a while after it has (src/api/tus.ts). Its bytes so far
 * are the blobs listed in `parts`, in order; `offset` is their total and the version every PATCH compares and sets,
 * so of two PATCHes racing at one offset only one is counted. When the last byte arrives the parts become the
 * upload row of the same id (`upload:<id>`) and `completed_at` is set; the sweep deletes a row and its parts once
 * `expires_at` passes (a termination sets it to now).
 */
export const tusUploads = sqliteTable(
  'tus_uploads',
  {
    id: text('id').primaryKey(),
    apiKeyId: text('api_key_id').notNull(),
    /** Upload-Length: the declared size, within the tier's upload_bytes. */
    length: integer('length').notNull(),
    offset: integer('offset').notNull().default(0),
    /** The blobs holding bytes [0, offset), in order. */
    parts: text('parts', { mode: 'json' }).$type<TusPart[]>().notNull(),
    /** Upload-Metadata as the client sent it, echoed by HEAD. */
    metadata: text('metadata'),
    filename: text('filename'),
    contentType: text('content_type'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    completedAt: integer('completed_at'),
    /**
     * Set with the last part: until then the request that counted it is copying the parts into the upload (and renews
     * it as it goes). Past it with no completed_at, that request died; a PATCH sending the last bytes again takes over.
     */
    finishingUntil: integer('finishing_until'),
  },
  (t) => [index('tus_uploads_expiry').on(t.expiresAt)],
);

export interface TusPart {
  key: string;
  size: number;
}

export const presets = sqliteTable(
  'presets',
  {
    id: text('id').primaryKey(),
    apiKeyId: text('api_key_id').notNull(),
    name: text('name').notNull(),
    body: text('body', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('presets_key_name').on(t.apiKeyId, t.name)],
);

/**
 * One webhook delivery per job event the job's webhook asked for, made by a trigger in the statement that wrote the
 * event (src/db/migrations/0005_webhook_deliveries.sql), so no event can be left without its delivery. Its id is the
 * event's id: the `webhook-id` a receiver dedupes by, the same on every retry and replay. Claimed by compare-and-set
 * on the lease, as jobs are (src/delivery/deliveries.ts).
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    eventId: integer('event_id').primaryKey(),
    jobId: text('job_id').notNull(),
    /** `job.completed`, ... (src/delivery/events.ts). */
    event: text('event').notNull(),
    url: text('url').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed', 'stopped'] }).notNull(),
    /** Attempts since it was made or last replayed. */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    /** The body as first sent, so that every retry and replay sends the same bytes. */
    payload: text('payload'),
    /** A progress event's percentage: the trigger sends one per 10 %. */
    percentage: real('percentage'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [index('webhook_deliveries_job').on(t.jobId, t.eventId), index('webhook_deliveries_due').on(t.status, t.nextAttemptAt)],
);

/** Every attempt of every delivery: the delivery log a client reads (GET /jobs/:id/webhooks). */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    eventId: integer('event_id').notNull(),
    jobId: text('job_id').notNull(),
    attempt: integer('attempt').notNull(),
    startedAt: integer('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    /** The receiver's status code; null when there was no answer. */
    statusCode: integer('status_code'),
    /** Why there was no answer, as a class (`timeout`, `connect`, `blocked`, `breaker_open`...); never upstream text. */
    error: text('error'),
    /** When the next attempt is due; null when this one ended the delivery. */
    nextAttemptAt: integer('next_attempt_at'),
  },
  (t) => [index('webhook_attempts_event').on(t.eventId, t.id), index('webhook_attempts_job').on(t.jobId, t.id)],
);

/**
 * A row each readiness check rewrites: `select 1` answers on a database that can no longer take writes (read-only
 * file, full disk), so readiness proves the database by writing (audit #25).
 */
export const heartbeats = sqliteTable('heartbeats', {
  name: text('name').primaryKey(),
  at: integer('at').notNull(),
});

export type Job = typeof jobs.$inferSelect;
export type NewJob = typeof jobs.$inferInsert;
export type ApiKey = typeof apiKeys.$inferSelect;
