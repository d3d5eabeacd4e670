// A Store that fails chosen calls, for tests of the layers above (rollback on a failed write, retry
// on conflict, 503 on unavailable): wrap any store and decide per call, from the operation, the key
// and how many calls of that operation came before, whether it fails and how.

import { StoreError, type KeyValue, type ListOptions, type ListResult, type Store, type Watch, type WatchOptions } from './types.ts';

export type StoreOp = 'get' | 'list' | 'count' | 'create' | 'update' | 'delete' | 'currentRevision' | 'compact';

/** `n` counts calls of this op from 1. Return an error to fail the call, undefined to pass it on. */
export type FaultPlan = (call: { readonly op: StoreOp; readonly key: string; readonly n: number }) => StoreError | undefined;

/** Fails the n-th call of `op` (and only it) with `kind`. */
export function failNth(op: StoreOp, n: number, kind: StoreError['kind'] = 'unavailable'): FaultPlan {
  return (call) => (call.op === op && call.n === n ? new StoreError(kind, `${op} ${call.key}: injected ${kind}`) : undefined);
}

export class FaultyStore implements Store {
  readonly #inner: Store;
  readonly #plan: FaultPlan;
  readonly #counts = new Map<StoreOp, number>();

  constructor(inner: Store, plan: FaultPlan) {
    this.#inner = inner;
    this.#plan = plan;
  }

  /** Calls seen so far, per operation. */
  calls(op: StoreOp): number {
    return this.#counts.get(op) ?? 0;
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.#call('get', key, () => this.#inner.get(key));
  }
  list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    return this.#call('list', prefix, () => this.#inner.list(prefix, opts));
  }
  count(prefix: string): Promise<number> {
    return this.#call('count', prefix, () => this.#inner.count(prefix));
  }
  create(key: string, value: Uint8Array): Promise<KeyValue> {
    return this.#call('create', key, () => this.#inner.create(key, value));
  }
  update(key: string, value: Uint8Array, expectedModRevision?: number): Promise<KeyValue> {
    return this.#call('update', key, () => this.#inner.update(key, value, expectedModRevision));
  }
  delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    return this.#call('delete', key, () => this.#inner.delete(key, expectedModRevision));
  }
  watch(prefix: string, opts: WatchOptions): Watch {
    return this.#inner.watch(prefix, opts);
  }
  currentRevision(): Promise<number> {
    return this.#call('currentRevision', '', () => this.#inner.currentRevision());
  }
  compact(revision: number): Promise<void> {
    return this.#call('compact', String(revision), () => this.#inner.compact(revision));
  }
  close(): Promise<void> {
    return this.#inner.close();
  }

  async #call<T>(op: StoreOp, key: string, fn: () => Promise<T>): Promise<T> {
    const n = (this.#counts.get(op) ?? 0) + 1;
    this.#counts.set(op, n);
    const err = this.#plan({ op, key, n });
    if (err !== undefined) throw err;
    return fn();
  }
}
