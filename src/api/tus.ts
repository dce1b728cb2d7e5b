/**
 * Resumable uploads, tus 1.0 (https://tus.io/protocols/resumable-upload) with the creation, creation-with-upload,
 * termination and expiration extensions, under /uploads/tus. The finished file is an ordinary upload row
 * (`upload:<id>`, the id being the last segment of the upload's Location), made as POST /uploads makes it; the state
 * in between lives in src/storage/tus-store.ts.
 *
 * Every answer carries Tus-Resumable: 1.0.0. The statuses tus prescribes (409 offset mismatch, 412 version, 413 past
 * the limit, 415 content type, 410 expired) are answered as RFC 9457 problems too, with their codes, since a tus
 * client reads only the status and ignores the body. Costs, from the key's bucket: creation 5 (as POST /uploads),
 * PATCH, HEAD and DELETE 1; OPTIONS is public and costs the client address 1.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { eq } from 'drizzle-orm';
import { uploads } from '../db/schema.js';
import { Problem, problems } from '../problems.js';
import { problemResponses, KEYED } from '../schemas/job.js';
import { BlobTooLargeError, StorageFullError } from '../storage/blob-store.js';
import { FilenameError, normalizeFilename } from '../storage/filename.js';
import { deleteUploadFiles } from '../storage/retention.js';
import {
  TUS_INCOMPLETE_TTL_MS,
  TusConflictError,
  TusTooManyPartsError,
  appendTusPart,
  completeTusUpload,
  createTusUpload,
  findTusUpload,
  isFinishing,
  reportedOffset,
  takeOverFinishing,
  terminateTusUpload,
  type TusUpload,
} from '../storage/tus-store.js';
import { router, type AppEnv } from './env.js';
import { BEARER, PUBLIC } from './openapi.js';
import { limitsFor, rateLimit, requireKey } from './middleware.js';

export const tusApi = router();

export const TUS_PATH = '/api/v1/uploads/tus';
const TUS_VERSION = '1.0.0';
const TUS_EXTENSIONS = 'creation,creation-with-upload,termination,expiration';
const OFFSET_STREAM = 'application/offset+octet-stream';
/** Upload-Metadata longer than this is refused: it is stored and echoed on every HEAD. */
const MAX_METADATA_CHARS = 4096;

/** The headers a browser's tus client must read across origins (src/app.ts exposes them with CORS). */
export const TUS_EXPOSED_HEADERS = ['Location', 'Upload-Offset', 'Upload-Length', 'Upload-Expires', 'Upload-Metadata', 'Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size'];

type TusContext = Context<AppEnv>;

const httpDate = (ms: number) => new Date(ms).toUTCString();

function tusProblem(status: number, code: string, title: string, detail: string, headers: Record<string, string> = {}): Problem {
  return new Problem({ status, code, title, detail, headers });
}

// Every answer of the protocol, problems included, says which version it speaks.
const tusResumable: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.res.headers.set('Tus-Resumable', TUS_VERSION);
};

/** A request of another protocol version is refused before anything is read (tus: 412 with Tus-Version). */
const requireTusVersion: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.header('tus-resumable') !== TUS_VERSION) {
    throw tusProblem(412, 'TUS_VERSION_UNSUPPORTED', 'Precondition failed', `Send Tus-Resumable: ${TUS_VERSION}.`, { 'tus-version': TUS_VERSION });
  }
  await next();
};

const BASE = TUS_PATH.slice('/api/v1'.length);
const keyed = (cost: number): MiddlewareHandler<AppEnv> => (c, next) =>
  requireKey('jobs:write')(c, async () => {
    await rateLimit(cost)(c, async () => {
      await requireTusVersion(c, next);
    });
  });
// `/*` matches the base path itself too.
tusApi.use(`${BASE}/*`, tusResumable);
tusApi.use(BASE, async (c, next) => {
  // OPTIONS is discovery and needs no key (tus clients and CORS preflights send none): charged to the address.
  if (c.req.method === 'OPTIONS') await rateLimit(1)(c, next);
  else await keyed(5)(c, next);
});
tusApi.use(`${BASE}/:id`, keyed(1));

