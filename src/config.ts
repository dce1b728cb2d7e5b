/**
 * Configuration from environment variables (Node, Deno) or Worker bindings. Every number is bounded and parsed once.
 */
export interface Limits {
  /** JSON request bodies. */
  bodyBytes: number;
  uploadBytes: number;
  /** Remote or local inputs fetched for a job. */
  inputBytes: number;
  inputDurationS: number;
  outputPixels: number;
  maxFps: number;
  maxBitrate: number;
  operations: number;
  /** Files one job may produce (thumbnails, sprite and index...). */
  outputs: number;
  concurrentJobs: number;
  /** Requests per window (token bucket capacity) and the window in seconds. */
  requests: number;
  windowS: number;
}

export interface Config {
  limits: Limits;
  /** Per-job wall clock limit for one ffmpeg run. */
  jobTimeoutMs: number;
  leaseMs: number;
  maxAttempts: number;
  sweepIntervalMs: number;
  /** In-process pool size (Node). */
  poolSize: number;
  /** Root under which `local:` URIs may point; null disables `local:` inputs. */
  localRoot: string | null;
  bootstrapAdminKey: string | null;
  corsOrigins: string[];
  /** SSE heartbeat period. */
  heartbeatMs: number;
  /** How often a live stream re-reads the database when no notification came (jobs run by other instances). */
  eventPollMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 64 * 1024,
  uploadBytes: 2 * 1024 ** 3,
  inputBytes: 2 * 1024 ** 3,
  inputDurationS: 4 * 3600,
  outputPixels: 7680 * 4320,
  maxFps: 120,
  maxBitrate: 100_000_000,
  operations: 20,
  outputs: 100,
  concurrentJobs: 5,
  requests: 120,
  windowS: 60,
};

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`${name} must be between ${min} and ${max}`);
  return value;
}

export function loadConfig(env: Env, defaults: { cores?: number } = {}): Config {
  const cores = defaults.cores ?? 2;
  return {
    limits: {
      bodyBytes: int(env, 'FFEDGE_BODY_LIMIT', DEFAULT_LIMITS.bodyBytes, 1024, 16 * 1024 ** 2),
      uploadBytes: int(env, 'FFEDGE_UPLOAD_LIMIT', DEFAULT_LIMITS.uploadBytes, 1, 5 * 1024 ** 4),
      inputBytes: int(env, 'FFEDGE_INPUT_LIMIT', DEFAULT_LIMITS.inputBytes, 1, 5 * 1024 ** 4),
      inputDurationS: int(env, 'FFEDGE_INPUT_DURATION_LIMIT', DEFAULT_LIMITS.inputDurationS, 1, 48 * 3600),
      outputPixels: int(env, 'FFEDGE_OUTPUT_PIXELS_LIMIT', DEFAULT_LIMITS.outputPixels, 1, 7680 * 4320),
      maxFps: int(env, 'FFEDGE_FPS_LIMIT', DEFAULT_LIMITS.maxFps, 1, 240),
      maxBitrate: int(env, 'FFEDGE_BITRATE_LIMIT', DEFAULT_LIMITS.maxBitrate, 1000, 1_000_000_000),
      operations: int(env, 'FFEDGE_OPERATIONS_LIMIT', DEFAULT_LIMITS.operations, 1, 100),
      outputs: int(env, 'FFEDGE_OUTPUTS_LIMIT', DEFAULT_LIMITS.outputs, 1, 1000),
      concurrentJobs: int(env, 'FFEDGE_CONCURRENT_JOBS', DEFAULT_LIMITS.concurrentJobs, 1, 10_000),
      requests: int(env, 'FFEDGE_RATE_LIMIT', DEFAULT_LIMITS.requests, 1, 1_000_000),
      windowS: int(env, 'FFEDGE_RATE_WINDOW_S', DEFAULT_LIMITS.windowS, 1, 86_400),
    },
    jobTimeoutMs: int(env, 'FFEDGE_JOB_TIMEOUT_MS', 6 * 3600_000, 1000, 48 * 3600_000),
    leaseMs: int(env, 'FFEDGE_LEASE_MS', 30_000, 500, 3600_000),
    maxAttempts: int(env, 'FFEDGE_MAX_ATTEMPTS', 3, 1, 20),
    sweepIntervalMs: int(env, 'FFEDGE_SWEEP_MS', 5_000, 100, 3600_000),
    poolSize: int(env, 'FFEDGE_POOL_SIZE', Math.max(1, Math.floor(cores / 2)), 0, 256),
    localRoot: env.FFEDGE_LOCAL_ROOT || null,
    bootstrapAdminKey: env.FFEDGE_BOOTSTRAP_ADMIN_KEY || null,
    corsOrigins: (env.FFEDGE_CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    heartbeatMs: int(env, 'FFEDGE_HEARTBEAT_MS', 15_000, 50, 300_000),
    eventPollMs: int(env, 'FFEDGE_EVENT_POLL_MS', 1_000, 20, 60_000),
  };
}
