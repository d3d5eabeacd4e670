// Informers: a local cache of one resource kept current by list + watch, with event handlers,
// indexes and a periodic resync. The reflector loop lists, watches from the list's resourceVersion,
// resumes from the last seen version when a watch ends, relists at once on `expired` (410) and backs
// off on other failures. A relist is diffed against the cache so handlers see adds, updates and
// deletes as if they had watched. Cached objects are shared: handlers and readers must not mutate
// them (clone first).
//
// InformerFactory shares one informer per (resource, namespace, selectors) among all controllers of
// a process, so the API server sends each change once.

import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../common/log.ts';
import { KeyedBackoff } from '../../common/backoff.ts';
import type { ApiClient, WatchStream } from './client.ts';
import { isExpired } from './errors.ts';
import { objectKey, type Resource } from './resources.ts';
import type { KubeList, KubeObject } from './types.ts';

export interface ListWatcher<T extends KubeObject> {
  list(): Promise<KubeList<T>>;
  watch(opts: { resourceVersion: string; timeoutSeconds: number }): Promise<WatchStream<T>>;
}

export interface ListWatchSelection {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export function listWatcherFor<T extends KubeObject>(client: ApiClient, r: Resource<T>, sel: ListWatchSelection = {}): ListWatcher<T> {
  return {
    list: () => client.listAll(r, { namespace: sel.namespace, labelSelector: sel.labelSelector, fieldSelector: sel.fieldSelector }),
    watch: (opts) => client.watch(r, { ...sel, resourceVersion: opts.resourceVersion, timeoutSeconds: opts.timeoutSeconds, allowBookmarks: true }),
  };
}

export interface EventHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export type IndexFunc<T> = (obj: T) => readonly string[];

export interface InformerOptions<T extends KubeObject> {
  readonly name: string;
  readonly listWatcher: ListWatcher<T>;
  readonly log?: Logger;
  /** Every this often handlers get onUpdate(obj, obj) for every cached object; 0 = never. */
  readonly resyncPeriodMs?: number;
  readonly indexers?: Readonly<Record<string, IndexFunc<T>>>;
  /** Retry delays after failures (doubling): default 250 ms up to 30 s. */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Server-side watch timeout range, seconds; default 300..600 (kubectl's). */
  readonly watchTimeoutSeconds?: readonly [number, number];
}

export class Informer<T extends KubeObject> {
  readonly name: string;
  readonly #lw: ListWatcher<T>;
  readonly #log: Logger;
  readonly #resyncMs: number;
  readonly #indexers: Record<string, IndexFunc<T>> = {};
  readonly #items = new Map<string, T>();
  readonly #indices = new Map<string, Map<string, Set<string>>>();
  readonly #handlers: EventHandler<T>[] = [];
  readonly #backoff: KeyedBackoff;
  readonly #watchTimeout: readonly [number, number];
  readonly #abort = new AbortController();
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #stream: WatchStream<T> | undefined;
  #running: Promise<void> | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #resourceVersion = '';
  #stopped = false;
  #relists = 0;

  constructor(opts: InformerOptions<T>) {
    this.name = opts.name;
    this.#lw = opts.listWatcher;
    this.#log = (opts.log ?? silentLogger()).child({ informer: opts.name });
    this.#resyncMs = opts.resyncPeriodMs ?? 0;
    for (const [name, fn] of Object.entries(opts.indexers ?? {})) this.addIndexer(name, fn);
    this.#backoff = new KeyedBackoff({ initialMs: opts.backoffInitialMs ?? 250, maxMs: opts.backoffMaxMs ?? 30_000, jitter: 0.2 });
    this.#watchTimeout = opts.watchTimeoutSeconds ?? [300, 600];
  }

