/**
 * JobCoordinator: one Durable Object per job (idFromName(jobId)). It does two things.
 *
 * 1. It fans "look again" out to every live follower of the job (the Workers side of the Coordinator port):
 *    `notify()` (RPC) sends one message to each open subscription. A subscription is a WebSocket the object accepts
 *    in `fetch()`; the Worker-side Coordinator (src/runtime/worker-coordinator.ts) turns its messages into
 *    `Subscription.next()`, which the SSE handler follows. The database remains the source of truth: a message
 *    carries no state, so a lost one costs only a poll interval (the SSE loop re-reads the database on a timer).
 *
 *    Why a WebSocket rather than a streaming Response: workerd does not tell the producer of a response body that
 *    its reader cancelled until the producer next writes, so a follower who left would stay registered until the
 *    next notification, which for a queued job may be never (audit #24). A WebSocket's close, or its connection
 *    dropping, reaches the object at once. The sockets use the hibernation API, so an object with only idle
 *    followers can be evicted from memory and still knows every subscriber (`ctx.getWebSockets()`).
 *
 * 2. It owns the job while it runs. The JOBS queue consumer calls `start(jobId)`: the object claims the job in D1
 *    (compare-and-set; a duplicate message finds it claimed and does nothing), then drives it on its engine, the
 *    wasm Worker or the Transcoder container (the attempt pipeline, src/jobs/attempt.ts, with a stream workspace:
 *    inputs stream from R2 into the engine, outputs back into R2): it holds and renews the lease, writes the
 *    engine's progress through to D1 and tells the followers, and forwards a cancel to the engine at once (a
 *    `notify()` after DELETE /jobs/:id makes it renew now; the refused renewal aborts the engine's request, which
 *    kills ffmpeg). Its alarm watches the lease: if the object lost its run (evicted, reset, redeployed), the alarm
 *    re-queues the job once its lease has expired, or fails it when no attempt is left. A retryable failure is
 *    dispatched again by the alarm after a backoff.
 */
import { DurableObject } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { eq } from 'drizzle-orm';
import { loadConfig, type Config } from '../src/config.js';
import { createBreakers } from '../src/delivery/breakers.js';
import type { Db } from '../src/db/client.js';
import * as schema from '../src/db/schema.js';
import { runAttempt, type Attempt, type AttemptOutcome } from '../src/jobs/attempt.js';
import { storageInputs } from '../src/jobs/inputs.js';
import { streamWorkspace } from '../src/jobs/stream-workspace.js';
import * as transitions from '../src/jobs/transitions.js';
import type { Workspace } from '../src/jobs/workspace.js';
import { consoleLogger } from '../src/platform.js';
import { createWorkerEngines } from '../src/runtime/worker-engines.js';
import { varsOf, type JobMessage, type WebhookMessage, type WorkerEnv } from '../src/runtime/worker-env.js';
import type { BlobStore } from '../src/storage/blob-store.js';
import { guardedBlobStore } from '../src/storage/guarded.js';
import { createR2BlobStore } from '../src/storage/r2.js';

export const CHANGED = 'changed';

/** What this object remembers of its job across evictions: the lease it holds, or a retry it owes. */
export type CoordinatorState =
  | { phase: 'running'; id: string; owner: string }
  | { phase: 'retry'; id: string; at: number };

const STATE = 'job';
const RETRY_BASE_MS = 5_000;
const RETRY_MAX_MS = 5 * 60_000;
/** At most one WEBHOOKS message a second per running job. */
const WEBHOOK_KICK_MS = 1_000;

export type StartResult = 'started' | 'running' | 'not-queued';

interface Services {
  db: Db;
  config: Config;
  blobs: BlobStore;
  workspace: Workspace;
}

export class JobCoordinator extends DurableObject<WorkerEnv> {
  private services: Services | null = null;
  /** The attempt this object is running now; null when none (or after an eviction, whatever storage says). */
  private run: Attempt | null = null;
  private starting = false;
  /** The job this object runs, when it has a webhook: its changes are announced to the WEBHOOKS queue. */
  private webhookJob: string | null = null;
  private webhookKick: { at: number; pending: ReturnType<typeof setTimeout> | null } = { at: 0, pending: null };

  private get svc(): Services {
    if (!this.services) {
      const config = loadConfig(varsOf(this.env));
      const blobs = guardedBlobStore(createR2BlobStore(this.env.BLOBS), createBreakers(config.breakers).get('blobs'));
      const engines = createWorkerEngines(this.env, consoleLogger);
      this.services = {
        db: drizzle(this.env.DB, { schema }) as unknown as Db,
        config,
        blobs,
        workspace: streamWorkspace({ inputs: storageInputs(blobs, {}), engines, log: consoleLogger }),
      };
    }
    return this.services;
  }

  private get state(): CoordinatorState | undefined {
    return this.ctx.storage.kv.get<CoordinatorState>(STATE);
  }

