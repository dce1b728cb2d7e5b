/**
 * /presets: the built-in presets and a key's own (the `presets` table): list, read, create or replace, delete.
 * Reading needs jobs:read, changing jobs:write. And `resolveConvertBody`, which turns a POST /convert body that
 * names a preset into the complete request the job stores.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { and, asc, eq, sql } from 'drizzle-orm';
import { presets, type ApiKey } from '../db/schema.js';
import type { Db } from '../db/client.js';
import { validateConvert } from '../media/plan.js';
import { BUILTIN_PRESETS, applyPreset, isBuiltinPreset } from '../media/presets.js';
import { closest } from '../closest.js';
import { fromZodError, problems } from '../problems.js';
import {
  ConvertRequestSchema,
  PresetBodySchema,
  PresetNameSchema,
  type ConvertBody,
  type ConvertRequest,
  type PresetBody,
} from '../schemas/convert.js';
import { JSON_BODY, KEYED, problemResponses } from '../schemas/job.js';
import { BEARER } from './openapi.js';
import { router, type AppEnv } from './env.js';
import { jsonBodyLimit, limitsFor, rateLimit, requireJson, requireKey } from './middleware.js';

export const presetsApi = router();

/** A key's own presets; enough for any real catalogue, and a bound on what one key can store. */
export const MAX_PRESETS_PER_KEY = 100;

// `/presets/*` also matches `/presets` itself: one authentication and one charge per request.
presetsApi.use('/presets/*', (c, next) => requireKey(c.req.method === 'GET' || c.req.method === 'HEAD' ? 'jobs:read' : 'jobs:write')(c, next), rateLimit(1));
const jsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== 'PUT' && c.req.method !== 'POST') return next();
  await requireJson(c, async () => {
    await jsonBodyLimit(c, next);
  });
};
presetsApi.use('/presets/*', jsonBody);

