// fsync of one file on libuv's thread pool, so the event loop never waits on the disk, with group
// commit: a sync() asked for while one is running is served by the next one, which starts when the
// running one ends and covers every write made before it started. The SQLite store uses it on its
// WAL file; fsync flushes the file (inode), whichever descriptor wrote to it.

import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';

export class FileSync {
  readonly path: string;
  #fd: number | undefined;
  #inFlight: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'r');
  }

  /** Resolves once everything written to the file before this call is on disk. */
  sync(): Promise<void> {
    if (this.#inFlight === undefined) return this.#start();
    // The running fsync may have started before the caller's write: wait for the next one.
    this.#queued ??= this.#inFlight.then(
      () => this.#startQueued(),
      () => this.#startQueued(),
    );
    return this.#queued;
  }

  /** Waits for running syncs, then closes the descriptor; later sync() calls fail. */
  async close(): Promise<void> {
    await Promise.allSettled([this.#inFlight, this.#queued]);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #startQueued(): Promise<void> {
    this.#queued = undefined;
    return this.#start();
  }

  #start(): Promise<void> {
    const fd = this.#fd;
    if (fd === undefined) return Promise.reject(new Error(`fsync ${this.path}: closed`));
    const run = new Promise<void>((resolve, reject) => {
      fsync(fd, (err) => (err === null ? resolve() : reject(new Error(`fsync ${this.path}: ${err.message}`, { cause: err }))));
    });
    const tracked: Promise<void> = run.finally(() => {
      if (this.#inFlight === tracked) this.#inFlight = undefined;
    });
    this.#inFlight = tracked;
    return tracked;
  }
}

/** Makes a new directory entry (a file created in `dir`) durable. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
