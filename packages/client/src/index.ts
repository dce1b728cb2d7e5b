/**
 * @ffedge/client: a typed client for the ffedge API on fetch and web streams only, so it runs in browsers, Node,
 * Deno and Workers. The Node-only helpers (upload from a file path, download to one) are in `@ffedge/client/node`.
 */
export { Ffedge, type FfedgeOptions, type JobHandle, type UploadOptions, type WaitOptions } from './client.js';
export { FfedgeProblem, type ProblemItem } from './problem.js';
export type { EventsOptions, JobEvent } from './events.js';
export { verifyWebhook, type WebhookEvent } from './webhook.js';
export type * from './types.js';
