/**
 * Puts the built preview (dist/preview, `npm run build:preview`) into the R2 bucket the API Worker reads it from
 * (BLOBS, under preview/; src/runtime/preview-r2.ts), with wrangler: `npm run upload:preview` for the deployed
 * bucket, `npm run upload:preview -- --local` for `wrangler dev`'s local one.
 */
import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PREVIEW_DIR, buildPreview } from './build-preview.js';

const BUCKET = 'ffedge-blobs';
const local = process.argv.includes('--local');
// A local upload sends nothing anywhere (as scripts/dev-workers.mjs): no metrics, no reports, no update check.
const env = local
  ? { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_SEND_ERROR_REPORTS: 'false', npm_config_registry: 'http://127.0.0.1:9/', NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/' }
  : process.env;

await buildPreview();
const files = (await readdir(PREVIEW_DIR, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile() && entry.name !== 'BUILT');
for (const entry of files) {
  const path = join(entry.parentPath, entry.name);
  const key = `preview/${relative(PREVIEW_DIR, path).split('\\').join('/')}`;
  // The Worker sets each response's headers itself; the objects only hold the bytes.
  execFileSync(join(import.meta.dirname, '../node_modules/.bin/wrangler'), ['r2', 'object', 'put', `${BUCKET}/${key}`, '--file', path, local ? '--local' : '--remote'], { stdio: 'inherit', env });
}
console.log(`${files.length} files under ${BUCKET}/preview/`);
