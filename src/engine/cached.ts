/**
 * A lazily started promise kept while it succeeds and forgotten when it fails, so that, say, a binary installed
 * after a failed capability listing is found on the next call.
 */
export function cachedUntilFailure<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    if (!pending) {
      pending = load();
      pending.catch(() => {
        pending = null;
      });
    }
    return pending;
  };
}
