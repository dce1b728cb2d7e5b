/**
 * /preview/ on Workers: the page's files come from R2 (`preview/` in BLOBS, as `npm run upload:preview` puts them),
 * a gzip copy sent as it is stored (Content-Encoding: gzip, not compressed again), under the page's CSP.
 */
import { env, exports } from 'cloudflare:workers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const worker = (exports as unknown as { default: Fetcher }).default;
const bucket = (env as unknown as { BLOBS: R2Bucket }).BLOBS;
const page = '<!doctype html><title>ffedge preview</title>'.repeat(50);
const wasm = new Uint8Array(200_000).map((_, i) => (i * 7) % 251);

async function gzipped(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
}

const script = 'window.Scalar = {};'.repeat(100);
const KEYS = ['preview/index.html', 'preview/index.html.gz', 'preview/core/0.12.10/ffmpeg-core.wasm.gz', 'preview/assets/docs/scalar.js.gz'];

beforeAll(async () => {
  await bucket.put('preview/index.html', page);
  await bucket.put('preview/index.html.gz', await gzipped(new TextEncoder().encode(page)));
  await bucket.put('preview/core/0.12.10/ffmpeg-core.wasm.gz', await gzipped(wasm));
  await bucket.put('preview/assets/docs/scalar.js.gz', await gzipped(new TextEncoder().encode(script)));
});

afterAll(async () => {
  await bucket.delete(KEYS);
});

describe('preview on Workers', () => {
  it('serves the page from R2 under its CSP, gzip as stored', async () => {
    const res = await worker.fetch(new Request('https://ffedge.test/preview/', { headers: { 'accept-encoding': 'gzip' } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(res.headers.get('cache-control')).toBe('no-cache');
    // fetch decodes gzip once: the page itself comes out, so it was compressed exactly once.
    expect(await res.text()).toBe(page);
  });

  it('serves the core with a year of cache, and the plain file to a client without gzip', async () => {
    const core = await worker.fetch(new Request('https://ffedge.test/preview/core/0.12.10/ffmpeg-core.wasm', { headers: { 'accept-encoding': 'gzip' } }));
    expect(core.status).toBe(200);
    expect(core.headers.get('content-type')).toBe('application/wasm');
    expect(core.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(new Uint8Array(await core.arrayBuffer())).toEqual(wasm);

    const plain = await worker.fetch(new Request('https://ffedge.test/preview/index.html', { headers: { 'accept-encoding': 'identity' } }));
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(page);
  });

  it('answers 404 for what was not uploaded, and for names outside the page', async () => {
    for (const path of ['/preview/missing.js', '/preview/..%2Fsecret.js', '/preview/core/../../x.js']) {
      const res = await worker.fetch(new Request(`https://ffedge.test${path}`));
      expect(res.status, path).toBe(404);
      await res.body?.cancel();
    }
  });

  it('serves /docs and its script, uploaded with the preview, so the reference works on Workers too', async () => {
    const docs = await worker.fetch(new Request('https://ffedge.test/docs'));
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('/docs/scalar.js');
    const res = await worker.fetch(new Request('https://ffedge.test/docs/scalar.js', { headers: { 'accept-encoding': 'gzip' } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await res.text()).toBe(script);
  });
});