const TusHeaders = z.object({ 'tus-resumable': z.literal(TUS_VERSION).openapi({ description: 'The protocol version; anything else is answered 412' }) });
const IdParams = z.object({
  id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'The upload id: `upload:<id>` once the last byte is in', example: '01938f5e-7c4a-7b3e-9b1a-2f6d7e8a9b0c' }),
});
const header = (description: string, type: 'string' | 'integer' = 'string') => ({ description, schema: { type } });
const TUS_RESUMABLE_HEADER = { 'Tus-Resumable': header('1.0.0') };
const OFFSET_HEADERS = { ...TUS_RESUMABLE_HEADER, 'Upload-Offset': header('Bytes stored so far', 'integer'), 'Upload-Expires': header('When an unfinished upload is deleted (HTTP-date)') };
const binaryBody = {
  required: false,
  description: 'Bytes of the file from Upload-Offset on (as many as the client likes, not past Upload-Length)',
  content: { [OFFSET_STREAM]: { schema: z.string().openapi({ format: 'binary' }) } },
};

function parseLength(value: string | undefined, name: string): number | null {
  if (value === undefined) return null;
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) throw problems.validation([{ parameter: name, message: 'A whole number of bytes.' }]);
  return Number(value);
}

/** `key base64,key2 base64,flag`: the pairs of Upload-Metadata (tus creation), values decoded as UTF-8. */
function parseMetadata(raw: string): Map<string, string> {
  const pairs = new Map<string, string>();
  const invalid = () => problems.validation([{ parameter: 'upload-metadata', message: 'Comma-separated `key base64-value` pairs, each key once.' }]);
  for (const item of raw.split(',')) {
    const [key, value, ...rest] = item.trim().split(' ');
    if (!key || rest.length > 0 || !/^[\x21-\x2b\x2d-\x7e]+$/.test(key) || pairs.has(key)) throw invalid();
    if (value === undefined || value === '') {
      pairs.set(key, '');
      continue;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw invalid();
    try {
      pairs.set(key, new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0))));
    } catch {
      throw invalid();
    }
  }
  return pairs;
}

function metadataOf(raw: string | undefined): { metadata: string | null; filename: string | null; contentType: string | null } {
  if (raw === undefined || raw.trim() === '') return { metadata: null, filename: null, contentType: null };
  if (raw.length > MAX_METADATA_CHARS) throw problems.validation([{ parameter: 'upload-metadata', message: `At most ${MAX_METADATA_CHARS} characters.` }]);
  const pairs = parseMetadata(raw);
  // tus-js-client's examples say filename/filetype; Uppy sends name/type.
  const name = pairs.get('filename') ?? pairs.get('name');
  const type = pairs.get('filetype') ?? pairs.get('type');
  let filename: string | null = null;
  if (name !== undefined && name !== '') {
    try {
      filename = normalizeFilename(name);
    } catch (error) {
      if (error instanceof FilenameError) throw problems.validation([{ parameter: 'upload-metadata', message: `filename: ${error.message}` }]);
      throw error;
    }
  }
  if (type !== undefined && type !== '' && (type.length > 255 || !/^[\w.+-]+\/[\w.+-]+(?:\s*;[\x20-\x7e]*)?$/.test(type))) {
    throw problems.validation([{ parameter: 'upload-metadata', message: 'filetype: a media type such as video/mp4.' }]);
  }
  return { metadata: raw, filename, contentType: type ? type : null };
}

function offsetHeaders(row: TusUpload): Record<string, string> {
  return { 'Upload-Offset': String(reportedOffset(row)), 'Upload-Expires': httpDate(row.expiresAt) };
}

async function ownRow(c: TusContext, id: string): Promise<TusUpload> {
  const row = await findTusUpload(c.var.platform.db, id, c.var.apiKey.id);
  if (!row) throw problems.notFound('No such upload.');
  if (row.completedAt === null && row.expiresAt <= c.var.platform.clock()) {
    throw tusProblem(410, 'UPLOAD_EXPIRED', 'Gone', 'This upload was not finished in time and has expired; start a new one.');
  }
  return row;
}

/**
 * Stores a request body at the row's offset (creation-with-upload or PATCH) and, when it is the last byte, makes the
 * upload row. Every failure leaves the row as it was and nothing of the body stored.
 */
