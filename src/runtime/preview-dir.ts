/**
 * The preview page's files from a directory (Node and Deno): dist/preview as `npm run build:preview` writes it,
 * each file with its gzip copy beside it, sent as built (nothing is compressed at request time). Names are checked
 * by src/api/preview.ts and confined here again; the route adds the content type, CSP and cache policy.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { Readable } from 'node:stream';

export function previewDir(dir: string): (name: string, request: Request) => Promise<Response | null> {
  const root = resolve(dir);
  return async (name, request) => {
    const path = resolve(root, name);
    if (!path.startsWith(root + sep)) return null;
    const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
    const found = (gzip ? await file(`${path}.gz`) : null) ?? (await file(path));
    if (!found) return null;
    const encoded = found.path !== path;
    const etag = `"${found.size.toString(36)}-${Math.floor(found.mtimeMs).toString(36)}${encoded ? '-gz' : ''}"`;
    const headers = new Headers({ etag, vary: 'accept-encoding' });
    if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
    headers.set('content-length', String(found.size));
    if (encoded) headers.set('content-encoding', 'gzip');
    // A HEAD opens no file (nothing would read it).
    if (request.method === 'HEAD') return new Response(null, { headers });
    return new Response(Readable.toWeb(createReadStream(found.path)) as ReadableStream<Uint8Array>, { headers });
  };
}

async function file(path: string): Promise<{ path: string; size: number; mtimeMs: number } | null> {
  const info = await stat(path).catch(() => null);
  return info?.isFile() ? { path, size: info.size, mtimeMs: info.mtimeMs } : null;
}
