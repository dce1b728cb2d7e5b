/**
 * `npm run keys -- create --name NAME [--scope admin] [--scope jobs:read ...]`: creates an API key in the configured
 * database and prints it once. `npm run keys -- revoke --id ID` revokes one. `npm run -s keys -- generate` prints a
 * fresh random key value without storing it, for FFEDGE_BOOTSTRAP_ADMIN_KEY.
 */
import { eq } from 'drizzle-orm';
import { parseArgs } from 'node:util';
import { resolve, join } from 'node:path';
import { apiKeys } from '../db/schema.js';
import { createKey, generateKeyValue, SCOPES, type Scope } from '../security/api-keys.js';
import { openLibsql } from './libsql.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { name: { type: 'string' }, scope: { type: 'string', multiple: true }, id: { type: 'string' } },
});

const command = positionals[0];
if (command === 'generate') {
  console.log(generateKeyValue());
  process.exit(0);
}

const dataDir = resolve(process.env.FFEDGE_DATA_DIR ?? './data');
const { db, client } = await openLibsql(process.env.FFEDGE_DB_URL ?? `file:${join(dataDir, 'ffedge.db')}`, process.env.FFEDGE_DB_AUTH_TOKEN);

try {
  if (command === 'create') {
    if (!values.name) throw new Error('--name is required');
    const scopes = (values.scope ?? ['jobs:read', 'jobs:write']) as Scope[];
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length) throw new Error(`unknown scope(s): ${unknown.join(', ')}; use ${SCOPES.join(', ')}`);
    const created = await createKey(db, { name: values.name, scopes, now: Date.now() });
    console.log(created.key);
    console.error(`created key ${created.id} (${created.scopes.join(' ')}); it is shown only now`);
  } else if (command === 'revoke') {
    if (!values.id) throw new Error('--id is required');
    await db.update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, values.id));
    console.error(`revoked ${values.id}`);
  } else {
    throw new Error('usage: keys create --name NAME [--scope SCOPE ...] | keys revoke --id ID | keys generate');
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  client.close();
}
