// A throw-away store for tests of the layers above (API server, controllers): the SQLite store on an
// in-memory database, so it honours exactly the same contract, nothing touches the disk and nothing
// survives close().

import type { Logger } from 'pino';
import { SqliteStore } from './sqlite.ts';

export function openMemoryStore(opts: { log?: Logger } = {}): SqliteStore {
  return new SqliteStore({ path: ':memory:', log: opts.log });
}