export const PresetSchema = z
  .object({
    name: z.string(),
    builtin: z.boolean(),
    description: z.string().nullable(),
    output: z.unknown(),
    operations: z.array(z.unknown()),
    options: z.record(z.string(), z.unknown()),
    created_at: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .openapi('Preset');

const NameParams = z.object({ name: PresetNameSchema.openapi({ param: { name: 'name', in: 'path' } }) });
const CreatePresetSchema = PresetBodySchema.extend({ name: PresetNameSchema }).strict().openapi('CreatePreset');

type StoredPreset = typeof presets.$inferSelect;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function present(name: string, body: PresetBody, row: StoredPreset | null) {
  return {
    name,
    builtin: row === null,
    description: body.description ?? null,
    output: body.output,
    operations: body.operations ?? [],
    options: body.options ?? {},
    created_at: iso(row?.createdAt ?? null),
    updated_at: iso(row?.updatedAt ?? null),
  };
}

async function findOwn(db: Db, apiKeyId: string, name: string): Promise<StoredPreset | undefined> {
  return db.select().from(presets).where(and(eq(presets.apiKeyId, apiKeyId), eq(presets.name, name))).get();
}

/** A stored body is re-read through the schema: rows written by an older version must not reach the planner unchecked. */
function storedBody(row: StoredPreset): PresetBody | null {
  const parsed = PresetBodySchema.safeParse(row.body);
  return parsed.success ? parsed.data : null;
}

/** Validates a preset as the request it would make, with the saving key's limits; 422 with pointers otherwise. */
function checkPreset(c: Context<AppEnv>, body: PresetBody): void {
  // Any well-formed URI: a preset has no input of its own; inputs are checked when a job uses it.
  const { description: _description, ...fields } = body;
  const candidate = { ...fields, input: 'upload:00000000-0000-7000-8000-000000000000' };
  const request = ConvertRequestSchema.safeParse(candidate);
  if (!request.success) throw fromZodError(request.error, 'json', candidate);
  const found = validateConvert(request.data, limitsFor(c));
  if (found.length > 0) {
    throw problems.planned(found, 'The preset would not make a valid request.');
  }
}

/**
 * Creates the preset, or replaces it when it exists. Atomic per statement: the count limit is checked inside the
 * insert, and a name taken by a concurrent create is caught by the unique (api_key_id, name) index.
 */
async function save(c: Context<AppEnv>, name: string, body: PresetBody, replace: boolean): Promise<{ row: StoredPreset; created: boolean }> {
  const { platform, apiKey } = c.var;
  const now = platform.clock();
  if (replace) {
    const updated = await platform.db
      .update(presets)
      .set({ body: body as Record<string, unknown>, updatedAt: now })
      .where(and(eq(presets.apiKeyId, apiKey.id), eq(presets.name, name)))
      .returning()
      .get();
    if (updated) return { row: updated, created: false };
  }
  const id = platform.ids();
  const inserted = await platform.db.all<{ id: string }>(sql`
    INSERT INTO presets (id, api_key_id, name, body, created_at, updated_at)
    SELECT ${id}, ${apiKey.id}, ${name}, ${JSON.stringify(body)}, ${now}, ${now}
    WHERE (SELECT count(*) FROM presets WHERE api_key_id = ${apiKey.id}) < ${MAX_PRESETS_PER_KEY}
    ON CONFLICT (api_key_id, name) DO NOTHING
    RETURNING id`);
  if (inserted.length === 1) return { row: (await findOwn(platform.db, apiKey.id, name))!, created: true };
  if (await findOwn(platform.db, apiKey.id, name)) {
    if (replace) return save(c, name, body, true);
    throw problems.conflict('PRESET_EXISTS', `This key already has a preset named ${name}; PUT /presets/${name} replaces it.`);
  }
  throw problems.unprocessable('LIMIT_EXCEEDED', `A key may have at most ${MAX_PRESETS_PER_KEY} presets.`);
}

function refuseBuiltin(name: string): void {
  if (isBuiltinPreset(name)) throw problems.conflict('PRESET_BUILTIN', `${name} is a built-in preset and cannot be changed; save yours under another name.`);
}

presetsApi.openapi(
  createRoute({
    method: 'get',
    path: '/presets',
    operationId: 'listPresets',
    tags: ['presets'],
    security: BEARER,
    summary: 'List the built-in presets and this key’s own',
    responses: { 200: { description: 'Presets', content: { 'application/json': { schema: z.object({ items: z.array(PresetSchema) }) } } }, ...problemResponses(...KEYED) },
  }),
  async (c) => {
    const { platform, apiKey } = c.var;
    const rows = await platform.db.select().from(presets).where(eq(presets.apiKeyId, apiKey.id)).orderBy(asc(presets.name)).limit(MAX_PRESETS_PER_KEY).all();
    const items = [
      ...Object.entries(BUILTIN_PRESETS).map(([name, body]) => present(name, body, null)),
      ...rows.flatMap((row) => {
        const body = storedBody(row);
        return body ? [present(row.name, body, row)] : [];
      }),
    ];
    return c.json({ items }, 200);
  },
);

presetsApi.openapi(
  createRoute({
    method: 'get',
    path: '/presets/{name}',
    operationId: 'getPreset',
    tags: ['presets'],
    security: BEARER,
    summary: 'Get a preset',
    request: { params: NameParams },
    responses: { 200: { description: 'The preset', content: { 'application/json': { schema: PresetSchema } } }, ...problemResponses(...KEYED, 400, 404) },
  }),
  async (c) => {
    const { name } = c.req.valid('param');
    if (isBuiltinPreset(name)) return c.json(present(name, BUILTIN_PRESETS[name]!, null), 200);
    const row = await findOwn(c.var.platform.db, c.var.apiKey.id, name);
    const body = row ? storedBody(row) : null;
    if (!row || !body) throw problems.notFound('No such preset.');
    return c.json(present(name, body, row), 200);
  },
);

presetsApi.openapi(
  createRoute({
    method: 'put',
    path: '/presets/{name}',
    operationId: 'putPreset',
    tags: ['presets'],
    security: BEARER,
    summary: 'Create or replace one of this key’s presets',
    request: { params: NameParams, body: { required: true, content: { 'application/json': { schema: PresetBodySchema } } } },
    responses: {
      200: { description: 'Replaced', content: { 'application/json': { schema: PresetSchema } } },
      201: { description: 'Created', content: { 'application/json': { schema: PresetSchema } } },
      ...problemResponses(...KEYED, ...JSON_BODY, 409),
    },
  }),
  async (c) => {
    const { name } = c.req.valid('param');
    const body = c.req.valid('json');
    refuseBuiltin(name);
    checkPreset(c, body);
    const { row, created } = await save(c, name, body, true);
    return c.json(present(name, body, row), created ? 201 : 200, created ? { location: `/api/v1/presets/${name}` } : {});
  },
);

presetsApi.openapi(
  createRoute({
    method: 'post',
    path: '/presets',
    operationId: 'createPreset',
    tags: ['presets'],
    security: BEARER,
    summary: 'Create a preset for this key',
    request: { body: { required: true, content: { 'application/json': { schema: CreatePresetSchema } } } },
    responses: {
      201: { description: 'Created', content: { 'application/json': { schema: PresetSchema } } },
      ...problemResponses(...KEYED, ...JSON_BODY, 409),
    },
  }),
  async (c) => {
    const { name, ...body } = c.req.valid('json');
    refuseBuiltin(name);
    checkPreset(c, body);
    const { row } = await save(c, name, body, false);
    return c.json(present(name, body, row), 201, { location: `/api/v1/presets/${name}` });
  },
);

presetsApi.openapi(
  createRoute({
    method: 'delete',
    path: '/presets/{name}',
    operationId: 'deletePreset',
    tags: ['presets'],
    security: BEARER,
    summary: 'Delete one of this key’s presets',
    request: { params: NameParams },
    responses: { 204: { description: 'Deleted' }, ...problemResponses(...KEYED, 400, 404, 409) },
  }),
  async (c) => {
    const { name } = c.req.valid('param');
    refuseBuiltin(name);
    const deleted = await c.var.platform.db
      .delete(presets)
      .where(and(eq(presets.apiKeyId, c.var.apiKey.id), eq(presets.name, name)))
      .returning({ id: presets.id })
      .all();
    if (deleted.length === 0) throw problems.notFound('No such preset.');
    return c.body(null, 204);
  },
);

/**
 * The complete request a POST /convert body makes: as it is, or merged over the preset it names (a built-in, or
 * one of the key's). The merge result is validated like any request, so a preset cannot smuggle in what a request
 * could not say.
 */
export async function resolveConvertBody(c: Context<AppEnv>, body: ConvertBody): Promise<ConvertRequest> {
  let merged: unknown = body;
  if (body.preset !== undefined) {
    const preset = await findPreset(c.var.platform.db, c.var.apiKey, body.preset);
    if (!preset) {
      const allowed = [...Object.keys(BUILTIN_PRESETS), ...(await ownNames(c.var.platform.db, c.var.apiKey.id))];
      const suggestion = closest(body.preset, allowed);
      throw problems.unprocessable('UNKNOWN_PRESET', 'No preset with this name, built in or of this key.', [
        { pointer: '/preset', message: 'unknown preset', allowed, ...(suggestion === undefined ? {} : { suggestion }) },
      ]);
    }
    merged = applyPreset(preset, body);
  }
  const request = ConvertRequestSchema.safeParse(merged);
  if (!request.success) throw fromZodError(request.error, 'json', merged);
  return request.data;
}

/** The names of a key's own presets (at most MAX_PRESETS_PER_KEY), for a problem's allowed values. */
async function ownNames(db: Db, apiKeyId: string): Promise<string[]> {
  const rows = await db.select({ name: presets.name }).from(presets).where(eq(presets.apiKeyId, apiKeyId)).orderBy(asc(presets.name)).limit(MAX_PRESETS_PER_KEY).all();
  return rows.map((row) => row.name);
}

async function findPreset(db: Db, apiKey: ApiKey, name: string): Promise<PresetBody | null> {
  if (isBuiltinPreset(name)) return BUILTIN_PRESETS[name]!;
  const row = await findOwn(db, apiKey.id, name);
  return row ? storedBody(row) : null;
}
