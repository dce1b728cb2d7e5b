/** Names for the generated OpenAPI types (openapi.ts) that the SDK's surface uses. */
import type { components, paths } from './openapi.js';

type Schemas = components['schemas'];
type JsonBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type JsonAnswer<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends {
  responses: { [K in S]: { content: { 'application/json': infer R } } };
}
  ? R
  : never;

export type Job = Schemas['Job'];
export type Progress = Schemas['Progress'];
export type JobOutput = Schemas['JobOutput'];
export type Upload = Schemas['Upload'];
export type ProblemBody = Schemas['Problem'];
export type ConvertBody = JsonBody<'/api/v1/convert', 'post'>;
export type StreamBody = JsonBody<'/api/v1/stream', 'post'>;
export type ProbeBody = JsonBody<'/api/v1/probe', 'post'>;
export type AnalyzeBody = JsonBody<'/api/v1/analyze', 'post'>;
export type EstimateBody = JsonBody<'/api/v1/estimate', 'post'>;
export type Estimate = JsonAnswer<'/api/v1/estimate', 'post', 200>;
export type JobList = JsonAnswer<'/api/v1/jobs', 'get', 200>;
export type ListJobsQuery = NonNullable<paths['/api/v1/jobs']['get']['parameters']['query']>;
export type { components, paths };
