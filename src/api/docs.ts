/**
 * GET / (what the service is, and where to go), GET /api/v1 (the same as links), GET /docs (an interactive
 * reference of the OpenAPI document, by Scalar) and the assets those pages load (src/api/assets.ts). All public.
 */
import { Scalar } from '@scalar/hono-api-reference';
import { ASSETS } from './assets.js';
import { router } from './env.js';
import { OPENAPI_PATH } from './openapi.js';
import { problems } from '../problems.js';

export const docsApi = router();

const LINKS = {
  docs: '/docs',
  preview: '/preview',
  openapi: OPENAPI_PATH,
  capabilities: '/api/v1/capabilities',
  health: '/health/ready',
} as const;

const LANDING = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ffedge</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 3rem auto; padding: 0 1rem; color: #1d1d1f; }
  code { background: #f2f2f4; padding: 0.1em 0.3em; border-radius: 4px; }
  li { margin: 0.4rem 0; }
</style>
</head>
<body>
<h1>ffedge</h1>
<p>An FFmpeg job API: convert, package for adaptive streaming (HLS, DASH, CMAF), measure quality (VMAF, PSNR, SSIM)
and probe media. Jobs are followed live over Server-Sent Events and signed webhooks; errors are RFC 9457 problems.</p>
<ul>
  <li><a href="${LINKS.docs}">API reference</a>: every operation, with examples, and a client to try them</li>
  <li><a href="${LINKS.preview}">Preview</a>: convert the first seconds of a file in your browser, then run the job here</li>
  <li><a href="${LINKS.openapi}">OpenAPI document</a> (3.1), for client generators</li>
  <li><a href="${LINKS.capabilities}">Capabilities</a>: the engines, codecs and limits of this deployment</li>
</ul>
<p>Requests need an API key: <code>Authorization: Bearer ffe_…</code>.</p>
</body>
</html>
`;

docsApi.get('/', (c) => c.html(LANDING));

docsApi.get('/api/v1', (c) => c.json({ name: 'ffedge', version: '1', links: LINKS }));

docsApi.get(
  '/docs',
  Scalar({
    url: OPENAPI_PATH,
    pageTitle: 'ffedge API reference',
    // From this origin, not a CDN, and no web fonts: the reference works offline and sends nothing elsewhere.
    cdn: '/docs/scalar.js',
    withDefaultFonts: false,
    telemetry: false,
  }),
);

for (const asset of ASSETS) {
  docsApi.get(asset.path, async (c) => {
    const found = await c.var.platform.assets?.(asset.path, c.req.raw);
    if (!found) throw problems.notFound('This deployment does not serve that file.');
    return found;
  });
}
