/**
 * `npm run openapi [-- <server-url>]`: prints the OpenAPI document the service serves at /api/v1/openapi.json,
 * made from the routes alone (no database, no server), for client generators and `redocly lint`.
 */
import { apiRoutes } from '../src/app.js';
import { openApiDocument } from '../src/api/openapi.js';

const server = process.argv[2] ?? process.env.FFEDGE_PUBLIC_URL ?? 'http://127.0.0.1:8787';
process.stdout.write(`${JSON.stringify(openApiDocument(apiRoutes(), server), null, 2)}\n`);
