/** Node-only helpers of @ffedge/client: files by path, without reading them into memory. */
import { createWriteStream, openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Ffedge, UploadOptions } from './client.js';
import type { Job, Upload } from './types.js';

/** Uploads a file by path; the name is the file's unless `options.filename` says otherwise. */
export async function uploadFile(ff: Ffedge, path: string, options: UploadOptions = {}): Promise<Upload> {
  // openAsBlob's own error for a missing file is a vague TypeError (Node 20); stat says ENOENT with the path.
  await stat(path);
  // A file-backed Blob: streamed from disk, and re-readable when a 429/503 is retried.
  const blob = await openAsBlob(path, options.contentType ? { type: options.contentType } : {});
  return ff.upload(blob, { filename: basename(path), ...options });
}

/** Writes an output of the job to `path` (the first output unless `name` says which); returns the bytes written. */
export async function downloadFile(ff: Ffedge, job: Job | string, path: string, name?: string): Promise<number> {
  const response = await ff.download(job, name);
  let bytes = 0;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await pipeline(body, createWriteStream(path));
  return bytes;
}

export * from './index.js';
