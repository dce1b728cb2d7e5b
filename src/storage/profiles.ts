/**
 * Storage profiles: the buckets an operator configured (DESIGN.md, "Storage and URLs"). They are the only way a job
 * reaches a bucket: `s3://<profile>/<key>` inputs and `output.destination` outputs name a profile, never an endpoint
 * or a credential, so none of those ever appears in a request, a job, a log or a webhook.
 *
 * Each profile is one BlobStore per process (its connections reused: audit #18) with the profile's prefix applied
 * here and only here: a client's key is checked (uri.ts, bucketKeyProblem) and then placed under the prefix as
 * segments, so no key can name an object outside it (audit #34).
 */
import type { BlobStore } from './blob-store.js';
import { bucketKeyProblem, type BucketScheme } from './uri.js';

export interface StorageProfile {
  name: string;
  scheme: BucketScheme;
  store: BlobStore;
  /** '' or segments ending with '/': every object of the profile is under it. */
  prefix: string;
  /** The API key ids that may use the profile, or '*' for every key. */
  keys: '*' | ReadonlySet<string>;
  /** The object name of a client's key (checked again here: nothing reaches the store unchecked). */
  objectKey(key: string): string;
  /** May this API key read from and write to the profile? */
  allows(apiKeyId: string): boolean;
}

export interface StorageProfiles {
  /** The schemes at least one profile uses, for parsing and for the problems that list them. */
  schemes: BucketScheme[];
  get(scheme: BucketScheme, name: string): StorageProfile | undefined;
  list(): StorageProfile[];
}

export class ProfileKeyError extends Error {
  constructor(reason: string) {
    super(`invalid object key: ${reason}`);
    this.name = 'ProfileKeyError';
  }
}

export function storageProfile(options: { name: string; scheme: BucketScheme; store: BlobStore; prefix: string; keys: '*' | ReadonlySet<string> }): StorageProfile {
  const prefixProblem = options.prefix === '' ? null : bucketKeyProblem(options.prefix, true);
  if (prefixProblem || (options.prefix !== '' && !options.prefix.endsWith('/'))) {
    throw new Error(`storage profile ${options.name}: the prefix must be a folder of plain segments ending with /`);
  }
  return {
    ...options,
    objectKey(key) {
      const problem = bucketKeyProblem(key);
      if (problem) throw new ProfileKeyError(problem);
      const full = options.prefix + key;
      const fullProblem = bucketKeyProblem(full);
      if (fullProblem) throw new ProfileKeyError(fullProblem);
      return full;
    },
    allows: (apiKeyId) => options.keys === '*' || options.keys.has(apiKeyId),
  };
}

export function storageProfiles(profiles: readonly StorageProfile[]): StorageProfiles {
  const byId = new Map(profiles.map((profile) => [`${profile.scheme}:${profile.name}`, profile]));
  return {
    schemes: [...new Set(profiles.map((profile) => profile.scheme))].sort(),
    get: (scheme, name) => byId.get(`${scheme}:${name}`),
    list: () => [...profiles],
  };
}
