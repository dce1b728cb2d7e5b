/**
 * The preview page's files on Workers: R2 objects under `preview/` in the BLOBS bucket, laid out as dist/preview
 * (each file and its gzip copy), put there by `npm run upload:preview`. Not Workers static assets: the core's wasm
 * is 32 MB (a static asset may be 25 MiB) and 10 MB gzipped (a Worker script may be 10 MB with everything else).
 */
import type { PreviewAsset, PreviewAssets } from '../platform.js';

export const PREVIEW_PREFIX = 'preview/';

export function previewR2(bucket: R2Bucket): PreviewAssets {
  async function open(name: string, encoding: PreviewAsset['encoding']): Promise<PreviewAsset | null> {
    const object = await bucket.get(PREVIEW_PREFIX + name);
    if (!object) return null;
    // The etag names the encoding too: a cache must not answer one with the other.
    return { body: object.body, size: object.size, encoding, etag: encoding ? object.httpEtag.replace(/"$/, '-gz"') : object.httpEtag };
  }
  return {
    async get(name, { gzip }) {
      return (gzip ? await open(`${name}.gz`, 'gzip') : null) ?? open(name, null);
    },
  };
}
