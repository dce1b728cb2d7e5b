/**
 * Every limit of the configuration by its API name, snake_case like every other field: GET /capabilities shows the
 * limits under these names, and the preview page (wasm/browser/request.ts) reads them back. A new limit fails the
 * type check until it is named here.
 */
import type { Limits } from './config.js';

export const LIMIT_NAMES = {
  bodyBytes: 'body_bytes',
  uploadBytes: 'upload_bytes',
  inputBytes: 'input_bytes',
  inputDurationS: 'input_duration_s',
  outputPixels: 'output_pixels',
  maxFps: 'max_fps',
  maxBitrate: 'max_bitrate',
  operations: 'operations',
  outputs: 'outputs',
  variants: 'variants',
  concurrentJobs: 'concurrent_jobs',
  requests: 'requests',
  windowS: 'window_s',
  outputLinkTtlS: 'output_link_ttl_s',
  retentionS: 'retention_s',
} as const satisfies Record<keyof Limits, string>;
