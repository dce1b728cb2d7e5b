/**
 * GET /preview/: the browser preview page (wasm/browser/) and its files, from the Platform's previewAssets (the
 * built dist/preview on Node and Deno, R2 on Workers). Under a CSP of its own: only this origin, plus what
 * ffmpeg.wasm needs ('wasm-unsafe-eval' to compile the core, blob: for the preview it plays). Gzip copies are served
 * as they were built, the core under its versioned path with a year's cache, the rest revalidated by ETag.
 * Not an API route: no key, nothing in the OpenAPI document.
 */
import { router } from './env.js';
import { problems } from '../problems.js';

export const previewApi = router();

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
  const assets = c.var.platform.previewAssets;
  const rest = c.req.path.slice('/preview/'.length);
  const name = rest === '' ? 'index.html' : rest;
  if (!assets || !NAME.test(name) || name.split('/').includes('..')) throw problems.notFound();
  const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  const asset = await assets.get(name, { gzip });
  if (!asset) throw problems.notFound();

  const headers = new Headers({
    'content-type': TYPES[name.slice(name.lastIndexOf('.') + 1)]!,
    'content-security-policy': PREVIEW_CSP,
    // The core's files never change under their versioned name; the page's are checked on every load.
    'cache-control': name.startsWith('core/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    etag: asset.etag,
    vary: 'accept-encoding',
  });
  if (c.req.header('if-none-match') === asset.etag) {
    await asset.body.cancel();
    return new Response(null, { status: 304, headers });
  }
  headers.set('content-length', String(asset.size));
  if (asset.encoding) headers.set('content-encoding', asset.encoding);
  // encodeBody 'manual': on Workers the body already is gzip and must not be compressed again (Node and Deno
  // pass it as it is and ignore the field).
  return new Response(asset.body, { status: 200, headers, encodeBody: 'manual' } as ResponseInit);
});
