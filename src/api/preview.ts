/**
 * GET /preview/: the browser preview page (wasm/browser/) and its files, from the Platform's assets port (the
 * built dist/preview on Node and Deno, R2 on Workers). Under a CSP of its own: only this origin, plus what
 * ffmpeg.wasm needs ('wasm-unsafe-eval' to compile the core, blob: for the preview it plays). Gzip copies are served
 * as they were built, the core under its versioned path with a year's cache, the rest revalidated by ETag.
 * Not an API route: no key, nothing in the OpenAPI document.
 */
import { router } from './env.js';
import type { Platform } from '../platform.js';
import { problems } from '../problems.js';

export const previewApi = router();

type Assets = NonNullable<Platform['assets']>;

/**
 * A runtime's assets port with the preview's files in it: /preview/<name> from `preview` (the build's directory, R2),
 * every other path from `others`, when the runtime has any.
 */
export function withPreviewFiles(preview: (name: string, request: Request) => Promise<Response | null>, others?: Assets): Assets {
  return async (path, request) => {
    if (path.startsWith('/preview/')) return preview(path.slice('/preview/'.length), request);
    return others ? others(path, request) : null;
  };
}

/** Workers, dedicated to ffmpeg.wasm, get the same policy from their own responses. */
export const PREVIEW_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  wasm: 'application/wasm',
};

/** Plain names only: no dot segments, nothing a store could read as another path. */
const NAME = /^(?:[a-z0-9][a-z0-9._-]*\/)*[a-z0-9][a-z0-9_-]*\.(?:html|js|css|wasm)$/;

// The page's relative URLs (preview.js, core/...) need the trailing slash.
previewApi.get('/preview', (c) => c.redirect('/preview/', 308));

previewApi.get('/preview/*', async (c) => {
  const rest = c.req.path.slice('/preview/'.length);
  const name = rest === '' ? 'index.html' : rest;
  if (!NAME.test(name) || name.split('/').includes('..')) throw problems.notFound();
  const found = await c.var.platform.assets?.(`/preview/${name}`, c.req.raw);
  if (!found) throw problems.notFound();
  found.headers.set('content-type', TYPES[name.slice(name.lastIndexOf('.') + 1)]!);
  found.headers.set('content-security-policy', PREVIEW_CSP);
  // The core's files never change under their versioned name; the page's are checked on every load.
  found.headers.set('cache-control', name.startsWith('core/') ? 'public, max-age=31536000, immutable' : 'no-cache');
  return found;
});
