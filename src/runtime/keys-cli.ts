/**
 * `npm run keys -- <command>`: API keys in the configured database (FFEDGE_DB_URL, or FFEDGE_DATA_DIR/ffedge.db),
 * the same one the service uses. Arguments are parsed by node's util.parseArgs, so a mistake gets the usage and
 * exit status 2, never a stack trace.
 */
import { parseArgs } from 'node:util';
import { resolve, join } from 'node:path';
import { createKey, generateKeyValue, listKeys, revokeKey, SCOPES, type KeySummary, type Scope } from '../security/api-keys.js';
import { openLibsql } from './libsql.js';

const USAGE = `usage: npm run keys -- <command> [options]

commands:
  create --name NAME [--scope SCOPE ...]   create a key and print it once (default scopes: jobs:read jobs:write)
  list                                     list the keys: id, name, scopes, tier, created, revoked (never a secret)
  revoke --id ID                           revoke a key
  generate                                 print a new key value without storing it, for FFEDGE_BOOTSTRAP_ADMIN_KEY
                                           (use npm run -s keys -- generate, so npm prints nothing else)

scopes: ${SCOPES.join(', ')}
database: FFEDGE_DB_URL, else file:FFEDGE_DATA_DIR/ffedge.db (FFEDGE_DATA_DIR defaults to ./data)`;

const COMMANDS = ['create', 'list', 'revoke', 'generate'] as const;

/** A mistake in the command line: the message and the usage go to stderr, and the exit status is 2. */
class UsageError extends Error {}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: 'string' },
        scope: { type: 'string', multiple: true },
        id: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // parseArgs throws a TypeError with a readable message for unknown options and missing values.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parse(argv);
  const command = positionals[0];
  if (values.help || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command === undefined) throw new UsageError('no command given');
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command: ${command}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument: ${positionals[1]}`);

  if (command === 'generate') {
    console.log(generateKeyValue());
    return 0;
  }
  let scopes: Scope[] = ['jobs:read', 'jobs:write'];
  if (command === 'create') {
    if (!values.name) throw new UsageError('create needs --name');
    scopes = (values.scope ?? scopes) as Scope[];
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length) throw new UsageError(`unknown scope(s): ${unknown.join(', ')}`);
  }
  if (command === 'revoke' && !values.id) throw new UsageError('revoke needs --id');

  const dataDir = resolve(process.env.FFEDGE_DATA_DIR ?? './data');
  const { db, client } = await openLibsql(process.env.FFEDGE_DB_URL ?? `file:${join(dataDir, 'ffedge.db')}`, process.env.FFEDGE_DB_AUTH_TOKEN);
  try {
    if (command === 'create') {
      const created = await createKey(db, { name: values.name!, scopes, now: Date.now() });
      console.log(created.key);
      console.error(`created key ${created.id} (${created.scopes.join(' ')}); it is shown only now`);
      console.error(`its webhook signing secret (Standard Webhooks), also shown only now: ${created.webhookSecret}`);
    } else if (command === 'list') {
      console.log(table(await listKeys(db)));
    } else {
      if (!(await revokeKey(db, values.id!, Date.now()))) {
        console.error(`no key with id ${values.id}`);
        return 1;
      }
      console.error(`revoked ${values.id}`);
    }
    return 0;
  } finally {
    client.close();
  }
}

/** Aligned columns, one key a line; times in UTC. */
function table(keys: KeySummary[]): string {
  const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  const rows = [
    ['ID', 'NAME', 'SCOPES', 'TIER', 'CREATED', 'REVOKED'],
    ...keys.map((key) => [key.id, key.name, key.scopes.join(','), key.tier, iso(key.createdAt), iso(key.revokedAt)]),
  ];
  const widths = rows[0]!.map((_h, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    // A database that cannot be opened or written: its message, without a stack.
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
