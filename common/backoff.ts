// Keyed exponential backoff with an injected clock and random source: the crash-loop backoff of
// containers (key: pod UID + container name) and the image pull backoff (key: pod UID + image).
// Each key remembers its current delay and when it was last bumped. The first next() returns the
// initial delay; each later one doubles it up to the cap. An entry not bumped for `resetAfterMs`
// (default: twice the cap, 10 min with the upstream 5 min cap) is forgotten, so a container that
// ran that long before failing again starts over at the initial delay, as the kubelet does.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Forget an entry not bumped for this long; default 2 * maxMs. */
  readonly resetAfterMs?: number;
  /** 0 (default, like the kubelet) .. 1: each delay is stretched by up to this fraction at random. */
  readonly jitter?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface BackoffEntry {
  readonly delayMs: number;
  /** When next() last bumped this key. */
  readonly updatedAtMs: number;
}

export class KeyedBackoff {
  readonly #entries = new Map<string, BackoffEntry>();
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #resetAfterMs: number;
  readonly #jitter: number;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(opts: BackoffOptions) {
    if (!(opts.initialMs > 0) || !(opts.maxMs >= opts.initialMs)) throw new Error(`create backoff: initial ${opts.initialMs} ms and cap ${opts.maxMs} ms: need 0 < initial <= cap`);
    this.#initialMs = opts.initialMs;
    this.#maxMs = opts.maxMs;
    this.#resetAfterMs = opts.resetAfterMs ?? 2 * opts.maxMs;
    this.#jitter = Math.min(1, Math.max(0, opts.jitter ?? 0));
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
  }

  get initialMs(): number {
    return this.#initialMs;
  }

  get maxMs(): number {
    return this.#maxMs;
  }

  /** The live entry of a key, or undefined when it has none or it expired. */
  get(key: string, atMs: number = this.#now()): BackoffEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (atMs - entry.updatedAtMs > this.#resetAfterMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Bump the key: initial delay the first time (or after expiry), then double up to the cap. Returns the new delay. */
  next(key: string, atMs: number = this.#now()): number {
    const entry = this.get(key, atMs);
    const base = entry === undefined ? this.#initialMs : Math.min(this.#maxMs, entry.delayMs * 2);
    const delayMs = Math.min(this.#maxMs, Math.round(base * (1 + this.#jitter * this.#random())));
    this.#entries.set(key, { delayMs, updatedAtMs: atMs });
    return delayMs;
  }

  /** The moment the backoff measured from `sinceMs` ends, or undefined when the key is not backing off. */
  notBefore(key: string, sinceMs: number, atMs: number = this.#now()): number | undefined {
    const entry = this.get(key, atMs);
    if (entry === undefined) return undefined;
    return sinceMs + entry.delayMs;
  }

  /** kubelet's IsInBackOffSince: still within the current delay counted from `sinceMs` (e.g. the last exit). */
  isInBackoffSince(key: string, sinceMs: number, atMs: number = this.#now()): boolean {
    const until = this.notBefore(key, sinceMs, atMs);
    return until !== undefined && atMs < until;
  }

  /** kubelet's IsInBackOffSinceUpdate: within the current delay counted from the last bump. */
  isInBackoffSinceUpdate(key: string, atMs: number = this.#now()): boolean {
    const entry = this.get(key, atMs);
    return entry !== undefined && atMs < entry.updatedAtMs + entry.delayMs;
  }

  reset(key: string): void {
    this.#entries.delete(key);
  }

  /** Forget every key starting with `prefix` (a pod that is gone). */
  resetPrefix(prefix: string): void {
    for (const key of [...this.#entries.keys()]) if (key.startsWith(prefix)) this.#entries.delete(key);
  }

  /** Drop expired entries. */
  gc(atMs: number = this.#now()): void {
    for (const key of [...this.#entries.keys()]) this.get(key, atMs);
  }

  get size(): number {
    return this.#entries.size;
  }
}
