/** POST /uploads: a raw body streamed into blob storage, refused with 413 the moment it passes the limit (audit #8). */
import { createRoute, z } from '@hono/zod-openapi';
import { uploads } from '../db/schema.js';
import { problems } from '../problems.js';
import { KEYED, problemResponses } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { BlobTooLargeError, StorageFullError } from '../storage/blob-store.js';
import { FilenameError, normalizeFilename } from '../storage/filename.js';
import { uploadKey } from '../storage/keys.js';
import { router } from './env.js';
import { rateLimit, requireKey } from './middleware.js';

export const uploadsApi = router();

const UploadSchema = z
  .object({
    id: z.string(),
    uri: z.string().openapi({ example: 'upload:01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c' }),
    size: z.number().int(),
    sha256: z.string(),
    filename: z.string().nullable(),
    content_type: z.string().nullable(),
  })
  .openapi('Upload');

/** The content types the document shows; any other is taken the same way. */
const UPLOAD_TYPES = ['application/octet-stream', 'video/*', 'audio/*', 'image/*'];

uploadsApi.use('/uploads', requireKey('jobs:write'), rateLimit(5));

uploadsApi.openapi(
  createRoute({
    method: 'post',
    path: '/uploads',
    operationId: 'upload',
    tags: ['uploads'],
    security: BEARER,
    summary: 'Upload a media file as the raw request body; use the returned uri as a job input',
    request: {
      query: z.object({ filename: z.string().max(1024).optional() }).strict(),
      // Any content type: the bytes are stored as sent, and the job's probe says what they are.
      body: {
        required: true,
        description: 'The file, as the raw body (not multipart). `Content-Type` is kept with it; `Content-Length` is checked against the limit first when sent',
        content: Object.fromEntries(UPLOAD_TYPES.map((type) => [type, { schema: z.string().openapi({ format: 'binary' }) }])),
      },
    },
    responses: {
      201: { description: 'Stored', content: { 'application/json': { schema: UploadSchema } } },
      ...problemResponses(...KEYED, 400, 413, 503, 507),
    },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const limit = platform.config.limits.uploadBytes;
    const declared = c.req.header('content-length');
    if (declared !== undefined && (!/^\d{1,16}$/.test(declared) || Number(declared) > limit)) throw problems.tooLarge(limit);
    let filename: string | null = null;
    const rawName = c.req.query('filename');
    if (rawName !== undefined) {
      try {
        filename = normalizeFilename(rawName);
      } catch (error) {
        if (error instanceof FilenameError) {
          throw problems.validation([{ parameter: 'filename', message: error.message }]);
        }
        throw error;
      }
    }
    const body = c.req.raw.body;
    if (!body) throw problems.badRequest('Send the file as the request body.');
    const contentType = c.req.header('content-type') ?? null;

    const id = platform.ids();
    const key = uploadKey(id);
    let stored;
    try {
      stored = await platform.blobs.put(key, body, { maxBytes: limit, ...(contentType ? { contentType } : {}) });
    } catch (error) {
      if (error instanceof BlobTooLargeError) throw problems.tooLarge(limit);
      if (error instanceof StorageFullError) {
        // The client's problem says only "full"; the operator needs to hear it, as a Problem is not logged.
        platform.log.error('blob storage is full', { request_id: c.var.requestId, code: error.code });
        throw problems.storageFull();
      }
      throw error;
    }
    try {
      await platform.db.insert(uploads).values({
        id,
        apiKeyId: apiKey.id,
        key,
        size: stored.size,
        sha256: stored.sha256,
        filename,
        contentType,
        createdAt: platform.clock(),
      });
    } catch (error) {
      await platform.blobs.delete(key);
      throw error;
    }
    return c.json(
      { id, uri: `upload:${id}`, size: stored.size, sha256: stored.sha256, filename, content_type: contentType },
      201,
    );
  },
);
