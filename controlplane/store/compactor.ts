// Periodic compaction, as the Kubernetes API server does it: at each tick, compact at the revision
// seen at the previous tick, so at least one interval of history stays for watchers to resume from.
// Failures are logged and retried at the next tick; the timer never keeps the process alive.

import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.ts';
import { isStoreError, type Store } from './types.ts';

export class Compactor {
  readonly #store: Pick<Store, 'currentRevision' | 'compact'>;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #previousRevision = 0;
  #running = false;

  constructor(opts: { store: Pick<Store, 'currentRevision' | 'compact'>; intervalMs: number; log: Logger }) {
    this.#store = opts.store;
    this.#intervalMs = opts.intervalMs;
    this.#log = opts.log;
  }

  start(): void {
    if (this.#timer !== undefined || this.#intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.tick(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round: compact at the previous tick's revision, then remember the current one. */
  async tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const revision = await this.#store.currentRevision();
      if (this.#previousRevision > 0) await this.#store.compact(this.#previousRevision);
      this.#previousRevision = revision;
    } catch (err) {
      if (!isStoreError(err, 'closed')) this.#log.warn({ revision: this.#previousRevision, err: errorMessage(err) }, 'compact store failed');
    } finally {
      this.#running = false;
    }
  }
}