  /** Register handlers. Objects already cached are replayed as adds, as client-go does. */
  addHandler(h: EventHandler<T>): void {
    this.#handlers.push(h);
    if (this.#synced && h.onAdd !== undefined) for (const o of this.#items.values()) this.#call(() => h.onAdd!(o));
  }

  /** Add an index (a name already present keeps its first function). Existing objects are indexed now. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.#indexers[name] !== undefined) return;
    this.#indexers[name] = fn;
    const idx = new Map<string, Set<string>>();
    this.#indices.set(name, idx);
    for (const [key, o] of this.#items) {
      for (const v of fn(o)) {
        let set = idx.get(v);
        if (set === undefined) idx.set(v, (set = new Set()));
        set.add(key);
      }
    }
  }

  start(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#run();
    if (this.#resyncMs > 0) {
      this.#resyncTimer = setInterval(() => this.#resync(), this.#resyncMs);
      this.#resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    if (this.#resyncTimer !== undefined) clearInterval(this.#resyncTimer);
    this.#stream?.close();
    await this.#running;
    for (const w of this.#syncWaiters.splice(0)) w();
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves after the first complete list (or when stopped). */
  waitForSync(): Promise<void> {
    if (this.#synced || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /** The last resourceVersion seen (list or event). */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** How many times the informer listed (1 after start, more after 410s). */
  get relists(): number {
    return this.#relists;
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.#items.get(namespace === undefined || namespace === '' ? name : `${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.#items.values()];
  }

  keys(): string[] {
    return [...this.#items.keys()];
  }

  /** Objects whose index function `index` returned `value`. */
  byIndex(index: string, value: string): T[] {
    const idx = this.#indices.get(index);
    if (idx === undefined) throw new Error(`informer ${this.name}: unknown index ${index}`);
    const keys = idx.get(value);
    if (keys === undefined) return [];
    const out: T[] = [];
    for (const k of keys) {
      const o = this.#items.get(k);
      if (o !== undefined) out.push(o);
    }
    return out;
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'event handler failed');
    }
  }

  #index(key: string, o: T | undefined, add: boolean): void {
    if (o === undefined) return;
    for (const [name, fn] of Object.entries(this.#indexers)) {
      const idx = this.#indices.get(name)!;
      for (const v of fn(o)) {
        let set = idx.get(v);
        if (add) {
          if (set === undefined) idx.set(v, (set = new Set()));
          set.add(key);
        } else if (set !== undefined) {
          set.delete(key);
          if (set.size === 0) idx.delete(v);
        }
      }
    }
  }

  #set(o: T): void {
    const key = objectKey(o);
    const old = this.#items.get(key);
    this.#index(key, old, false);
    this.#items.set(key, o);
    this.#index(key, o, true);
    if (old === undefined) for (const h of this.#handlers) { if (h.onAdd !== undefined) this.#call(() => h.onAdd!(o)); }
    else for (const h of this.#handlers) { if (h.onUpdate !== undefined) this.#call(() => h.onUpdate!(old, o)); }
  }

  #remove(key: string, last: T): void {
    const old = this.#items.get(key);
    if (old === undefined) return;
    this.#index(key, old, false);
    this.#items.delete(key);
    for (const h of this.#handlers) if (h.onDelete !== undefined) this.#call(() => h.onDelete!(last));
  }

  /** A relist: what is new or changed is added/updated, what vanished is deleted. */
  #replace(items: readonly T[]): void {
    const seen = new Set<string>();
    for (const o of items) {
      const key = objectKey(o);
      seen.add(key);
      const old = this.#items.get(key);
      if (old !== undefined && old.metadata.resourceVersion === o.metadata.resourceVersion) continue;
      this.#set(o);
    }
    for (const [key, o] of [...this.#items]) if (!seen.has(key)) this.#remove(key, o);
  }

  #resync(): void {
    if (!this.#synced) return;
    for (const o of this.#items.values()) {
      for (const h of this.#handlers) if (h.onUpdate !== undefined) this.#call(() => h.onUpdate!(o, o));
    }
  }

  async #pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#abort.signal });
    } catch {
      // aborted by stop(): the loop checks #stopped next
    }
  }

  async #run(): Promise<void> {
    let needList = true;
    while (!this.#stopped) {
      let events = 0;
      const started = Date.now();
      try {
        if (needList) {
          const list = await this.#lw.list();
          if (this.#stopped) break;
          this.#relists++;
          this.#replace(list.items);
          this.#resourceVersion = list.metadata.resourceVersion ?? '';
          needList = false;
          if (!this.#synced) {
            this.#synced = true;
            for (const w of this.#syncWaiters.splice(0)) w();
          }
        }
        const [lo, hi] = this.#watchTimeout;
        const stream = await this.#lw.watch({ resourceVersion: this.#resourceVersion, timeoutSeconds: Math.round(lo + Math.random() * (hi - lo)) });
        this.#stream = stream;
        if (this.#stopped) { stream.close(); break; }
        for await (const ev of stream) {
          if (this.#stopped) break;
          events++;
          const rv = ev.object.metadata?.resourceVersion;
          if (typeof rv === 'string' && rv !== '') this.#resourceVersion = rv;
          switch (ev.type) {
            case 'BOOKMARK': break;
            case 'ADDED': case 'MODIFIED': this.#set(ev.object); break;
            case 'DELETED': this.#remove(objectKey(ev.object), ev.object); break;
            default: break;
          }
        }
        this.#stream = undefined;
        // A watch that ends at once and empty, again and again, is a failing server: slow down.
        if (events === 0 && Date.now() - started < 1000) await this.#pause(this.#backoff.next('watch'));
        else this.#backoff.reset('watch');
      } catch (err) {
        this.#stream = undefined;
        if (this.#stopped) break;
        if (isExpired(err)) {
          this.#log.info({ resourceVersion: this.#resourceVersion }, 'watch expired, relisting');
          needList = true;
          continue;
        }
        const delayMs = this.#backoff.next('watch');
        this.#log.warn({ err: (err as Error).message, delayMs, listing: needList }, 'list/watch failed, will retry');
        await this.#pause(delayMs);
      }
    }
  }
}

/** Key for an informer in the factory. */
function selectionKey(r: Resource, sel: ListWatchSelection): string {
  return [r.group, r.version, r.plural, sel.namespace ?? '', sel.labelSelector ?? '', sel.fieldSelector ?? ''].join('|');
}

/** One informer per resource and selection for the whole process. */
export class InformerFactory {
  readonly #client: ApiClient;
  readonly #log: Logger;
  readonly #resyncMs: number;
  readonly #informers = new Map<string, Informer<KubeObject>>();
  #started = false;

  constructor(opts: { client: ApiClient; log?: Logger; resyncPeriodMs?: number }) {
    this.#client = opts.client;
    this.#log = opts.log ?? silentLogger();
    this.#resyncMs = opts.resyncPeriodMs ?? 0;
  }

  /** The shared informer; each caller's indexers are added to it. */
  informerFor<T extends KubeObject>(r: Resource<T>, sel: ListWatchSelection = {}, indexers: Readonly<Record<string, IndexFunc<T>>> = {}): Informer<T> {
    const key = selectionKey(r as Resource, sel);
    let inf = this.#informers.get(key) as Informer<T> | undefined;
    if (inf === undefined) {
      inf = new Informer<T>({ name: `${r.plural}${sel.namespace === undefined ? '' : `@${sel.namespace}`}`, listWatcher: listWatcherFor(this.#client, r, sel), log: this.#log, resyncPeriodMs: this.#resyncMs, indexers });
      this.#informers.set(key, inf as unknown as Informer<KubeObject>);
      if (this.#started) inf.start();
    } else {
      for (const [name, fn] of Object.entries(indexers)) inf.addIndexer(name, fn);
    }
    return inf;
  }

  start(): void {
    this.#started = true;
    for (const inf of this.#informers.values()) inf.start();
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
  }
}
