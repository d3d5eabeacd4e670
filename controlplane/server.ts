// `moor server` wiring: data dir → PKI → token file → store → API server → admin kubeconfig → signals.
// SIGTERM/SIGINT end every watch, close the listener and the store, then exit.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ApiServer } from './apiserver/server.ts';
import { ensureTokenFile, TokenAuthenticator } from './apiserver/tokens.ts';
import { buildKubeconfig, defaultSans, ensurePki, serverUrl, writeKubeconfig } from './pki.ts';
import { openStore } from './store/index.ts';
import { createNodeProxy } from './apiserver/node-proxy.ts';
import type { Store } from './store/types.ts';
import { startControlPlane } from './controllers/manager.ts';
import { controlPlaneConfigFromEnv, type ControlPlaneConfig } from './controllers/config.ts';
import type { DefaultsOptions } from './apiserver/defaults.ts';

export interface ServerConfig {
  readonly dataDir: string;
  readonly bindAddress: string;
  readonly securePort: number;
  /** Empty: embedded SQLite in the data dir; `http(s)://host:2379[,...]`: etcd v3. */
  readonly datastoreEndpoint: string;
  /** Static token file; default `<data-dir>/tokens.csv`, created with an admin token. */
  readonly tokenFile?: string;
  /** Extra names/addresses for the serving certificate. */
  readonly tlsSans?: readonly string[];
  readonly bookmarkIntervalMs?: number;
  /** Store compaction period (history kept for watches); undefined = the store's default, 0 = never. */
  readonly compactIntervalMs?: number;
  /** Scheduler and controllers (controlplane/controllers/config.ts); undefined = from MOOR_CONTROLPLANE_ARGS or defaults. */
  readonly controlPlane?: ControlPlaneConfig;
  /** Default tolerations of pods (--default-not-ready/unreachable-toleration-seconds); undefined = 300 s each. */
  readonly defaults?: DefaultsOptions;
}

export interface RunningServer {
  readonly api: ApiServer;
  readonly store: Store;
  readonly url: string;
  readonly port: number;
  readonly adminKubeconfig: string;
  stop(): Promise<void>;
}

export function defaultTokenFile(dataDir: string): string {
  return join(dataDir, 'tokens.csv');
}

/** Start everything and return once the server listens. */
export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const extraSans = config.bindAddress === '0.0.0.0' || config.bindAddress === '::' ? [] : [config.bindAddress];
  const pki = await ensurePki({ dataDir: config.dataDir, sans: defaultSans([...extraSans, ...(config.tlsSans ?? [])]), log: log.child({ component: 'pki' }) });
  const tokenFile = config.tokenFile ?? defaultTokenFile(config.dataDir);
  const adminToken = ensureTokenFile(tokenFile);
  const tokens = new TokenAuthenticator(tokenFile);
  const store = await openStore({ endpoint: config.datastoreEndpoint === '' ? undefined : config.datastoreEndpoint, dataDir: config.dataDir, log: log.child({ component: 'store' }), compactIntervalMs: config.compactIntervalMs });
  let api: ApiServer;
  try {
    api = new ApiServer({
      store, log: log.child({ component: 'apiserver' }), tokens,
      tls: { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) },
      bookmarkIntervalMs: config.bookmarkIntervalMs,
      defaults: config.defaults,
      nodeProxy: createNodeProxy({ clientCert: readFileSync(pki.kubeletClientCert), clientKey: readFileSync(pki.kubeletClientKey), log: log.child({ component: 'node-proxy' }) }),
    });
    await api.bootstrap();
  } catch (err) {
    await store.close();
    throw err;
  }
  let bound: { host: string; port: number };
  try {
    bound = await api.listen(config.bindAddress, config.securePort);
  } catch (err) {
    await store.close();
    throw err;
  }
  const url = serverUrl(config.bindAddress, bound.port);
  const adminKubeconfig = join(config.dataDir, 'admin.kubeconfig');
  writeKubeconfig(adminKubeconfig, buildKubeconfig({ server: url, caPem: readFileSync(pki.caCert, 'utf8'), token: adminToken, user: 'admin' }));
  log.info({ url, dataDir: config.dataDir, store: config.datastoreEndpoint === '' ? 'sqlite' : 'etcd', kubeconfig: adminKubeconfig }, 'server listening');
  // Wiring hook (scheduler and controllers): clients of this server over HTTPS with the admin token.
  const controlPlane = startControlPlane({ clientConfig: { server: url, caPem: readFileSync(pki.caCert, 'utf8'), token: adminToken }, log, config: config.controlPlane ?? controlPlaneConfigFromEnv(process.env) });
  let stopped = false;
  return {
    api, store, url, port: bound.port, adminKubeconfig,
    async stop() {
      if (stopped) return;
      stopped = true;
      await controlPlane.stop();
      await api.close();
      await store.close();
      log.info('server stopped');
    },
  };
}