  /**
   * Claims the queued job and runs it in this object; answers at once, while the job runs. `running` when this
   * object already runs it (a duplicate delivery), `not-queued` when the job is not queued (cancelled, finished, or
   * claimed by another attempt): either way the message is done with.
   */
  async start(jobId: string): Promise<StartResult> {
    if (this.run || this.starting) return 'running';
    this.starting = true;
    try {
      const { db, config, blobs, workspace } = this.svc;
      const owner = `coordinator:${crypto.randomUUID()}`;
      const now = Date.now();
      // The watch is set before the claim: if this object dies right after claiming, its alarm still finds the job.
      this.ctx.storage.kv.put<CoordinatorState>(STATE, { phase: 'running', id: jobId, owner });
      await this.ctx.storage.setAlarm(now + config.leaseMs);
      const job = await transitions.claimById(db, jobId, { owner, ms: config.leaseMs }, now);
      if (!job) {
        this.ctx.storage.kv.delete(STATE);
        await this.ctx.storage.deleteAlarm();
        return 'not-queued';
      }
      this.webhookJob = job.webhookUrl ? job.id : null;
      this.broadcast();
      const run = runAttempt({ db, blobs, config, clock: Date.now, log: consoleLogger, changed: () => void this.broadcast() }, workspace, job);
      this.run = run;
      void run.done.then((outcome) => this.finished(jobId, job.attempts, outcome));
      return 'started';
    } finally {
      this.starting = false;
    }
  }

  private async finished(jobId: string, attempts: number, outcome: AttemptOutcome): Promise<void> {
    this.run = null;
    if (outcome.status === 'failed' && outcome.requeued) {
      // Queued again in D1 already; the alarm hands it to the queue after a backoff with jitter.
      const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1)) * (0.75 + Math.random() / 2);
      const at = Date.now() + Math.round(delay);
      this.ctx.storage.kv.put<CoordinatorState>(STATE, { phase: 'retry', id: jobId, at });
      await this.ctx.storage.setAlarm(at);
    } else {
      this.ctx.storage.kv.delete(STATE);
      await this.ctx.storage.deleteAlarm();
    }
    this.broadcast();
  }

  /** The lease watch while a job runs, and the retry dispatch after a retryable failure. */
  override async alarm(): Promise<void> {
    const state = this.state;
    if (!state) return;
    const { db, config } = this.svc;
    if (state.phase === 'retry') {
      await this.env.JOBS.send({ id: state.id } satisfies JobMessage, { contentType: 'json' });
      this.ctx.storage.kv.delete(STATE);
      return;
    }
    if (this.run) {
      // Running here: the run renews its own lease; look again within the lease.
      await this.ctx.storage.setAlarm(Date.now() + Math.max(1_000, Math.floor(config.leaseMs / 2)));
      return;
    }
    // This object lost the run it started (it was evicted or reset). The lease decides: once it has expired, the
    // job goes back to the queue (or fails when no attempt is left).
    const now = Date.now();
    const [changed] = await transitions.sweep(db, now, state.id);
    if (changed) {
      this.ctx.storage.kv.delete(STATE);
      if (changed.status === 'queued') await this.env.JOBS.send({ id: state.id } satisfies JobMessage, { contentType: 'json' });
      this.broadcast();
      return;
    }
    const row = await db
      .select({ status: schema.jobs.status, leaseUntil: schema.jobs.leaseUntil })
      .from(schema.jobs)
      .where(eq(schema.jobs.id, state.id))
      .get();
    if (row?.status === 'processing' && row.leaseUntil !== null) {
      // Not expired yet (a renewal came just before the object was lost): look again when it expires.
      await this.ctx.storage.setAlarm(Math.max(now, row.leaseUntil) + 1_000);
    } else {
      this.ctx.storage.kv.delete(STATE);
    }
  }

  /** What this object is doing, for tests and operators. */
  async inspect(): Promise<{ running: boolean; state: CoordinatorState | null; alarm: number | null }> {
    return { running: this.run !== null, state: this.state ?? null, alarm: await this.ctx.storage.getAlarm() };
  }

  /** Opens a subscription: a WebSocket upgrade, answered with the client end of a socket this object keeps. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('expected a WebSocket upgrade', { status: 426, headers: { upgrade: 'websocket' } });
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    // Registered before the Response returns: a notify after the caller's subscribe() resolved is never missed.
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * The job changed elsewhere (cancelled, or created): wakes every current subscriber, and makes a run in progress
   * check its lease now, so a cancel stops the engine at once. Answers how many subscribers there were.
   */
  async notify(): Promise<number> {
    void this.run?.check();
    return this.broadcast();
  }

  /**
   * Tells the WEBHOOKS queue that the job changed (its events may have deliveries due): at once, then at most once a
   * second while it keeps changing (progress), with the last change always announced. What a lost message leaves is
   * the Cron sweep's.
   */
  private kickWebhooks(): void {
    const jobId = this.webhookJob;
    if (!jobId) return;
    const send = () => {
      this.webhookKick.at = Date.now();
      void this.env.WEBHOOKS.send({ job_id: jobId } satisfies WebhookMessage, { contentType: 'json' }).catch(() => undefined);
    };
    if (this.webhookKick.pending) return;
    const wait = this.webhookKick.at + WEBHOOK_KICK_MS - Date.now();
    if (wait <= 0) return send();
    this.webhookKick.pending = setTimeout(() => {
      this.webhookKick.pending = null;
      send();
    }, wait);
  }

  private broadcast(): number {
    this.kickWebhooks();
    const sockets = this.ctx.getWebSockets();
    for (const socket of sockets) {
      try {
        socket.send(CHANGED);
      } catch {
        // Closing already: the runtime drops it from getWebSockets() by itself.
      }
    }
    return sockets.length;
  }

  /** Open subscriptions, for tests and operators (audit #24). */
  async subscriberCount(): Promise<number> {
    return this.ctx.getWebSockets().length;
  }

  /** Subscribers only listen; anything they send is ignored. */
  override async webSocketMessage(): Promise<void> {}

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    // Complete the closing handshake (a dropped connection, 1006, has none to complete).
    try {
      socket.close(code === 1005 || code === 1006 ? 1000 : code, 'unsubscribed');
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    try {
      socket.close(1011, 'error');
    } catch {
      // Already closed.
    }
  }
}
