/**
 * A blob store behind a circuit breaker (src/delivery/breakers.ts): once the store failed `failures` times in a row,
 * its calls fail at once with StoreUnavailableError (503 to a client, a retried failure for a job) until a trial call
 * succeeds, instead of every request and attempt waiting on a store that is down. Readiness lists the open breaker.
 *
 * Only the store's own failures count. A write can fail because of what it was given (a client's upload cut off, a
 * body over its limit, a create-only key taken) or because there is no room (StorageFullError, which has its own answer): those pass through
 * without counting, so no client can open the breaker for everyone by sending broken uploads.
 */
import { BreakerOpenError, type Breaker } from '../delivery/breakers.js';
import { BlobExistsError, BlobTooLargeError, StorageFullError, type BlobStore } from './blob-store.js';

export class StoreUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('blob storage is unavailable', options);
    this.name = 'StoreUnavailableError';
  }
}

/** Not the store's fault: carried through the breaker as a result, thrown again outside it. */
class NotTheStore {
  constructor(readonly error: unknown) {}
}

export function guardedBlobStore(store: BlobStore, breaker: Breaker): BlobStore {
  async function guarded<T>(call: () => Promise<T>): Promise<T> {
    let result: T | NotTheStore;
    try {
      result = await breaker.run(async () => {
        try {
          return await call();
        } catch (error) {
          if (error instanceof NotTheStore) return error;
          if (error instanceof BlobTooLargeError || error instanceof StorageFullError || error instanceof BlobExistsError) return new NotTheStore(error);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof BreakerOpenError) throw new StoreUnavailableError({ cause: error });
      throw error;
    }
    if (result instanceof NotTheStore) throw result.error;
    return result;
  }

  return {
    put(key, body, options) {
      // A read of the body that fails is the sender's doing, not the store's.
      let senderFailed: unknown = null;
      const reader = body.getReader();
      const watched = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          } catch (error) {
            senderFailed = error;
            controller.error(error);
          }
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return guarded(async () => {
        try {
          return await store.put(key, watched, options);
        } catch (error) {
          if (senderFailed !== null) throw new NotTheStore(error);
          throw error;
        }
      });
    },
    get: (key, range) => guarded(() => store.get(key, range)),
    head: (key) => guarded(() => store.head(key)),
    delete: (key) => guarded(() => store.delete(key)),
    check: (signal) => guarded(() => store.check(signal)),
  };
}