async function receive(c: TusContext, row: TusUpload): Promise<TusUpload> {
  const { platform } = c.var;
  const limits = limitsFor(c);
  const declared = parseLength(c.req.header('content-length'), 'content-length');
  if (declared !== null && declared > row.length - row.offset) {
    throw problems.tooLarge(row.length - row.offset);
  }
  const body = c.req.raw.body ?? new Blob([]).stream();
  let after: TusUpload;
  try {
    after = await appendTusPart(platform, row, body);
    if (after.offset === after.length && after.completedAt === null) {
      await completeTusUpload(platform, after, { maxBytes: limits.uploadBytes, retentionS: limits.retentionS, before: row });
      after = { ...after, completedAt: platform.clock(), parts: [] };
    }
  } catch (error) {
    if (error instanceof BlobTooLargeError) throw problems.tooLarge(row.length - row.offset);
    if (error instanceof TusConflictError) throw offsetConflict(row.offset);
    if (error instanceof TusTooManyPartsError) throw problems.unprocessable('TOO_MANY_PARTS', `${error.message}: send larger chunks.`);
    if (error instanceof StorageFullError) {
      platform.log.error('blob storage is full', { request_id: c.var.requestId, code: error.code });
      throw problems.storageFull();
    }
    // The client went away mid-body: nothing was counted, and it will HEAD and resume from the same offset.
    if (c.req.raw.signal.aborted) throw problems.badRequest('The request body ended early; nothing of it was kept.');
    throw error;
  }
  return after;
}

const offsetConflict = (offset: number) =>
  tusProblem(409, 'OFFSET_MISMATCH', 'Conflict', `Upload-Offset does not match the ${offset} bytes stored (or another request is writing); HEAD the upload and resume from its offset.`);

tusApi.openapi(
  createRoute({
    method: 'options',
    path: '/uploads/tus',
    operationId: 'tusOptions',
    tags: ['uploads'],
    security: PUBLIC,
    summary: 'tus discovery: the protocol version, extensions and the largest Upload-Length',
    responses: {
      204: {
        description: 'What this tus server supports',
        headers: {
          ...TUS_RESUMABLE_HEADER,
          'Tus-Version': header('1.0.0'),
          'Tus-Extension': header(TUS_EXTENSIONS),
          'Tus-Max-Size': header('The largest Upload-Length (the default tier’s upload_bytes)', 'integer'),
        },
      },
      ...problemResponses(429, 500),
    },
  }),
  (c) =>
    c.body(null, 204, {
      'Tus-Version': TUS_VERSION,
      'Tus-Extension': TUS_EXTENSIONS,
      'Tus-Max-Size': String(limitsFor(c).uploadBytes),
    }),
);

