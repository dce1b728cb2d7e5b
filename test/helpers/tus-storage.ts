/**
 * A tus-js-client URL store in memory: on Node and in workerd the client keeps nothing between uploads unless given
 * one, and the resume tests need it to find the upload they interrupted. No node: import, so workerd tests use it.
 */
import type { PreviousUpload, UrlStorage } from 'tus-js-client';

export function memoryUrlStorage(): UrlStorage {
  const entries = new Map<string, PreviousUpload & { urlStorageKey: string }>();
  let next = 0;
  return {
    findAllUploads: async () => [...entries.values()],
    findUploadsByFingerprint: async (fingerprint) => [...entries.values()].filter((e) => e.urlStorageKey.startsWith(`${fingerprint}::`)),
    removeUpload: async (key) => void entries.delete(key),
    addUpload: async (fingerprint, upload) => {
      const key = `${fingerprint}::${next++}`;
      entries.set(key, { ...upload, urlStorageKey: key });
      return key;
    },
  };
}
