// The cluster store: the Store contract mapped onto etcd v3 through the `etcd3` client (the only
// importer of it). mod_revision is the resourceVersion; preconditions are txn compares on
// create_revision / mod_revision. Watches on one prefix share one etcd watch (a feed, with a short
// buffer of recent events for late joiners) and all etcd watches share one gRPC stream with our own
// watch ids; a broken stream is resumed from the last delivered revision, and etcd's compaction
// cancel becomes `compacted`. Works with etcd 3.4 (Debian's etcd-server) and later. Every unary call
// has a deadline.

import { performance } from 'node:perf_hooks';
import { ClientClosedError, Etcd3, type IDuplexStream, type IKeyValue, type IWatchRequest, type IWatchResponse } from 'etcd3';
import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import { Compactor } from './compactor.ts';
import { assertKey, assertPrefix, assertValue, hasPrefix, prefixEnd } from './keys.ts';
import {
  StoreError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from './types.ts';

export interface EtcdStoreOptions {
  /** `http://host:2379` or `https://...`, one per member. */
  readonly endpoints: readonly string[];
  readonly log?: Logger;
  /** PEM material for https endpoints with a private CA or client certificates. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** Deadline of every unary call (default 10 s). */
  readonly timeoutMs?: number;
  /** How long watches wait for etcd to come back before they end `unavailable` (default 30 s). */
  readonly watchRetryMs?: number;
  /** Compact every this many ms, keeping at least one interval of history (0 or absent: never). */
  readonly compactIntervalMs?: number;
}

/** Connects and checks etcd answers; fails `unavailable` if it does not within the deadline. */
export async function openEtcdStore(opts: EtcdStoreOptions): Promise<EtcdStore> {
  const store = new EtcdStore(opts);
  try {
    const revision = await store.currentRevision();
    store.log.debug({ endpoints: opts.endpoints, revision }, 'store opened');
  } catch (err) {
    await store.close();
    throw new StoreError('unavailable', `open store etcd ${opts.endpoints.join(',')}: ${errorMessage(err)}`, { cause: err });
  }
  return store;
}

export class EtcdStore implements Store {
  readonly log: Logger;
  readonly #client: Etcd3;
  readonly #watches: WatchMux;
  readonly #feeds: WatchFeeds;
  readonly #compactor: Compactor;
  #closed = false;

  constructor(opts: EtcdStoreOptions) {
    if (opts.endpoints.length === 0) throw new TypeError('open store etcd: no endpoints');
    this.log = opts.log ?? silentLogger();
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const tls = opts.tls;
    this.#client = new Etcd3({
      hosts: [...opts.endpoints],
      dialTimeout: timeoutMs,
      // No CA given: gRPC falls back to the system roots (the type wants a Buffer, undefined is allowed at run time).
      credentials: tls?.ca === undefined && tls?.cert === undefined ? undefined : { rootCertificate: tls.ca as Buffer, privateKey: tls.key, certChain: tls.cert },
      // etcd accepts pings no more often than every 5 s by default. A full list of 10,000 pods is
      // ~35 MB, far above gRPC's default 4 MiB receive limit: lift it, as the Kubernetes API server does.
      grpcOptions: { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000, 'grpc.max_receive_message_length': -1 },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    });
    this.#watches = new WatchMux({ client: this.#client, log: this.log, retryMs: opts.watchRetryMs ?? 30_000 });
    this.#feeds = new WatchFeeds({ mux: this.#watches, log: this.log });
    this.#compactor = new Compactor({ store: this, intervalMs: opts.compactIntervalMs ?? 0, log: this.log });
    this.#compactor.start();
  }

  async get(key: string): Promise<KeyValue | undefined> {
    assertKey(key);
    const res = await this.#call('get', key, () => this.#client.kv.range({ key: Buffer.from(key) }));
    return res.kvs.length === 0 ? undefined : toKeyValue(res.kvs[0]);
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    assertPrefix(prefix);
    const start = opts.startAfter !== undefined && opts.startAfter >= prefix ? `${opts.startAfter}\0` : prefix;
    const revision = opts.revision !== undefined && opts.revision > 0 ? opts.revision : 0;
    const res = await this.#call('list', prefix, () =>
      this.#client.kv.range({
        key: Buffer.from(start === '' ? '\0' : start),
        range_end: Buffer.from(prefixEnd(prefix) ?? '\0'),
        limit: opts.limit !== undefined && opts.limit > 0 ? opts.limit : 0,
        revision,
      }),
    );
    return { items: res.kvs.map(toKeyValue), revision: revision > 0 ? revision : Number(res.header.revision), more: res.more };
  }

  async count(prefix: string): Promise<number> {
    assertPrefix(prefix);
    const res = await this.#call('count', prefix, () =>
      this.#client.kv.range({ key: Buffer.from(prefix === '' ? '\0' : prefix), range_end: Buffer.from(prefixEnd(prefix) ?? '\0'), count_only: true }),
    );
    return Number(res.count);
  }

  async create(key: string, value: Uint8Array): Promise<KeyValue> {
    assertKey(key);
    assertValue(key, value);
    const k = Buffer.from(key);
    const v = toBuffer(value);
    const res = await this.#call('create', key, () =>
      this.#client.kv.txn({
        compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: k, value: v } }],
        failure: [],
      }),
    );
    if (!res.succeeded) throw new StoreError('exists', `create ${key}: exists`);
    const revision = Number(res.header.revision);
    return { key, value: v, createRevision: revision, modRevision: revision };
  }

  async update(key: string, value: Uint8Array, expectedModRevision?: number): Promise<KeyValue> {
    assertKey(key);
    assertValue(key, value);
    const k = Buffer.from(key);
    const v = toBuffer(value);
    const res = await this.#call('update', key, () =>
      this.#client.kv.txn({
        compare: preconditions(k, expectedModRevision),
        success: [{ request_put: { key: k, value: v, prev_kv: true } }],
        failure: [{ request_range: { key: k, keys_only: true } }],
      }),
    );
    if (!res.succeeded) throw preconditionError('update', key, expectedModRevision, res.responses[0]?.response_range?.kvs ?? []);
    const prev = res.responses[0].response_put.prev_kv;
    return { key, value: v, createRevision: Number(prev.create_revision), modRevision: Number(res.header.revision) };
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    assertKey(key);
    const k = Buffer.from(key);
    const res = await this.#call('delete', key, () =>
      this.#client.kv.txn({
        compare: preconditions(k, expectedModRevision),
        success: [{ request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k, keys_only: true } }],
      }),
    );
    if (!res.succeeded) throw preconditionError('delete', key, expectedModRevision, res.responses[0]?.response_range?.kvs ?? []);
    const prev = res.responses[0].response_delete_range.prev_kvs[0];
    return { ...toKeyValue(prev), modRevision: Number(res.header.revision) };
  }

  watch(prefix: string, opts: WatchOptions): Watch {
    assertPrefix(prefix);
    if (this.#closed) {
      queueMicrotask(() => opts.onError(new StoreError('closed', `watch ${prefix}: store closed`)));
      return { stop: () => {} };
    }
    return this.#feeds.watch(prefix, opts);
  }

  async currentRevision(): Promise<number> {
    const res = await this.#call('current revision', '', () => this.#client.kv.range({ key: Buffer.from([0]), count_only: true }));
    return Number(res.header.revision);
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.#call('compact', String(revision), () => this.#client.kv.compact({ revision }));
      this.log.info({ revision }, 'store compacted');
    } catch (err) {
      // Compacting at or below an earlier compaction is a no-op in our contract.
      if (!(err instanceof StoreError && err.kind === 'compacted')) throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#compactor.stop();
    this.#watches.close();
    this.#client.close();
  }

  /** Number of live watches (for metrics and tests). */
  get watchCount(): number {
    return this.#feeds.size;
  }

  /** Number of etcd watches behind them. */
  get etcdWatchCount(): number {
    return this.#watches.size;
  }

  /** One unary call: closed check, debug log with duration, etcd failures as StoreError. */
  async #call<T>(op: string, target: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreError('closed', `${op} ${target}: store closed`);
    const started = performance.now();
    try {
      const res = await fn();
      this.log.debug({ op, target, ms: performance.now() - started }, 'store call');
      return res;
    } catch (err) {
      this.log.debug({ op, target, ms: performance.now() - started, err: errorMessage(err) }, 'store call failed');
      throw toStoreError(`${op} ${target}`.trimEnd(), err, this.#closed);
    }
  }
}

