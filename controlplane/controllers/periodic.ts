// A periodic pass that never overlaps itself: the timer skips a tick while the previous pass is
// still running, a failed pass is logged and the next tick tries again, and stop() waits for the
// pass in flight. Node lifecycle and pod GC run on it.

import type { Logger } from 'pino';

export class PeriodicPass {
  readonly #run: () => Promise<void>;
  readonly #periodMs: number;
  readonly #log: Logger;
  readonly #what: string;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: { run: () => Promise<void>; periodMs: number; log: Logger; what: string }) {
    this.#run = opts.run;
    this.#periodMs = opts.periodMs;
    this.#log = opts.log;
    this.#what = opts.what;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#pass !== undefined || this.#stopped) return;
      this.#pass = this.#run()
        .catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, `${this.#what} failed`))
        .finally(() => { this.#pass = undefined; });
    }, this.#periodMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#pass;
  }
}
