/** The SDK's types are the served document's: the committed file is what scripts/openapi-types.ts makes now. */
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { generatedTypes } from '../../scripts/openapi-types.js';

it('packages/client/src/openapi.ts is current with GET /api/v1/openapi.json (else: npm run openapi-types)', async () => {
  const committed = await readFile(new URL('../../packages/client/src/openapi.ts', import.meta.url), 'utf8');
  expect(committed === (await generatedTypes())).toBe(true);
});
