/**
 * The preview page's files from a directory (Node and Deno): dist/preview as `npm run build:preview` writes it,
 * each file with its gzip copy beside it. Names are checked by src/api/preview.ts and confined here again.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { PreviewAsset, PreviewAssets } from '../platform.js';

export function previewDir(dir: string): PreviewAssets {
  const root = resolve(dir);
  return {
    async get(name, { gzip }) {
      const path = resolve(root, name);
      if (!path.startsWith(root + sep)) return null;
      return (gzip ? await open(`${path}.gz`, 'gzip') : null) ?? (await open(path, null));
    },
  };
}

async function open(path: string, encoding: PreviewAsset['encoding']): Promise<PreviewAsset | null> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) return null;
  return {
    body: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
    size: info.size,
    encoding,
    etag: `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}${encoding ? '-gz' : ''}"`,
  };
}
