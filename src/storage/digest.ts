/**
 * An incremental SHA-256 for stores that see an object's bytes pass (WebCrypto has no incremental digest). Node and
 * Deno hash with node:crypto (node-digest.ts); workerd with its DigestStream.
 */
export interface Sha256 {
  update(bytes: Uint8Array): Promise<void>;
  hex(): Promise<string>;
}

export type Sha256Factory = () => Sha256;

/** workerd puts DigestStream on `crypto`; the DOM and Node typings of `crypto` in this project do not know it. */
interface DigestStreamLike extends WritableStream<Uint8Array> {
  digest: Promise<ArrayBuffer>;
}

export function toHex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The digest of workerd (Cloudflare Workers); throws where there is none. */
export const digestStreamSha256: Sha256Factory = () => {
  const Digest = (crypto as unknown as { DigestStream?: new (algorithm: string) => DigestStreamLike }).DigestStream;
  if (!Digest) throw new Error('crypto.DigestStream is not available in this runtime');
  const stream = new Digest('SHA-256');
  const writer = stream.getWriter();
  return {
    update: (bytes) => writer.write(bytes),
    async hex() {
      await writer.close();
      return toHex(await stream.digest);
    },
  };
};