tusApi.openapi(
  createRoute({
    method: 'post',
    path: '/uploads/tus',
    operationId: 'tusCreate',
    tags: ['uploads'],
    security: BEARER,
    summary: 'tus creation: start a resumable upload of Upload-Length bytes; the body may carry its first bytes',
    request: {
      headers: TusHeaders.extend({
        'upload-length': z.string().regex(/^\d{1,16}$/).openapi({ description: 'The file’s size in bytes, at most the tier’s upload_bytes (else 413)' }),
        'upload-metadata': z.string().optional().openapi({ description: '`filename <base64>,filetype <base64>`: the upload’s filename and content type' }),
      }),
      body: binaryBody,
    },
    responses: {
      201: {
        description: 'Created: `Location` is the upload’s URL, whose last segment is the id of the `upload:<id>` it becomes',
        headers: { ...OFFSET_HEADERS, Location: header('The upload’s URL') },
      },
      ...problemResponses(...KEYED, 400, 412, 413, 415, 503, 507),
    },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const limits = limitsFor(c);
    if (c.req.header('upload-defer-length') !== undefined) throw problems.badRequest('Upload-Defer-Length is not supported: send Upload-Length.');
    const length = parseLength(c.req.header('upload-length'), 'upload-length');
    if (length === null) throw problems.validation([{ parameter: 'upload-length', message: 'Required: the file’s size in bytes.' }]);
    if (length > limits.uploadBytes) throw problems.tooLarge(limits.uploadBytes);
    const described = metadataOf(c.req.header('upload-metadata'));
    const sendsBytes = c.req.header('content-type') !== undefined || (parseLength(c.req.header('content-length'), 'content-length') ?? 0) > 0;
    if (sendsBytes && c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase() !== OFFSET_STREAM) throw problems.unsupportedMedia(OFFSET_STREAM);

    const now = platform.clock();
    let row = await createTusUpload(platform.db, {
      id: platform.ids(),
      apiKeyId: apiKey.id,
      length,
      ...described,
      createdAt: now,
      expiresAt: now + Math.min(TUS_INCOMPLETE_TTL_MS, limits.retentionS * 1000),
    });
    try {
      // Creation with upload, and a file of 0 bytes, which is complete as soon as it exists.
      if (sendsBytes || length === 0) row = await receive(c, row);
    } catch (error) {
      // The creation failed as a whole: the client gets no Location, so nothing it could resume may stay.
      await terminateTusUpload(platform, row).catch(() => undefined);
      throw error;
    }
    return c.body(null, 201, { Location: `${TUS_PATH}/${row.id}`, ...offsetHeaders(row) });
  },
);

// HEAD is documented as its own operation; Hono answers HEAD with the GET handler minus the body, so the handler is a
// GET that refuses to be one.
tusApi.openAPIRegistry.registerPath({
  method: 'head',
  path: '/uploads/tus/{id}',
  operationId: 'tusHead',
  tags: ['uploads'],
  security: BEARER,
  summary: 'tus: how many bytes of the upload are stored (Upload-Offset), to resume from there',
  request: { params: IdParams, headers: TusHeaders },
  responses: {
    200: {
      description: 'The upload’s offset and length; `Cache-Control: no-store`',
      headers: { ...OFFSET_HEADERS, 'Upload-Length': header('The declared size', 'integer'), 'Upload-Metadata': header('As sent at creation'), 'Cache-Control': header('no-store') },
    },
    ...problemResponses(...KEYED, 400, 404, 410, 412),
  },
});

tusApi.get('/uploads/tus/:id', async (c) => {
  if (c.req.method !== 'HEAD') throw problems.methodNotAllowed(['DELETE', 'HEAD', 'PATCH']);
  const id = c.req.param('id');
  if (!IdParams.safeParse({ id }).success) throw problems.validation([{ parameter: 'id', message: 'An upload id (a UUID).' }]);
  const row = await ownRow(c, id);
  return c.body(null, 200, {
    ...offsetHeaders(row),
    'Upload-Length': String(row.length),
    ...(row.metadata === null ? {} : { 'Upload-Metadata': row.metadata }),
    'Cache-Control': 'no-store',
  });
});

tusApi.openapi(
  createRoute({
    method: 'patch',
    path: '/uploads/tus/{id}',
    operationId: 'tusPatch',
    tags: ['uploads'],
    security: BEARER,
    summary: 'tus: send bytes from Upload-Offset on; the last byte makes the upload `upload:<id>`',
    request: {
      params: IdParams,
      headers: TusHeaders.extend({ 'upload-offset': z.string().regex(/^\d{1,16}$/).openapi({ description: 'Where this body starts: the Upload-Offset of the last HEAD or PATCH (else 409)' }) }),
      body: { ...binaryBody, required: true },
    },
    responses: {
      204: { description: 'Stored: `Upload-Offset` is the new offset; at Upload-Length the upload is complete', headers: OFFSET_HEADERS },
      ...problemResponses(...KEYED, 400, 404, 409, 410, 412, 413, 415, 422, 503, 507),
    },
  }),
  async (c) => {
    if (c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase() !== OFFSET_STREAM) throw problems.unsupportedMedia(OFFSET_STREAM);
    const offset = parseLength(c.req.header('upload-offset'), 'upload-offset');
    if (offset === null) throw problems.validation([{ parameter: 'upload-offset', message: 'Required: where this body starts.' }]);
    let row = await ownRow(c, c.req.valid('param').id);
    // The last part's request died while copying the parts: this PATCH sends those bytes again and finishes instead.
    if (isFinishing(row) && offset === reportedOffset(row)) row = (await takeOverFinishing(c.var.platform, row)) ?? row;
    // While the last part is being copied, the upload is at neither offset: the client waits, HEADs and sees.
    if (offset !== row.offset || isFinishing(row)) throw offsetConflict(reportedOffset(row));
    const after = await receive(c, row);
    return c.body(null, 204, offsetHeaders(after));
  },
);

tusApi.openapi(
  createRoute({
    method: 'delete',
    path: '/uploads/tus/{id}',
    operationId: 'tusTerminate',
    tags: ['uploads'],
    security: BEARER,
    summary: 'tus termination: end the upload and delete every byte of it, the finished upload’s file included',
    request: { params: IdParams, headers: TusHeaders },
    responses: {
      204: { description: 'Terminated: nothing of it is stored', headers: TUS_RESUMABLE_HEADER },
      ...problemResponses(...KEYED, 400, 404, 410, 412, 503),
    },
  }),
  async (c) => {
    const { platform } = c.var;
    const row = await ownRow(c, c.req.valid('param').id);
    if (row.completedAt !== null) {
      const upload = await platform.db.select().from(uploads).where(eq(uploads.id, row.id)).get();
      if (upload && upload.deletedAt === null) await deleteUploadFiles(platform.db, platform.blobs, upload, platform.clock());
    }
    await terminateTusUpload(platform, row);
    // A later HEAD finds nothing (404), as tus asks of a terminated upload.
    return c.body(null, 204);
  },
);
