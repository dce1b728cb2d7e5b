/**
 * What a Cloudflare deployment hands the API Worker and its Durable Objects. The bindings and `[vars]` of
 * wrangler.toml are typed by `Env` in worker-configuration.d.ts, which `npm run types:workers` (wrangler types)
 * generates and a test keeps current; the secrets, which wrangler.toml does not list, are added here.
 */

/** Secrets (`npx wrangler secret put`) and the local stand-in's URL; none is in wrangler.toml. */
export interface WorkerSecrets {
  /** Hashed into D1 at start: the first admin key (README, "Deploy to Cloudflare"). */
  FFEDGE_BOOTSTRAP_ADMIN_KEY?: string;
  /** The bearer token both engines (the wasm Worker, the Transcoder container) accept. */
  FFEDGE_WORKER_TOKEN?: string;
  /** Where there is no container runtime: a native worker on this machine stands in (durable-objects/host-container.ts). */
  FFEDGE_TRANSCODER_LOCAL_URL?: string;
}

export type WorkerEnv = Env & WorkerSecrets;

/** A message on the JOBS queue: only the id; the consumer reads the job from D1, the source of truth. */
export interface JobMessage {
  id: string;
}

/** A message on the WEBHOOKS queue: a job that may have a delivery due (D1 holds the deliveries). */
export interface WebhookMessage {
  job_id: string;
}

/** The queue the WEBHOOKS binding sends to (wrangler.toml); the consumer tells the two queues apart by name. */
export const WEBHOOK_QUEUE = 'ffedge-webhooks';

/** The longest delay a Queues message can have (12 h): a retry due later is re-sent when this one arrives. */
export const MAX_QUEUE_DELAY_S = 43_200;

/** The string-valued entries of env: `[vars]` and secrets, without the bindings. */
export function varsOf(env: object): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
