// Read-modify-write on top of any Store: read the pair, compute the new value, write it with the read
// revision as precondition, and on `conflict` read again and retry. The API server's update, patch
// and status paths use it; the store itself offers no transactions.

import { isStoreError, StoreError, type KeyValue, type Store } from './types.ts';

export interface GuaranteedUpdateOptions {
  /** A pair already read (e.g. from a cache): used for the first attempt instead of a get. */
  readonly current?: KeyValue;
  /** Attempts before the last `conflict` is returned to the caller (default 16). */
  readonly attempts?: number;
}

/**
 * `tryUpdate` receives the current pair and returns the new value, or throws to abort (its error is
 * passed through). Returning bytes equal to the current value writes nothing and returns the current
 * pair, as Kubernetes does for a no-op update. Fails `notFound` when the key is absent.
 */
export async function guaranteedUpdate(
  store: Pick<Store, 'get' | 'update'>,
  key: string,
  tryUpdate: (current: KeyValue) => Uint8Array | Promise<Uint8Array>,
  opts: GuaranteedUpdateOptions = {},
): Promise<KeyValue> {
  const attempts = opts.attempts ?? 16;
  let current = opts.current;
  for (let attempt = 1; ; attempt++) {
    current ??= await store.get(key);
    if (current === undefined) throw new StoreError('notFound', `update ${key}: not found`);
    const value = await tryUpdate(current);
    if (sameBytes(value, current.value)) return current;
    try {
      return await store.update(key, value, current.modRevision);
    } catch (err) {
      if (!isStoreError(err, 'conflict') || attempt >= attempts) throw err;
      current = undefined;
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}
