/**
 * Cuts a stream of chunks of any size into parts of a fixed size for a multipart upload (R2, S3), holding only the
 * chunks not yet sent: a small body holds its own bytes, never a whole part buffer.
 */
export interface PartBuffer {
  readonly bytes: number;
  push(chunk: Uint8Array): void;
  /** The next `bytes` bytes as one array (at most what is held). */
  take(bytes?: number): Uint8Array;
}

export function partBuffer(): PartBuffer {
  const pending: Uint8Array[] = [];
  let held = 0;
  return {
    get bytes() {
      return held;
    },
    push(chunk) {
      if (chunk.byteLength === 0) return;
      pending.push(chunk);
      held += chunk.byteLength;
    },
    take(bytes = held) {
      const want = Math.min(bytes, held);
      const out = new Uint8Array(want);
      let filled = 0;
      while (filled < want) {
        const head = pending[0]!;
        const take = Math.min(head.byteLength, want - filled);
        out.set(head.subarray(0, take), filled);
        filled += take;
        if (take === head.byteLength) pending.shift();
        else pending[0] = head.subarray(take);
      }
      held -= want;
      return out;
    },
  };
}
