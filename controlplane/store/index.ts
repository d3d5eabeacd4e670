// Chooses the store from `--datastore-endpoint` (names as in k3s): empty means the embedded SQLite
// file `<dataDir>/store.db`; `http(s)://host:2379[,http(s)://host2:2379...]` means etcd v3.
// Validates the endpoint text; opening failures come back as StoreError `unavailable`.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NodeError } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import { openEtcdStore } from './etcd.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export type { KeyValue, ListOptions, ListResult, Store, StoreErrorKind, Watch, WatchEvent, WatchOptions } from './types.ts';
export { StoreError, isStoreError } from './types.ts';
export { guaranteedUpdate } from './update.ts';

/** Kubernetes compacts every 5 minutes; so do we, keeping at least 5 minutes of history. */
export const DEFAULT_COMPACT_INTERVAL_MS = 5 * 60_000;

export interface OpenStoreOptions {
  /** Empty or absent: SQLite in dataDir. Otherwise comma-separated etcd client URLs. */
  readonly endpoint?: string;
  readonly dataDir: string;
  readonly log?: Logger;
  /** PEM files for https etcd endpoints (as k3s's --datastore-cafile/-certfile/-keyfile). */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /** 0 turns periodic compaction off (tests). */
  readonly compactIntervalMs?: number;
}

export type StoreBackend = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'etcd'; readonly endpoints: readonly string[] };

/** Thrown for an endpoint we cannot parse: a configuration error, not a store failure. */
export class StoreConfigError extends NodeError {
  constructor(message: string) {
    super('store-config-invalid', message);
  }
}

/** Pure: which backend an endpoint names. */
export function parseStoreEndpoint(endpoint: string | undefined, dataDir: string): StoreBackend {
  const text = (endpoint ?? '').trim();
  if (text === '') return { kind: 'sqlite', path: join(dataDir, 'store.db') };
  const endpoints = text.split(',').map((e) => e.trim());
  for (const e of endpoints) {
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new StoreConfigError(`parse datastore endpoint ${JSON.stringify(e)}: not a url (want http(s)://host:2379)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new StoreConfigError(`parse datastore endpoint ${JSON.stringify(e)}: scheme ${url.protocol.replace(/:$/, '')} is not supported (want http or https for etcd)`);
    }
    if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') {
      throw new StoreConfigError(`parse datastore endpoint ${JSON.stringify(e)}: only scheme, host and port are allowed`);
    }
  }
  const schemes = new Set(endpoints.map((e) => new URL(e).protocol));
  if (schemes.size > 1) throw new StoreConfigError(`parse datastore endpoint ${JSON.stringify(text)}: mixes http and https`);
  return {
    kind: 'etcd',
    endpoints: endpoints.map((e) => {
      const url = new URL(e);
      return `${url.protocol}//${url.hostname.includes(':') ? `[${url.hostname.replace(/^\[|\]$/g, '')}]` : url.hostname}:${url.port || '2379'}`;
    }),
  };
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const log = opts.log ?? silentLogger();
  const backend = parseStoreEndpoint(opts.endpoint, opts.dataDir);
  const compactIntervalMs = opts.compactIntervalMs ?? DEFAULT_COMPACT_INTERVAL_MS;
  switch (backend.kind) {
    case 'sqlite':
      log.info({ path: backend.path }, 'using the embedded sqlite store');
      return openSqliteStore({ path: backend.path, log, compactIntervalMs });
    case 'etcd': {
      log.info({ endpoints: backend.endpoints }, 'using the etcd store');
      const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
      const tls = opts.tls === undefined ? undefined : { ca: read(opts.tls.caFile), cert: read(opts.tls.certFile), key: read(opts.tls.keyFile) };
      return openEtcdStore({ endpoints: backend.endpoints, log, tls, compactIntervalMs });
    }
    default: {
      const never: never = backend;
      throw new Error(`unknown store backend ${JSON.stringify(never)}`);
    }
  }
}