/** The key exists and, if asked, was last written at expectedModRevision. */
function preconditions(k: Buffer, expectedModRevision: number | undefined) {
  const exists = { key: k, target: 'Create', result: 'Greater', create_revision: 0 } as const;
  if (expectedModRevision === undefined) return [exists];
  return [exists, { key: k, target: 'Mod', result: 'Equal', mod_revision: expectedModRevision } as const];
}

function preconditionError(op: string, key: string, expected: number | undefined, kvs: readonly IKeyValue[]): StoreError {
  if (kvs.length === 0) return new StoreError('notFound', `${op} ${key}: not found`);
  return new StoreError('conflict', `${op} ${key}: revision ${expected} is stale, current is ${kvs[0].mod_revision}`);
}

/** etcd's own words are matched here and nowhere else. */
export function toStoreError(what: string, err: unknown, closed = false): StoreError {
  if (err instanceof StoreError) return err;
  const message = errorMessage(err);
  if (message.includes('required revision has been compacted')) return new StoreError('compacted', `${what}: compacted`, { cause: err });
  if (message.includes('required revision is a future revision')) return new StoreError('unavailable', `${what}: future revision`, { cause: err });
  if (closed || err instanceof ClientClosedError) return new StoreError('closed', `${what}: store closed`, { cause: err });
  return new StoreError('unavailable', `${what}: ${message}`, { cause: err });
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function toKeyValue(kv: IKeyValue): KeyValue {
  return { key: kv.key.toString(), value: kv.value, createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision) };
}

