// At most one task per key in flight. A trigger for a key that is running marks it dirty and causes
// exactly one more run after the current one; triggers carry keys only, the task reads current
// state. Different keys run concurrently, up to `maxConcurrent`. Task failures go to `onError` and
// never stop the runner.

export interface KeyedRunnerOptions<K> {
  readonly task: (key: K) => Promise<void>;
  readonly onError?: (key: K, err: unknown) => void;
  /** Keys running at once; default unlimited. */
  readonly maxConcurrent?: number;
}

export class KeyedRunner<K> {
  readonly #task: (key: K) => Promise<void>;
  readonly #onError: (key: K, err: unknown) => void;
  readonly #max: number;
  readonly #running = new Set<K>();
  readonly #dirty = new Set<K>();
  /** Keys waiting for a free slot, in trigger order. */
  readonly #queued: K[] = [];
  readonly #queuedSet = new Set<K>();
  #idleWaiters: (() => void)[] = [];
  #stopped = false;

  constructor(opts: KeyedRunnerOptions<K>) {
    this.#task = opts.task;
    this.#onError = opts.onError ?? (() => undefined);
    this.#max = opts.maxConcurrent ?? Number.POSITIVE_INFINITY;
  }

  /** Ask for a run of `key`: now if free, once more after the current run if running. */
  trigger(key: K): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queuedSet.has(key)) return;
    if (this.#running.size >= this.#max) {
      this.#queued.push(key);
      this.#queuedSet.add(key);
      return;
    }
    this.#start(key);
  }

  isRunning(key: K): boolean {
    return this.#running.has(key) || this.#queuedSet.has(key);
  }

  get active(): number {
    return this.#running.size;
  }

  /** Resolves when nothing runs and nothing is queued. */
  idle(): Promise<void> {
    if (this.#running.size === 0 && this.#queued.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Refuse new triggers and wait for the runs in flight (queued ones are dropped). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queued.length = 0;
    this.#queuedSet.clear();
    this.#dirty.clear();
    await this.idle();
  }

  #start(key: K): void {
    this.#running.add(key);
    void this.#run(key);
  }

  async #run(key: K): Promise<void> {
    for (;;) {
      this.#dirty.delete(key);
      try {
        await this.#task(key);
      } catch (err) {
        try {
          this.#onError(key, err);
        } catch {
          // an error handler that throws must not stop the runner
        }
      }
      if (!this.#dirty.has(key) || this.#stopped) break;
    }
    this.#running.delete(key);
    while (!this.#stopped && this.#queued.length > 0 && this.#running.size < this.#max) {
      const next = this.#queued.shift()!;
      this.#queuedSet.delete(next);
      this.#start(next);
    }
    if (this.#running.size === 0 && this.#queued.length === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
