// A keyed work queue for level-triggered reconcilers: at most one reconcile per key at a time, a key
// added while it runs runs exactly once more (agent/keyed-runner.ts), failures are retried after a
// per-key exponential backoff (agent/backoff.ts) that a success resets, and a reconcile may ask to be
// run again after a delay. Keys carry no payload: reconcile(key) reads current state from a cache.

import type { Logger } from 'pino';
import { KeyedRunner } from '../../common/keyed-runner.ts';
import { KeyedBackoff } from '../../common/backoff.ts';
import { silentLogger } from '../../common/log.ts';
import { ApiClientError } from './errors.ts';

export type ReconcileResult = void | { readonly requeueAfterMs?: number };

export interface WorkQueueOptions {
  readonly name: string;
  readonly reconcile: (key: string) => Promise<ReconcileResult>;
  readonly log?: Logger;
  /** Keys reconciled at once; default 4. */
  readonly maxConcurrent?: number;
  /** Retry delay after a failure, doubling up to the cap: default 100 ms .. 60 s. */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
}

export class WorkQueue {
  readonly name: string;
  readonly #runner: KeyedRunner<string>;
  readonly #backoff: KeyedBackoff;
  readonly #reconcile: (key: string) => Promise<ReconcileResult>;
  readonly #log: Logger;
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  #stopped = false;
  #processed = 0;

  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.#reconcile = opts.reconcile;
    this.#log = (opts.log ?? silentLogger()).child({ queue: opts.name });
    this.#backoff = new KeyedBackoff({ initialMs: opts.backoffInitialMs ?? 100, maxMs: opts.backoffMaxMs ?? 60_000, jitter: 0.1 });
    this.#runner = new KeyedRunner<string>({ task: (key) => this.#run(key), maxConcurrent: opts.maxConcurrent ?? 4 });
  }

  /** Reconcile `key` soon. */
  add(key: string): void {
    if (this.#stopped) return;
    this.#runner.trigger(key);
  }

  /** Reconcile `key` after `delayMs` (the earliest of several pending delays wins). */
  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    if (delayMs <= 0) { this.add(key); return; }
    const at = Date.now() + delayMs;
    const pending = this.#timers.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, { at, timer });
  }

  /** Reconcile `key` again after its backoff delay (which doubles each time until forget()). */
  addRateLimited(key: string): number {
    const delayMs = this.#backoff.next(key);
    this.addAfter(key, delayMs);
    return delayMs;
  }

  forget(key: string): void {
    this.#backoff.reset(key);
    this.#failures.delete(key);
  }

  /** Failures in a row for `key`. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Reconciles finished, successful or not. */
  get processed(): number {
    return this.#processed;
  }

  /** Resolves when nothing runs (delayed keys do not count). */
  idle(): Promise<void> {
    return this.#runner.idle();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#runner.stop();
  }

  async #run(key: string): Promise<void> {
    if (this.#stopped) return;
    try {
      const result = await this.#reconcile(key);
      this.forget(key);
      if (result !== undefined && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      if (this.#stopped) return;
      const n = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, n);
      const delayMs = this.addRateLimited(key);
      // Conflicts are the normal price of optimistic concurrency: the retry reads fresh state.
      const quiet = err instanceof ApiClientError && (err.kind === 'conflict' || err.kind === 'notFound' || err.kind === 'alreadyExists');
      const fields = { key, err: (err as Error).message, failures: n, retryInMs: delayMs };
      if (quiet || n > 1 && n % 10 !== 0) this.#log.debug(fields, 'reconcile failed, will retry');
      else this.#log.warn(fields, 'reconcile failed, will retry');
    } finally {
      this.#processed++;
    }
  }
}
