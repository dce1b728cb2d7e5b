/**
 * audit #26: the breaker around a blob store (src/storage/guarded.ts), on a real local store whose root is made
 * unusable (a file where its directory was: every operation fails, whoever runs the test): consecutive store
 * failures open it, and then calls fail at once as StoreUnavailableError; a broken upload (the sender's fault) never
 * counts; the store is tried again after the open time and the breaker closes when it answers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBreakers } from '../../../src/delivery/breakers.js';
import { createLocalBlobStore } from '../../../src/storage/local.js';
import { guardedBlobStore, StoreUnavailableError } from '../../../src/storage/guarded.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffedge-guarded-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const bytes = (text: string) => new Blob([text]).stream();
const broken = () =>
  new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(new Error('the client went away'));
    },
  });

describe('a blob store behind a breaker', () => {
  it('opens after consecutive failures of the store, fails fast while open, and closes once the store answers again', async () => {
    const root = join(dir, 'blobs');
    const breakers = createBreakers({ failures: 3, openMs: 200 });
    const store = guardedBlobStore(createLocalBlobStore(root), breakers.get('blobs'));
    await store.put('a/b', bytes('ok'));
    expect(breakers.open()).toEqual([]);

    // Broken uploads are the senders' doing: any number of them leaves the breaker closed.
    for (let i = 0; i < 5; i++) await expect(store.put('a/c', broken())).rejects.toThrow();
    expect(breakers.open()).toEqual([]);

    await rm(root, { recursive: true });
    await writeFile(root, 'not a directory');
    for (let i = 0; i < 3; i++) await expect(store.put('a/e', bytes('x'))).rejects.not.toBeInstanceOf(StoreUnavailableError);
    expect(breakers.open()).toEqual([{ name: 'blobs', state: 'open' }]);
    await expect(store.get('a/b')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.put('a/d', bytes('x'))).rejects.toBeInstanceOf(StoreUnavailableError);

    await rm(root);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await store.head('a/b')).toBeNull();
    expect(breakers.open()).toEqual([]);
  });
});
