/**
 * The S3 storage profiles of a process: one store per profile, built once at start (audit #18), wrapped in the
 * profile's own breaker so a bucket that is down fails fast without taking the built-in store with it.
 */
import type { Breakers } from '../delivery/breakers.js';
import type { Sha256Factory } from './digest.js';
import { guardedBlobStore } from './guarded.js';
import { storageProfile, storageProfiles, ProfileKeyError, type S3ProfileConfig, type StorageProfiles } from './profiles.js';
import { createS3BlobStore } from './s3.js';
import { bucketKeyProblem } from './uri.js';

export function s3Profiles(configs: readonly S3ProfileConfig[], deps: { sha256: Sha256Factory; breakers: Breakers; fetch?: typeof fetch }): StorageProfiles {
  return storageProfiles(
    configs.map((config) =>
      storageProfile({
        name: config.name,
        scheme: 's3',
        prefix: config.prefix,
        keys: config.keys,
        store: guardedBlobStore(
          createS3BlobStore({
            endpoint: config.endpoint,
            region: config.region,
            bucket: config.bucket,
            accessKeyId: config.accessKeyId,
            secretAccessKey: config.secretAccessKey,
            urlStyle: config.urlStyle,
            probePrefix: config.prefix,
            sha256: deps.sha256,
            checkKey: (key) => {
              const problem = bucketKeyProblem(key);
              if (problem) throw new ProfileKeyError(problem);
            },
            ...(config.partBytes ? { partBytes: config.partBytes } : {}),
            ...(deps.fetch ? { fetch: deps.fetch } : {}),
          }),
          deps.breakers.get(`storage:${config.name}`),
        ),
      }),
    ),
  );
}
