// The control plane's persistence contract: a revisioned key-value log. Two implementations honour it
// (embedded SQLite, the default; etcd v3 for clusters) and pass one shared contract test suite.
// Keys are strings such as `/registry/pods/default/web-1`; values are opaque bytes (JSON text of the
// object, written by the API server). Every successful write bumps the store-wide revision by one.

import { NodeError } from '../../common/errors.ts';

export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  /** Revision at which the key was created (in its current life: a delete then create starts anew). */
  readonly createRevision: number;
  /** Revision of the last write to this key: the object's resourceVersion. */
  readonly modRevision: number;
}

export interface ListOptions {
  /** Keys strictly greater than this one (for limit/continue paging). */
  readonly startAfter?: string;
  readonly limit?: number;
  /** Read as of this revision; 0/undefined = the latest. May fail `compacted`. */
  readonly revision?: number;
}

export interface ListResult {
  readonly items: readonly KeyValue[];
  /** The revision the list was read at (the list's resourceVersion). */
  readonly revision: number;
  /** True when `limit` cut the list short. */
  readonly more: boolean;
}

export type WatchEvent =
  | { readonly type: 'put'; readonly kv: KeyValue; readonly prevKv?: KeyValue }
  | { readonly type: 'delete'; readonly kv: KeyValue; readonly prevKv: KeyValue };

export interface Watch {
  stop(): void;
}

export interface WatchOptions {
  /** Deliver every event with modRevision > afterRevision, then live events, in revision order. */
  readonly afterRevision: number;
  readonly onEvent: (event: WatchEvent) => void;
  /** Called once when the watch cannot go on (e.g. `compacted`, store closed); no events follow. */
  readonly onError: (err: StoreError) => void;
}

export interface Store {
  get(key: string): Promise<KeyValue | undefined>;
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** Fails `conflict` (code 'exists') if the key exists. */
  create(key: string, value: Uint8Array): Promise<KeyValue>;
  /** Fails `notFound` if absent, `conflict` if expectedModRevision is given and differs. */
  update(key: string, value: Uint8Array, expectedModRevision?: number): Promise<KeyValue>;
  /** Returns the deleted pair. Fails `notFound` if absent, `conflict` on a revision mismatch. */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>;
  watch(prefix: string, opts: WatchOptions): Watch;
  currentRevision(): Promise<number>;
  /** Forget history at or below `revision`; later watches/lists from there fail `compacted`. */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}

export type StoreErrorKind = 'conflict' | 'exists' | 'notFound' | 'compacted' | 'unavailable' | 'closed';

export class StoreError extends NodeError {
  readonly kind: StoreErrorKind;
  constructor(kind: StoreErrorKind, message: string, options?: { cause?: unknown }) {
    super(`store-${kind}`, message, options);
    this.kind = kind;
  }
}

export function isStoreError(err: unknown, kind: StoreErrorKind): err is StoreError {
  return err instanceof StoreError && err.kind === kind;
}
