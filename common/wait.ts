// Polling with a deadline: the one way tests and start-up code wait for something to become true.
// No fixed sleeps: poll a predicate at a short interval until it holds or the deadline passes.

import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Named in the timeout error: "timed out after 5000 ms waiting for <what>". */
  readonly what: string;
}

export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, last?: unknown) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}` + (last === undefined ? '' : `: last error: ${last instanceof Error ? last.message : String(last)}`));
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Call `check` until it returns a value other than undefined/false, and return that value.
 * A throwing check counts as "not yet"; its last error is reported on timeout.
 */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const intervalMs = opts.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(opts.what, opts.timeoutMs, lastError);
    await sleep(intervalMs);
  }
}