/** etcd delete events carry an empty value; ours carry the last value with the delete's revision. */
export function toWatchEvent(type: 'Put' | 'Delete', kv: IKeyValue, prev: IKeyValue | undefined | null): WatchEvent {
  const prevKv = prev ? toKeyValue(prev) : undefined;
  if (type === 'Put') return prevKv === undefined ? { type: 'put', kv: toKeyValue(kv) } : { type: 'put', kv: toKeyValue(kv), prevKv };
  const key = kv.key.toString();
  const modRevision = Number(kv.mod_revision);
  const last: KeyValue = prevKv ?? { key, value: Buffer.alloc(0), createRevision: 0, modRevision: 0 };
  return { type: 'delete', kv: { ...last, modRevision }, prevKv: last };
}

type WatcherState = 'pending' | 'active' | 'stopped';

interface EtcdWatcher {
  /** Our id, sent as watch_id so responses need no attach queue. */
  readonly id: number;
  readonly prefix: string;
  readonly opts: WatchOptions;
  state: WatcherState;
  lastRevision: number;
}

/**
 * All watches of one store over one gRPC watch stream. A broken stream is reopened with backoff and
 * each watch re-created from its last delivered revision + 1; events at or below it are dropped.
 */
class WatchMux {
  readonly #client: Etcd3;
  readonly #log: Logger;
  readonly #retryMs: number;
  readonly #watchers = new Map<number, EtcdWatcher>();
  #nextId = 1;
  #stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  #connecting = false;
  #closed = false;
  #downSince: number | undefined;
  #backoffMs = 100;

  constructor(opts: { client: Etcd3; log: Logger; retryMs: number }) {
    this.#client = opts.client;
    this.#log = opts.log;
    this.#retryMs = opts.retryMs;
  }

  get size(): number {
    return this.#watchers.size;
  }

