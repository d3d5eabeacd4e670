// Event recording (core/v1 Events, the ones kubectl describe and get events read): fire and forget,
// written in the background with little concurrency so they never hold up the work they describe.
// Repeats of the same (object, type, reason, message) within 10 minutes bump `count` and
// `lastTimestamp` of the existing event instead of creating another, as client-go's correlator does.
// When too many are pending, new ones are dropped and counted.

import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from './client.ts';
import { isNotFound } from './errors.ts';
import { EVENTS } from './resources.ts';
import type { CoreEvent, KubeObject } from './types.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  readonly client: ApiClient;
  /** `source.component` and `reportingComponent`: default-scheduler, replicaset-controller, ... */
  readonly component: string;
  readonly host?: string;
  readonly log?: Logger;
  readonly maxPending?: number;
  readonly concurrency?: number;
  readonly now?: () => number;
}

interface Pending {
  readonly key: string;
  readonly event: CoreEvent;
}

interface Seen {
  readonly namespace: string;
  readonly name: string;
  count: number;
  lastMs: number;
}

const AGGREGATE_WINDOW_MS = 10 * 60_000;

function timestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The API version of an object for involvedObject, from its own fields. */
function refOf(obj: KubeObject, fieldPath?: string): CoreEvent['involvedObject'] {
  return {
    kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, uid: obj.metadata.uid,
    apiVersion: obj.apiVersion, resourceVersion: obj.metadata.resourceVersion, ...(fieldPath === undefined ? {} : { fieldPath }),
  };
}

export class EventRecorder {
  readonly #client: ApiClient;
  readonly #component: string;
  readonly #host: string | undefined;
  readonly #log: Logger;
  readonly #maxPending: number;
  readonly #concurrency: number;
  readonly #now: () => number;
  readonly #pending: Pending[] = [];
  readonly #seen = new Map<string, Seen>();
  #active = 0;
  #dropped = 0;
  #idleWaiters: (() => void)[] = [];
  #stopped = false;
  #seq = 0;

  constructor(opts: EventRecorderOptions) {
    this.#client = opts.client;
    this.#component = opts.component;
    this.#host = opts.host;
    this.#log = (opts.log ?? silentLogger()).child({ events: opts.component });
    this.#maxPending = opts.maxPending ?? 1000;
    this.#concurrency = opts.concurrency ?? 2;
    this.#now = opts.now ?? Date.now;
  }

  /** Events dropped because too many were pending. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Record an event about `obj` (which needs kind, apiVersion, name, uid). Cluster-scoped objects get
   * their events in `default`, as upstream.
   */
  event(obj: KubeObject, type: EventType, reason: string, message: string, opts: { fieldPath?: string } = {}): void {
    if (this.#stopped) return;
    if (this.#pending.length >= this.#maxPending) {
      if (this.#dropped++ % 100 === 0) this.#log.warn({ dropped: this.#dropped, reason }, 'too many events pending, dropping');
      return;
    }
    const nowMs = this.#now();
    const namespace = obj.metadata.namespace !== undefined && obj.metadata.namespace !== '' ? obj.metadata.namespace : 'default';
    const ts = timestamp(nowMs);
    const event: CoreEvent = {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${String(obj.metadata.name)}.${(BigInt(nowMs) * 1_000_000n + BigInt(this.#seq++ % 1_000_000)).toString(16)}`, namespace },
      involvedObject: refOf(obj, opts.fieldPath), reason, message, type, count: 1,
      firstTimestamp: ts, lastTimestamp: ts,
      source: { component: this.#component, ...(this.#host === undefined ? {} : { host: this.#host }) },
      reportingComponent: this.#component, reportingInstance: this.#host ?? '',
    };
    const key = [obj.metadata.uid ?? `${namespace}/${String(obj.metadata.name)}`, type, reason, message, opts.fieldPath ?? ''].join('\u0000');
    this.#pending.push({ key, event });
    this.#pump();
  }

  /** Resolves when every pending event was written (or given up). */
  flush(): Promise<void> {
    if (this.#active === 0 && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pending.length = 0;
    await this.flush();
  }

  #pump(): void {
    while (this.#active < this.#concurrency && this.#pending.length > 0) {
      const next = this.#pending.shift()!;
      this.#active++;
      void this.#write(next).finally(() => {
        this.#active--;
        this.#pump();
        if (this.#active === 0 && this.#pending.length === 0) for (const w of this.#idleWaiters.splice(0)) w();
      });
    }
  }

  async #write(p: Pending): Promise<void> {
    const nowMs = this.#now();
    // #seen is kept in lastMs order (a repeat moves its entry to the end): expired entries are at the
    // front, so the sweep stops at the first live one instead of walking every event ever written.
    for (const [k, s] of this.#seen) {
      if (nowMs - s.lastMs <= AGGREGATE_WINDOW_MS) break;
      this.#seen.delete(k);
    }
    const seen = this.#seen.get(p.key);
    try {
      if (seen !== undefined) {
        seen.count++;
        seen.lastMs = nowMs;
        this.#seen.delete(p.key);
        this.#seen.set(p.key, seen);
        try {
          await this.#client.patch(EVENTS, seen.name, { count: seen.count, lastTimestamp: p.event.lastTimestamp }, { namespace: seen.namespace });
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          this.#seen.delete(p.key); // expired or deleted upstream of us: start a new one
        }
      }
      const created = await this.#client.create(EVENTS, p.event);
      this.#seen.set(p.key, { namespace: String(created.metadata.namespace), name: String(created.metadata.name), count: 1, lastMs: nowMs });
    } catch (err) {
      this.#log.debug({ reason: p.event.reason, err: (err as Error).message }, 'write event failed, dropping it');
    }
  }
}
