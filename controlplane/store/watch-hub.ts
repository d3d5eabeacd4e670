// In-process watch fan-out for stores whose writes all happen in this process (SQLite, memory).
// A watcher subscribes first, then replays history from its revision in pages read from the store's
// log, then follows live events; anything at or below the last revision it was sent is dropped, so
// each revision reaches it once and in order. Live events go through one queue, so a write made from
// inside an onEvent callback cannot overtake the event being delivered.

import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.ts';
import { hasPrefix } from './keys.ts';
import { StoreError, type Watch, type WatchEvent, type WatchOptions } from './types.ts';

/** Where replay reads history from; owned by the store. */
export interface ReplaySource {
  /** Events with revision > afterRevision whose key starts with prefix, ascending, at most `limit`. */
  readEvents(prefix: string, afterRevision: number, limit: number): WatchEvent[];
  /** Revision at or below which history is gone. */
  compactedRevision(): number;
  currentRevision(): number;
}

type WatcherState = 'replaying' | 'live' | 'stopped';

interface Watcher {
  readonly prefix: string;
  readonly opts: WatchOptions;
  state: WatcherState;
  /** Highest revision delivered (or the starting point). */
  lastRevision: number;
  /** Live events that arrived during replay. */
  pending: WatchEvent[];
}

const REPLAY_PAGE = 500;

export class WatchHub {
  readonly #watchers = new Set<Watcher>();
  readonly #source: ReplaySource;
  readonly #log: Logger;
  readonly #queue: WatchEvent[] = [];
  #draining = false;

  constructor(opts: { source: ReplaySource; log: Logger }) {
    this.#source = opts.source;
    this.#log = opts.log;
  }

  get size(): number {
    return this.#watchers.size;
  }

  /** Subscribe first; replay (if needed) starts on the next turn of the event loop. */
  watch(prefix: string, opts: WatchOptions): Watch {
    const w: Watcher = { prefix, opts, state: 'replaying', lastRevision: opts.afterRevision, pending: [] };
    this.#watchers.add(w);
    setImmediate(() => this.#replayPage(w));
    return { stop: () => this.#remove(w) };
  }

  /** Called by the store after each committed write. */
  publish(event: WatchEvent): void {
    this.#queue.push(event);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let i = 0; i < this.#queue.length; i++) {
        const ev = this.#queue[i];
        for (const w of this.#watchers) {
          if (!hasPrefix(ev.kv.key, w.prefix)) continue;
          if (w.state === 'live') this.#deliver(w, ev);
          else if (w.state === 'replaying') w.pending.push(ev);
        }
      }
    } finally {
      this.#queue.length = 0;
      this.#draining = false;
    }
  }

  /** End every watch with `err` (store closing). */
  failAll(err: StoreError): void {
    for (const w of [...this.#watchers]) this.#fail(w, err);
  }

  #replayPage(w: Watcher): void {
    if (w.state !== 'replaying') return;
    let events: WatchEvent[];
    try {
      const compacted = this.#source.compactedRevision();
      if (w.lastRevision < compacted) {
        this.#fail(w, new StoreError('compacted', `watch ${w.prefix} from revision ${w.lastRevision}: compacted, history starts after revision ${compacted}`));
        return;
      }
      events = w.lastRevision >= this.#source.currentRevision() ? [] : this.#source.readEvents(w.prefix, w.lastRevision, REPLAY_PAGE);
    } catch (err) {
      this.#fail(w, err instanceof StoreError ? err : new StoreError('unavailable', `watch ${w.prefix}: read history: ${errorMessage(err)}`, { cause: err }));
      return;
    }
    for (const ev of events) {
      if (w.state !== 'replaying') return;
      this.#deliver(w, ev);
    }
    if (events.length === REPLAY_PAGE) {
      // More history: yield so that a long replay does not hold the event loop.
      setImmediate(() => this.#replayPage(w));
      return;
    }
    // Caught up: everything committed so far is either delivered or in pending.
    const pending = w.pending;
    w.pending = [];
    for (const ev of pending) {
      if (w.state !== 'replaying') return;
      this.#deliver(w, ev);
    }
    if (w.state === 'replaying') w.state = 'live';
  }

  #deliver(w: Watcher, ev: WatchEvent): void {
    if (ev.kv.modRevision <= w.lastRevision) return;
    w.lastRevision = ev.kv.modRevision;
    try {
      w.opts.onEvent(ev);
    } catch (err) {
      // A consumer bug must not break the writer or the other watchers.
      this.#log.error({ prefix: w.prefix, revision: ev.kv.modRevision, err: errorMessage(err) }, 'watch consumer threw');
    }
  }

  #fail(w: Watcher, err: StoreError): void {
    if (w.state === 'stopped') return;
    this.#remove(w);
    try {
      w.opts.onError(err);
    } catch (cbErr) {
      this.#log.error({ prefix: w.prefix, err: errorMessage(cbErr) }, 'watch error consumer threw');
    }
  }

  #remove(w: Watcher): void {
    w.state = 'stopped';
    w.pending = [];
    this.#watchers.delete(w);
  }
}