  add(prefix: string, opts: WatchOptions): Watch {
    const w: EtcdWatcher = { id: this.#nextId++, prefix, opts, state: 'pending', lastRevision: opts.afterRevision };
    this.#watchers.set(w.id, w);
    if (this.#stream !== undefined) this.#sendCreate(this.#stream, w);
    else this.#connect();
    return { stop: () => this.#stop(w) };
  }

  close(): void {
    this.#closed = true;
    for (const w of [...this.#watchers.values()]) this.#fail(w, new StoreError('closed', `watch ${w.prefix}: store closed`));
    this.#stream?.cancel();
    this.#stream = undefined;
  }

  #connect(): void {
    if (this.#connecting || this.#closed) return;
    this.#connecting = true;
    this.#client.watchClient.watch().then(
      (stream) => {
        this.#connecting = false;
        if (this.#closed) {
          stream.cancel();
          return;
        }
        this.#stream = stream;
        stream.on('data', (res) => this.#onResponse(stream, res));
        stream.on('error', (err) => this.#onBroken(stream, err));
        stream.on('end', () => this.#onBroken(stream, new Error('watch stream ended')));
        for (const w of this.#watchers.values()) this.#sendCreate(stream, w);
      },
      (err: unknown) => {
        this.#connecting = false;
        this.#onBroken(undefined, err);
      },
    );
  }

  #sendCreate(stream: IDuplexStream<IWatchRequest, IWatchResponse>, w: EtcdWatcher): void {
    const end = prefixEnd(w.prefix);
    stream.write({
      create_request: {
        key: Buffer.from(w.prefix === '' ? '\0' : w.prefix),
        range_end: Buffer.from(end ?? '\0'),
        start_revision: w.lastRevision + 1,
        prev_kv: true,
        watch_id: w.id,
      },
    });
  }

  #onResponse(stream: IDuplexStream<IWatchRequest, IWatchResponse>, res: IWatchResponse): void {
    if (stream !== this.#stream) return;
    this.#downSince = undefined;
    this.#backoffMs = 100;
    const w = this.#watchers.get(Number(res.watch_id));
    if (w === undefined) {
      // Stopped before etcd confirmed it: cancel it now so etcd stops sending.
      if (res.created && !res.canceled) stream.write({ cancel_request: { watch_id: res.watch_id } });
      return;
    }
    if (res.canceled) {
      const compactRevision = Number(res.compact_revision ?? 0);
      if (compactRevision > 0) {
        this.#fail(w, new StoreError('compacted', `watch ${w.prefix} from revision ${w.lastRevision}: compacted, history starts after revision ${compactRevision}`));
      } else {
        this.#fail(w, new StoreError('unavailable', `watch ${w.prefix}: canceled by etcd: ${res.cancel_reason || 'no reason given'}`));
      }
      return;
    }
    if (res.created) w.state = 'active';
    for (const ev of res.events ?? []) {
      const revision = Number(ev.kv.mod_revision);
      if (revision <= w.lastRevision) continue;
      w.lastRevision = revision;
      try {
        w.opts.onEvent(toWatchEvent(ev.type, ev.kv, ev.prev_kv));
      } catch (err) {
        this.#log.error({ prefix: w.prefix, revision, err: errorMessage(err) }, 'watch consumer threw');
      }
      if (w.state === 'stopped') return;
    }
  }

  #onBroken(stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined, err: unknown): void {
    if (this.#closed || (stream !== undefined && stream !== this.#stream)) return;
    this.#stream = undefined;
    stream?.cancel();
    for (const w of this.#watchers.values()) w.state = 'pending';
    if (this.#watchers.size === 0) return; // the next add() reconnects
    const now = Date.now();
    this.#downSince ??= now;
    if (now - this.#downSince >= this.#retryMs) {
      const failure = new StoreError('unavailable', `watch: etcd unreachable for ${now - this.#downSince} ms: ${errorMessage(err)}`, { cause: err });
      for (const w of [...this.#watchers.values()]) this.#fail(w, failure);
      this.#downSince = undefined;
      return;
    }
    this.#log.warn({ watches: this.#watchers.size, retryInMs: this.#backoffMs, err: errorMessage(err) }, 'watch stream broken, reconnecting');
    setTimeout(() => this.#connect(), this.#backoffMs).unref();
    this.#backoffMs = Math.min(this.#backoffMs * 2, 2000);
  }

  #stop(w: EtcdWatcher): void {
    if (w.state === 'stopped') return;
    const wasActive = w.state === 'active';
    w.state = 'stopped';
    this.#watchers.delete(w.id);
    if (wasActive && this.#stream !== undefined) this.#stream.write({ cancel_request: { watch_id: w.id } });
  }

  #fail(w: EtcdWatcher, err: StoreError): void {
    if (w.state === 'stopped') return;
    this.#stop(w);
    try {
      w.opts.onError(err);
    } catch (cbErr) {
      this.#log.error({ prefix: w.prefix, err: errorMessage(cbErr) }, 'watch error consumer threw');
    }
  }
}

/** Recent events a feed keeps so that a watch starting a little in the past can join it. */
const FEED_BUFFER = 1000;

type MemberState = 'joining' | 'live' | 'stopped';

interface FeedMember {
  readonly prefix: string;
  readonly opts: WatchOptions;
  state: MemberState;
  lastRevision: number;
}

/**
 * One etcd watch per feed, fanned out in-process: without it, 100 watchers of /registry/pods/ would
 * make etcd send, and this process decode, every event 100 times. A watch joins a feed whose prefix
 * covers its own and whose buffer reaches back to its revision; otherwise it starts a new feed there.
 */
class WatchFeeds {
  readonly #mux: WatchMux;
  readonly #log: Logger;
  readonly #feeds = new Set<Feed>();

  constructor(opts: { mux: WatchMux; log: Logger }) {
    this.#mux = opts.mux;
    this.#log = opts.log;
  }

  get size(): number {
    let n = 0;
    for (const f of this.#feeds) n += f.size;
    return n;
  }

  watch(prefix: string, opts: WatchOptions): Watch {
    const member: FeedMember = { prefix, opts, state: 'joining', lastRevision: opts.afterRevision };
    let feed: Feed | undefined;
    for (const f of this.#feeds) {
      if (f.covers(prefix, opts.afterRevision) && (feed === undefined || f.prefix.length > feed.prefix.length)) feed = f;
    }
    if (feed === undefined) {
      feed = new Feed({ prefix, afterRevision: opts.afterRevision, mux: this.#mux, log: this.#log, onEmpty: (f) => this.#feeds.delete(f) });
      this.#feeds.add(feed);
    }
    const joined = feed;
    joined.join(member);
    return { stop: () => joined.leave(member) };
  }
}

class Feed {
  readonly prefix: string;
  readonly #members = new Set<FeedMember>();
  readonly #log: Logger;
  readonly #onEmpty: (feed: Feed) => void;
  readonly #handle: Watch;
  /** Ascending; every event of the prefix after #floor is here. */
  readonly #buffer: WatchEvent[] = [];
  #floor: number;
  #failed = false;

  constructor(opts: { prefix: string; afterRevision: number; mux: WatchMux; log: Logger; onEmpty: (feed: Feed) => void }) {
    this.prefix = opts.prefix;
    this.#floor = opts.afterRevision;
    this.#log = opts.log;
    this.#onEmpty = opts.onEmpty;
    this.#handle = opts.mux.add(opts.prefix, {
      afterRevision: opts.afterRevision,
      onEvent: (ev) => this.#onEvent(ev),
      onError: (err) => this.#onError(err),
    });
  }

  get size(): number {
    return this.#members.size;
  }

  covers(prefix: string, afterRevision: number): boolean {
    return !this.#failed && prefix.startsWith(this.prefix) && afterRevision >= this.#floor;
  }

  /** Replays the buffer past the member's revision on a microtask, then the member is live. */
  join(member: FeedMember): void {
    this.#members.add(member);
    queueMicrotask(() => {
      if (member.state !== 'joining') return;
      for (const ev of this.#buffer) {
        if (member.state !== 'joining') return;
        this.#deliver(member, ev);
      }
      if (member.state === 'joining') member.state = 'live';
    });
  }

  leave(member: FeedMember): void {
    if (member.state === 'stopped') return;
    member.state = 'stopped';
    this.#members.delete(member);
    if (this.#members.size === 0) this.#close();
  }

  #onEvent(ev: WatchEvent): void {
    this.#buffer.push(ev);
    if (this.#buffer.length > FEED_BUFFER) this.#floor = this.#buffer.shift()!.kv.modRevision;
    for (const m of this.#members) {
      // A joining member gets this event from the buffer replay.
      if (m.state === 'live') this.#deliver(m, ev);
    }
  }

  #deliver(m: FeedMember, ev: WatchEvent): void {
    if (ev.kv.modRevision <= m.lastRevision || !hasPrefix(ev.kv.key, m.prefix)) return;
    m.lastRevision = ev.kv.modRevision;
    try {
      m.opts.onEvent(ev);
    } catch (err) {
      this.#log.error({ prefix: m.prefix, revision: ev.kv.modRevision, err: errorMessage(err) }, 'watch consumer threw');
    }
  }

  #onError(err: StoreError): void {
    this.#failed = true;
    this.#onEmpty(this);
    for (const m of [...this.#members]) {
      m.state = 'stopped';
      try {
        m.opts.onError(err);
      } catch (cbErr) {
        this.#log.error({ prefix: m.prefix, err: errorMessage(cbErr) }, 'watch error consumer threw');
      }
    }
    this.#members.clear();
  }

  #close(): void {
    this.#failed = true;
    this.#onEmpty(this);
    this.#handle.stop();
  }
}
