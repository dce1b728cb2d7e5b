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
import { bucketKeyProblem, isProfileName, type BucketScheme } from './uri.js';

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

/** One profile as the operator configured it (FFEDGE_STORAGE_<NAME>_*). Secrets stay here and in the store. */
export interface S3ProfileConfig {
  name: string;
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  prefix: string;
  urlStyle: 'path' | 'virtual';
  keys: '*' | ReadonlySet<string>;
  partBytes?: number;
}

const SETTINGS = ['ENDPOINT', 'REGION', 'BUCKET', 'ACCESS_KEY_ID', 'SECRET_ACCESS_KEY', 'PREFIX', 'URL_STYLE', 'KEYS', 'PART_MB'] as const;
const STORAGE_VARIABLE = /^FFEDGE_STORAGE_([A-Z0-9]+(?:_[A-Z0-9]+)*)$/;

/**
 * The S3 profiles of an environment: FFEDGE_STORAGE_<NAME>_ENDPOINT / _REGION / _BUCKET / _ACCESS_KEY_ID /
 * _SECRET_ACCESS_KEY / _PREFIX / _URL_STYLE / _KEYS / _PART_MB. `<NAME>` becomes the profile's name in lower case
 * (`_` becomes `-`). `_KEYS` lists the API key ids (the `<id>` of `ffe_<id>_<secret>`) that may use it, or `*`;
 * without it no key may. A profile with a missing or invalid setting stops the start, naming the variable.
 */
export function loadS3Profiles(env: Record<string, string | undefined>): S3ProfileConfig[] {
  const names = new Set<string>();
  for (const variable of Object.keys(env)) {
    const rest = STORAGE_VARIABLE.exec(variable)?.[1];
    if (!rest || env[variable] === undefined || env[variable] === '') continue;
    const setting = [...SETTINGS].sort((a, b) => b.length - a.length).find((name) => rest.endsWith(`_${name}`));
    if (!setting) throw new Error(`${variable}: unknown storage setting (use one of ${SETTINGS.join(', ')})`);
    names.add(rest.slice(0, -setting.length - 1));
  }
  return [...names].sort().map((upper) => {
    const get = (setting: (typeof SETTINGS)[number]) => env[`FFEDGE_STORAGE_${upper}_${setting}`]?.trim() || undefined;
    const need = (setting: (typeof SETTINGS)[number]) => {
      const value = get(setting);
      if (!value) throw new Error(`FFEDGE_STORAGE_${upper}_${setting} is required for the storage profile ${upper.toLowerCase()}`);
      return value;
    };
    const name = upper.toLowerCase().replace(/_/g, '-');
    if (!isProfileName(name)) throw new Error(`FFEDGE_STORAGE_${upper}_*: a profile name is 1 to 32 letters, digits or _`);
    const endpoint = need('ENDPOINT');
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new Error(`FFEDGE_STORAGE_${upper}_ENDPOINT is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`FFEDGE_STORAGE_${upper}_ENDPOINT must be http(s)`);
    if (url.username || url.password) throw new Error(`FFEDGE_STORAGE_${upper}_ENDPOINT must not carry credentials (use _ACCESS_KEY_ID and _SECRET_ACCESS_KEY)`);
    let prefix = get('PREFIX') ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    const style = get('URL_STYLE') ?? 'path';
    if (style !== 'path' && style !== 'virtual') throw new Error(`FFEDGE_STORAGE_${upper}_URL_STYLE is path or virtual`);
    const keys = get('KEYS');
    const partMb = get('PART_MB');
    const partBytes = partMb === undefined ? undefined : Number(partMb) * 1024 * 1024;
    if (partBytes !== undefined && (!Number.isSafeInteger(partBytes) || partBytes < 5 * 1024 * 1024 || partBytes > 512 * 1024 * 1024)) {
      throw new Error(`FFEDGE_STORAGE_${upper}_PART_MB is a whole number from 5 to 512`);
    }
    return {
      name,
      endpoint: url.href,
      region: get('REGION') ?? 'auto',
      bucket: need('BUCKET'),
      accessKeyId: need('ACCESS_KEY_ID'),
      secretAccessKey: need('SECRET_ACCESS_KEY'),
      prefix,
      urlStyle: style,
      keys: keys === undefined ? new Set<string>() : keys === '*' ? '*' : new Set(keys.split(',').map((id) => id.trim()).filter(Boolean)),
      ...(partBytes !== undefined ? { partBytes } : {}),
    };
  });
}
