// Watch: turn store events under a resource prefix into Kubernetes watch events for one client.
// rv unset/0 → list current matches as ADDED, then changes after the list's revision; rv N → every
// change after N (the store replays its log); compacted → one ERROR event with 410 Expired. Selector
// transitions become ADDED (entering) and DELETED (leaving). Bookmarks on request.

import type { Store, WatchEvent as StoreWatchEvent, Watch } from '../store/types.ts';
import { listPrefix, apiVersionOf, type ResourceInfo } from './resources.ts';
import { decodeObject, selectorMatches, isObj, type Obj, type Registry } from './registry.ts';
import type { FieldSelector, LabelSelector } from './selectors.ts';
import { buildFailureStatus } from './errors.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ApiWatchEvent {
  readonly type: WatchEventType;
  readonly object: Obj;
}

export interface WatchRequest {
  readonly info: ResourceInfo;
  readonly namespace: string | undefined;
  readonly labels: LabelSelector;
  readonly fields: FieldSelector;
  /** undefined or '0' = start with the current state. */
  readonly resourceVersion: string | undefined;
  readonly allowBookmarks: boolean;
  readonly sendInitialEvents: boolean;
  readonly bookmarkIntervalMs: number;
}

export interface WatchSink {
  send(event: ApiWatchEvent): void;
  /** The watch ended from the server side (ERROR sent, store closed). */
  end(): void;
}

interface DecodedEvent {
  readonly cur: Obj;
  prev?: Obj | null;
}

/**
 * Decoded objects per store event. The store hands the same event object to every watcher of a
 * prefix, so a hundred watchers parse each write once, not a hundred times. Consumers never mutate.
 */
const decodedEvents = new WeakMap<StoreWatchEvent, DecodedEvent>();

function decodeEvent(ev: StoreWatchEvent): DecodedEvent {
  let d = decodedEvents.get(ev);
  if (d === undefined) {
    d = ev.type === 'delete' ? { cur: decodeObject(ev.prevKv, ev.kv.modRevision) } : { cur: decodeObject(ev.kv) };
    decodedEvents.set(ev, d);
  }
  return d;
}

function previousObject(ev: StoreWatchEvent, d: DecodedEvent): Obj | undefined {
  if (d.prev === undefined) d.prev = ev.type === 'put' && ev.prevKv !== undefined ? decodeObject(ev.prevKv) : null;
  return d.prev ?? undefined;
}

/** Classify one store event for a selection; undefined = the client need not hear of it. */
export function classifyEvent(info: ResourceInfo, ev: StoreWatchEvent, q: { labels: LabelSelector; fields: FieldSelector }): ApiWatchEvent | undefined {
  const d = decodeEvent(ev);
  const everything = q.labels.length === 0 && q.fields.length === 0;
  if (ev.type === 'delete') return everything || selectorMatches(info, d.cur, q) ? { type: 'DELETED', object: d.cur } : undefined;
  const isNew = ev.kv.createRevision === ev.kv.modRevision;
  if (everything) return { type: isNew ? 'ADDED' : 'MODIFIED', object: d.cur };
  const nowMatches = selectorMatches(info, d.cur, q);
  if (isNew) return nowMatches ? { type: 'ADDED', object: d.cur } : undefined;
  const prev = previousObject(ev, d);
  const wasMatching = prev === undefined ? nowMatches : selectorMatches(info, prev, q);
  if (wasMatching && nowMatches) return { type: 'MODIFIED', object: d.cur };
  if (!wasMatching && nowMatches) return { type: 'ADDED', object: d.cur };
  if (wasMatching && !nowMatches) return { type: 'DELETED', object: d.cur };
  return undefined;
}

function bookmark(info: ResourceInfo, revision: number, initialEnd = false): ApiWatchEvent {
  const metadata: Obj = { resourceVersion: String(revision) };
  if (initialEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
  return { type: 'BOOKMARK', object: { kind: info.kind, apiVersion: apiVersionOf(info), metadata } };
}

function expiredEvent(message: string): ApiWatchEvent {
  return { type: 'ERROR', object: buildFailureStatus(410, 'Expired', message) as unknown as Obj };
}

/** Start a watch; returns stop(). Events go to the sink in revision order. */
export async function startWatch(store: Store, registry: Registry, req: WatchRequest, sink: WatchSink): Promise<() => void> {
  const { info } = req;
  const q = { labels: req.labels, fields: req.fields };
  let lastRevision: number;
  const rv = req.resourceVersion;
  const fromCurrent = rv === undefined || rv === '' || rv === '0' || req.sendInitialEvents;
  if (!fromCurrent && !/^\d+$/.test(rv)) {
    sink.send({ type: 'ERROR', object: buildFailureStatus(400, 'BadRequest', `invalid resource version: ${rv}`) as unknown as Obj });
    sink.end();
    return () => {};
  }
  if (fromCurrent) {
    const list = await registry.list(info, req.namespace, { labels: req.labels, fields: req.fields });
    for (const o of list.items) sink.send({ type: 'ADDED', object: o });
    lastRevision = Number(list.resourceVersion);
    if (req.sendInitialEvents && req.allowBookmarks) sink.send(bookmark(info, lastRevision, true));
  } else {
    lastRevision = Number(rv);
  }
  let stopped = false;
  let watch: Watch | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    watch?.stop();
    if (timer !== undefined) clearInterval(timer);
  };
  watch = store.watch(listPrefix(info, req.namespace), {
    afterRevision: lastRevision,
    onEvent: (ev) => {
      if (stopped || ev.kv.modRevision <= lastRevision) return;
      lastRevision = ev.kv.modRevision;
      // A namespace prefix of `/registry/x/` also covers cluster-scoped keys of other resources: never, keys are per resource.
      const out = classifyEvent(info, ev, q);
      if (out !== undefined) sink.send(out);
    },
    onError: (err) => {
      if (stopped) return;
      if (err.kind === 'compacted') sink.send(expiredEvent(`too old resource version: ${rv ?? lastRevision} (${err.message})`));
      else sink.send({ type: 'ERROR', object: buildFailureStatus(500, 'InternalError', `watch ${info.resource}: ${err.message}`) as unknown as Obj });
      stop();
      sink.end();
    },
  });
  if (req.allowBookmarks && req.bookmarkIntervalMs > 0) {
    timer = setInterval(() => {
      if (!stopped) sink.send(bookmark(info, lastRevision));
    }, req.bookmarkIntervalMs);
    timer.unref();
  }
  return stop;
}

export function isBookmark(o: unknown): boolean {
  return isObj(o) && o.type === 'BOOKMARK';
}
