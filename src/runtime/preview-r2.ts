/**
 * The preview page's files on Workers: R2 objects under `preview/` in the BLOBS bucket, laid out as dist/preview
 * (each file and its gzip copy), put there by `npm run upload:preview`. Not Workers static assets: the core's wasm
 * is 32 MB (a static asset may be 25 MiB) and 10 MB gzipped (a Worker script may be 10 MB with everything else).
 * The route (src/api/preview.ts) adds the content type, CSP and cache policy.
 */
import { ASSET_CACHE_CONTROL, ASSETS } from '../api/assets.js';

export const PREVIEW_PREFIX = 'preview/';

/**
 * The assets of src/api/assets.ts (the /docs script) on Workers: uploaded with the preview, under `assets/` of its
 * build (scripts/build-preview.ts), read the same way, with the content type the table gives.
 */
export function assetsR2(bucket: R2Bucket): (path: string, request: Request) => Promise<Response | null> {
  const files = previewR2(bucket);
  return async (path, request) => {
    const asset = ASSETS.find((a) => a.path === path);
    const found = asset ? await files(`assets${asset.path}`, request) : null;
    if (!found || !asset) return null;
    found.headers.set('content-type', asset.contentType);
    found.headers.set('cache-control', ASSET_CACHE_CONTROL);
    return found;
  };
}

export function previewR2(bucket: R2Bucket): (name: string, request: Request) => Promise<Response | null> {
  return async (name, request) => {
    const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
    const object = (gzip ? await bucket.get(`${PREVIEW_PREFIX}${name}.gz`) : null) ?? (await bucket.get(PREVIEW_PREFIX + name));
    if (!object) return null;
    const encoded = object.key.endsWith('.gz') && !name.endsWith('.gz');
    const headers = new Headers({ etag: object.httpEtag, vary: 'accept-encoding' });
    if (request.headers.get('if-none-match') === object.httpEtag) {
      await object.body.cancel();
      return new Response(null, { status: 304, headers });
    }
    headers.set('content-length', String(object.size));
    if (encoded) headers.set('content-encoding', 'gzip');
    // encodeBody 'manual': the body already is gzip and must not be compressed again.
    return new Response(request.method === 'HEAD' ? null : object.body, { headers, encodeBody: 'manual' });
  };
}
