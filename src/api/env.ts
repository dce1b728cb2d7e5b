import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiKey } from '../db/schema.js';
import type { Platform } from '../platform.js';
import { fromZodError } from '../problems.js';

export interface AppEnv {
  Variables: {
    platform: Platform;
    apiKey: ApiKey;
    requestId: string;
  };
}

/** A router whose validation failures become RFC 9457 problems with pointers. */
export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      // @hono/zod-validator hands the validated value to the hook as `data` on failure too (its type omits it).
      if (!result.success) throw fromZodError(result.error, result.target, (result as { data?: unknown }).data);
    },
  });
}
