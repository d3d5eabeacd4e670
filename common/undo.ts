// UndoStack: every step that creates something registers how to undo it at the moment it succeeds;
// on failure the undos run in reverse. Undo failures are logged and never thrown, so the original
// error is the one the caller sees.

import { errorMessage } from './errors.ts';

export interface UndoLogger {
  warn(obj: object, msg: string): void;
}

export class UndoStack {
  readonly #steps: { what: string; undo: () => unknown }[] = [];
  readonly #log: UndoLogger | undefined;

  constructor(log?: UndoLogger) {
    this.#log = log;
  }

  push(what: string, undo: () => unknown): void {
    this.#steps.push({ what, undo });
  }

  /** Forget every registered undo: the whole operation succeeded. */
  clear(): void {
    this.#steps.length = 0;
  }

  get size(): number {
    return this.#steps.length;
  }

  /** Run the undos newest first; returns the failures (also logged). */
  async run(): Promise<{ what: string; error: unknown }[]> {
    const failures: { what: string; error: unknown }[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await step.undo();
      } catch (error) {
        failures.push({ what: step.what, error });
        this.#log?.warn({ step: step.what, err: errorMessage(error) }, 'undo step failed');
      }
    }
    return failures;
  }
}
