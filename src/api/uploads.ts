/**
 * POST /uploads: a raw body streamed into blob storage, refused with 413 the moment it passes the limit (audit #8).
 * GET /uploads, GET and DELETE /uploads/:id: the key's uploads, each kept for its tier's retention_s
 * (src/storage/retention.ts).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { uploads } from '../db/schema.js';
import { deleteUploadFiles } from '../storage/retention.js';
import { decodeCursor, encodeCursor } from './present.js';
import { problems } from '../problems.js';
import { KEYED, problemResponses } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { BlobTooLargeError, StorageFullError } from '../storage/blob-store.js';
import { FilenameError, normalizeFilename } from '../storage/filename.js';
import { uploadKey } from '../storage/keys.js';
import { router } from './env.js';
import { TUS_PATH } from './tus.js';
import { limitsFor, rateLimit, requireKey } from './middleware.js';

export const uploadsApi = router();

const UploadSchema = z
  .object({
    id: z.string(),
    uri: z.string().openapi({ example: 'upload:01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c' }),
    size: z.number().int(),
    sha256: z.string(),
    filename: z.string().nullable(),
    content_type: z.string().nullable(),
    created_at: z.string(),
    expires_at: z.string().nullable().openapi({ description: 'When the retention sweep deletes the file' }),
    deleted_at: z.string().nullable().openapi({ description: 'When the file was deleted (expired or by DELETE); the record stays' }),
  })
  .openapi('Upload');

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function presentUpload(row: typeof uploads.$inferSelect) {
  return {
    id: row.id,
    uri: `upload:${row.id}`,
    size: row.size,
    sha256: row.sha256,
    filename: row.filename,
    content_type: row.contentType,
    created_at: iso(row.createdAt)!,
    expires_at: iso(row.expiresAt),
    deleted_at: iso(row.deletedAt),
  };
}

const UploadIdParams = z.object({
  id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' }, example: '01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c' }),
});

/** The content types the document shows; any other is taken the same way. */
const UPLOAD_TYPES = ['application/octet-stream', 'video/*', 'audio/*', 'image/*'];

// `/uploads/*` also matches `/uploads` itself. An upload costs 5 tokens (a file streamed in); a look or a delete 1.
uploadsApi.use('/uploads/*', (c, next) => {
  // Resumable uploads have their own authentication and costs (src/api/tus.ts).
  if (c.req.path === TUS_PATH || c.req.path.startsWith(`${TUS_PATH}/`)) return next();
  const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
  return requireKey(reading ? 'jobs:read' : 'jobs:write')(c, async () => {
    await rateLimit(c.req.method === 'POST' ? 5 : 1)(c, next);
  });
});

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
        expiresAt: platform.clock() + limitsFor(c).retentionS * 1000,
      });
    } catch (error) {
      await platform.blobs.delete(key);
      throw error;
    }
    const row = await platform.db.select().from(uploads).where(eq(uploads.id, id)).get();
    return c.json(presentUpload(row!), 201);
  },
);

uploadsApi.openapi(
  createRoute({
    method: 'get',
    path: '/uploads',
    operationId: 'listUploads',
    tags: ['uploads'],
    security: BEARER,
    summary: 'List this key’s uploads, newest first, with keyset pagination; deleted ones say when',
    request: {
      query: z
        .object({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: z.string().max(200).optional() })
        .strict(),
    },
    responses: {
      200: { description: 'A page of uploads', content: { 'application/json': { schema: z.object({ items: z.array(UploadSchema), next_cursor: z.string().nullable() }).openapi('UploadList') } } },
      ...problemResponses(...KEYED, 400),
    },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (after === null) throw problems.validation([{ parameter: 'cursor', message: 'Not a cursor from this API.' }]);
    const rows = await platform.db
      .select()
      .from(uploads)
      .where(and(eq(uploads.apiKeyId, apiKey.id), after ? sql`(${uploads.createdAt}, ${uploads.id}) < (${after.createdAt}, ${after.id})` : undefined))
      .orderBy(desc(uploads.createdAt), desc(uploads.id))
      .limit(q.limit + 1)
      .all();
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json({ items: page.map(presentUpload), next_cursor: rows.length > q.limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null }, 200);
  },
);

uploadsApi.openapi(
  createRoute({
    method: 'get',
    path: '/uploads/{id}',
    operationId: 'getUpload',
    tags: ['uploads'],
    security: BEARER,
    summary: 'Get an upload',
    request: { params: UploadIdParams },
    responses: { 200: { description: 'The upload', content: { 'application/json': { schema: UploadSchema } } }, ...problemResponses(...KEYED, 400, 404) },
  }),
  async (c) => {
    const row = await ownUpload(c.var.platform.db, c.req.valid('param').id, c.var.apiKey.id);
    return c.json(presentUpload(row), 200);
  },
);

uploadsApi.openapi(
  createRoute({
    method: 'delete',
    path: '/uploads/{id}',
    operationId: 'deleteUpload',
    tags: ['uploads'],
    security: BEARER,
    summary: 'Delete an upload’s file now, before its retention ends; jobs that name it afterwards are refused',
    request: { params: UploadIdParams },
    responses: { 200: { description: 'The upload, deleted', content: { 'application/json': { schema: UploadSchema } } }, ...problemResponses(...KEYED, 400, 404, 503) },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const row = await ownUpload(platform.db, c.req.valid('param').id, apiKey.id);
    if (row.deletedAt === null) await deleteUploadFiles(platform.db, platform.blobs, row, platform.clock());
    return c.json(presentUpload((await ownUpload(platform.db, row.id, apiKey.id))), 200);
  },
);

async function ownUpload(db: Db, id: string, apiKeyId: string) {
  const row = await db.select().from(uploads).where(and(eq(uploads.id, id), eq(uploads.apiKeyId, apiKeyId))).get();
  if (!row) throw problems.notFound('No such upload.');
  return row;
}
