/**
 * A stored output as a download: Range (one range, 206/416), its SHA-256 as the ETag (If-None-Match: 304), and the
 * file name for saving. The one way outputs leave the service, by key (GET /jobs/:id/outputs/:name) or by signed
 * link (GET /o/:token/:name).
 */
import type { Job, JobOutput } from '../db/schema.js';
import type { Platform } from '../platform.js';
import { problems } from '../problems.js';
import { contentDisposition } from '../storage/filename.js';
import { parseRange } from './range.js';

export async function serveOutput(platform: Platform, job: Job, output: JobOutput, request: Request, cacheControl: string): Promise<Response> {
  if (job.outputsDeletedAt !== null) throw problems.outputsRemoved(job.outputsDeletedReason ?? 'deleted');
  const headers = new Headers({
    'content-type': output.content_type,
    'accept-ranges': 'bytes',
    'content-disposition': contentDisposition(output.name.slice(output.name.lastIndexOf('/') + 1)),
    'cache-control': cacheControl,
  });
  const etag = output.sha256 ? `"${output.sha256}"` : null;
  if (etag) {
    headers.set('etag', etag);
    if (request.headers.get('if-none-match')?.split(',').some((tag) => tag.trim() === etag)) return new Response(null, { status: 304, headers });
  }
  const range = parseRange(request.headers.get('range') ?? undefined, output.size);
  if (range === 'unsatisfiable') {
    return new Response(null, { status: 416, headers: { 'content-range': `bytes */${output.size}` } });
  }
  const blob = await platform.blobs.get(output.key, range ?? undefined);
  if (!blob) throw problems.notFound('The output is no longer stored.');
  if (!range) {
    headers.set('content-length', String(output.size));
    return new Response(blob.body, { status: 200, headers });
  }
  const end = range.offset + range.length - 1;
  headers.set('content-length', String(range.length));
  headers.set('content-range', `bytes ${range.offset}-${end}/${output.size}`);
  return new Response(blob.body, { status: 206, headers });
}
