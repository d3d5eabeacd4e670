// The scheduling queue, kube-scheduler's three parts: active (by priority, then arrival), backoff
// (failed attempts wait 1 s doubling to 10 s) and unschedulable (parked until a node or pod change
// could help, or for at most 60 s). Holds pod keys only; the clock is injected. Not pure (it is
// state) but does no I/O.

export interface SchedulingQueueOptions {
  readonly now?: () => number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A parked pod is retried after this long even if nothing changed. */
  readonly unschedulableTimeoutMs?: number;
}

interface Entry {
  readonly key: string;
  readonly priority: number;
  readonly seq: number;
}

function before(a: Entry, b: Entry): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
}

export class SchedulingQueue {
  readonly #now: () => number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #unschedulableTimeoutMs: number;
  readonly #heap: Entry[] = [];
  readonly #active = new Map<string, Entry>();
  readonly #backoff = new Map<string, { readyAt: number; priority: number }>();
  readonly #unschedulable = new Map<string, { since: number; priority: number }>();
  readonly #attempts = new Map<string, number>();
  #seq = 0;
  #waiters: (() => void)[] = [];

  constructor(opts: SchedulingQueueOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#initialBackoffMs = opts.initialBackoffMs ?? 1000;
    this.#maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    this.#unschedulableTimeoutMs = opts.unschedulableTimeoutMs ?? 60_000;
  }

  get activeCount(): number {
    return this.#active.size;
  }

  get backoffCount(): number {
    return this.#backoff.size;
  }

  get unschedulableCount(): number {
    return this.#unschedulable.size;
  }

  has(key: string): boolean {
    return this.#active.has(key) || this.#backoff.has(key) || this.#unschedulable.has(key);
  }

  isUnschedulable(key: string): boolean {
    return this.#unschedulable.has(key);
  }

  /** A new pending pod, or one to try again now. No-op if it is already waiting in active or backoff. */
  add(key: string, priority = 0): void {
    if (this.#active.has(key) || this.#backoff.has(key)) return;
    this.#unschedulable.delete(key);
    this.#push(key, priority);
  }

  /** The pod changed: if parked as unschedulable, it gets another chance (after its backoff). */
  update(key: string, priority = 0): void {
    const parked = this.#unschedulable.get(key);
    if (parked !== undefined) {
      this.#unschedulable.delete(key);
      this.#requeue(key, priority);
    }
  }

  delete(key: string): void {
    this.#active.delete(key);
    this.#backoff.delete(key);
    this.#unschedulable.delete(key);
    this.#attempts.delete(key);
  }

  /** The next key to schedule (moving due backoff entries first), or undefined. */
  pop(): string | undefined {
    this.#flushBackoff();
    while (this.#heap.length > 0) {
      const top = this.#popHeap();
      const live = this.#active.get(top.key);
      if (live === undefined || live.seq !== top.seq) continue;
      this.#active.delete(top.key);
      return top.key;
    }
    return undefined;
  }

  /** No node fits: park the pod until something changes. */
  markUnschedulable(key: string, priority = 0): void {
    this.#attempts.set(key, (this.#attempts.get(key) ?? 0) + 1);
    this.#active.delete(key);
    this.#backoff.delete(key);
    this.#unschedulable.set(key, { since: this.#now(), priority });
  }

  /** Binding or another error: retry after the pod's backoff. */
  markFailed(key: string, priority = 0): void {
    this.#attempts.set(key, (this.#attempts.get(key) ?? 0) + 1);
    this.#active.delete(key);
    this.#unschedulable.delete(key);
    this.#backoff.set(key, { readyAt: this.#now() + this.backoffMs(key), priority });
  }

  /** Scheduled: forget its attempts. */
  done(key: string): void {
    this.#attempts.delete(key);
  }

  attempts(key: string): number {
    return this.#attempts.get(key) ?? 0;
  }

  /** Backoff for the next attempt: initial * 2^(attempts-1), capped. */
  backoffMs(key: string): number {
    const n = this.#attempts.get(key) ?? 0;
    if (n <= 0) return 0;
    return Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** Math.min(30, n - 1));
  }

  /** A node or pod changed in a way that may help: every parked pod goes back (through its backoff). */
  moveAllToActive(): number {
    const moved = this.#unschedulable.size;
    for (const [key, { priority }] of [...this.#unschedulable]) {
      this.#unschedulable.delete(key);
      this.#requeue(key, priority);
    }
    return moved;
  }

  /** Retry pods parked longer than the timeout. */
  flushUnschedulableLeftover(): number {
    const now = this.#now();
    let moved = 0;
    for (const [key, { since, priority }] of [...this.#unschedulable]) {
      if (now - since < this.#unschedulableTimeoutMs) continue;
      this.#unschedulable.delete(key);
      this.#requeue(key, priority);
      moved++;
    }
    return moved;
  }

  /** Milliseconds until the earliest backoff entry is due; undefined if none. */
  nextBackoffDueMs(): number | undefined {
    let earliest: number | undefined;
    for (const { readyAt } of this.#backoff.values()) if (earliest === undefined || readyAt < earliest) earliest = readyAt;
    return earliest === undefined ? undefined : Math.max(0, earliest - this.#now());
  }

  /** Resolves at the next add or move to active (or after `timeoutMs`). */
  wait(timeoutMs: number): Promise<void> {
    if (this.#active.size > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  /** Release anyone in wait() now (shutdown). */
  wakeAll(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #requeue(key: string, priority: number): void {
    const wait = this.backoffMs(key);
    if (wait > 0) this.#backoff.set(key, { readyAt: this.#now() + wait, priority });
    else this.#push(key, priority);
  }

  #flushBackoff(): void {
    if (this.#backoff.size === 0) return;
    const now = this.#now();
    for (const [key, { readyAt, priority }] of [...this.#backoff]) {
      if (readyAt > now) continue;
      this.#backoff.delete(key);
      this.#push(key, priority);
    }
  }

  #push(key: string, priority: number): void {
    const e: Entry = { key, priority, seq: this.#seq++ };
    this.#active.set(key, e);
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
    for (const w of this.#waiters.splice(0)) w();
  }

  #popHeap(): Entry {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
