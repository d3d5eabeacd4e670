// One pass of some work at a time, with the calls that arrive during a pass coalesced into exactly
// one more pass after it (a rescan, a reconcile): callers get a promise that settles when a pass
// that started after their call has finished.

export class CoalescedPass {
  readonly #pass: () => Promise<void>;
  readonly #stopped: () => boolean;
  #running: Promise<void> | undefined;
  #again = false;

  /** `stopped`: once true, no further pass starts. */
  constructor(pass: () => Promise<void>, stopped: () => boolean = () => false) {
    this.#pass = pass;
    this.#stopped = stopped;
  }

  /** The pass in progress, if any. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#pass();
      } while (this.#again && !this.#stopped());
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }
}
