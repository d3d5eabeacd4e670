// Calls for the same key while one is in flight share its result instead of running again: 30 pods
// starting at once with the same image make one ImageStatus call (and at most one pull), not 30.
// Nothing is cached once the call settles; a failure is shared by the calls that waited for it.

export class SingleFlight<K, V> {
  readonly #inFlight = new Map<K, Promise<V>>();

  run(key: K, call: () => Promise<V>): Promise<V> {
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    const p = call().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }

  get size(): number {
    return this.#inFlight.size;
  }
}
