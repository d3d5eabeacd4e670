// The control plane's persistence contract: a revisioned key-value log. Two implementations honour it
// (embedded SQLite, the default; etcd v3 for clusters) and pass one shared contract test suite.
// Keys are printable ASCII strings such as `/registry/pods/default/web-1`, ordered bytewise; values are
// UTF-8 bytes (JSON text of the object, written by the API server; anything else is a TypeError). Every successful write bumps the
// store-wide revision by one; a failed write changes nothing. `guaranteedUpdate` (update.ts) is the
// read-modify-write loop built on this interface.

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

/**
 * `put`: kv is the new pair; prevKv the pair it replaced (absent on a create, and when that older
 * revision has been compacted away). `delete`: kv holds the last value with modRevision set to the
 * deletion's revision (what a DELETED watch event reports as resourceVersion); prevKv is the pair as
 * it was before the delete.
 */
export type WatchEvent =
  | { readonly type: 'put'; readonly kv: KeyValue; readonly prevKv?: KeyValue }
  | { readonly type: 'delete'; readonly kv: KeyValue; readonly prevKv: KeyValue };

export interface Watch {
  stop(): void;
}

export interface WatchOptions {
  /**
   * Deliver every event with modRevision > afterRevision, then live events, in revision order, each
   * revision once. Fails `compacted` (through onError) when afterRevision is below the compaction
   * point. Use the revision of a list to follow it without a gap.
   */
  readonly afterRevision: number;
  /**
   * Never called before watch() returns. The SQLite store calls it synchronously from the write that
   * produced the event, so keep it cheap (queue, don't block).
   */
  readonly onEvent: (event: WatchEvent) => void;
  /** Called once when the watch cannot go on (`compacted`, `closed`, `unavailable`); no events follow. */
  readonly onError: (err: StoreError) => void;
}

export interface Store {
  get(key: string): Promise<KeyValue | undefined>;
  /**
   * Keys starting with `prefix` in key order. At a past revision fails `compacted` below the
   * compaction point; above the current revision fails `unavailable` (a future revision).
   */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** How many keys start with `prefix` now. */
  count(prefix: string): Promise<number>;
  /** Fails `exists` if the key exists. The result has createRevision === modRevision. */
  create(key: string, value: Uint8Array): Promise<KeyValue>;
  /** Fails `notFound` if absent, `conflict` if expectedModRevision is given and differs. */
  update(key: string, value: Uint8Array, expectedModRevision?: number): Promise<KeyValue>;
  /**
   * Returns the deleted pair: its last value, with modRevision set to the deletion's revision (as the
   * delete watch event). Fails `notFound` if absent, `conflict` on a revision mismatch.
   */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>;
  watch(prefix: string, opts: WatchOptions): Watch;
  currentRevision(): Promise<number>;
  /**
   * Forget history at or below `revision` (the latest value of each key at that point stays); later
   * lists below it and watches from below it fail `compacted`. Compacting at or below an earlier
   * compaction does nothing; above the current revision fails `unavailable`.
   */
  compact(revision: number): Promise<void>;
  /** Ends every watch with `closed`; later calls fail `closed`. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * conflict: a revision precondition failed; exists: create of a present key; notFound: update or
 * delete of an absent key; compacted: the revision asked for is gone; unavailable: the backend
 * failed (I/O, etcd down, deadline, future revision); closed: the store was closed.
 */
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
