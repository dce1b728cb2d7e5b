/** The incremental SHA-256 of Node and Deno (digest.ts). */
import { createHash } from 'node:crypto';
import type { Sha256Factory } from './digest.js';

export const nodeSha256: Sha256Factory = () => {
  const hash = createHash('sha256');
  return {
    update: async (bytes) => {
      hash.update(bytes);
    },
    hex: async () => hash.digest('hex'),
  };
};
