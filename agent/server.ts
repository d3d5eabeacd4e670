// The agent's HTTP API (loopback by default): /healthz, /pods (a v1 PodList), /manifests (the
// pod source's view of each manifest file, errors included), /containerLogs/<ns>/<pod>/<container>
// (tailLines, timestamps, follow, previous) and /metrics (Prometheus text). Handlers are thin: they
// read what the pod workers and the source already hold.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { streamContainerLog } from './logs.ts';
import type { AgentMetrics } from './metrics.ts';
import { latestContainer, previousContainer, type ObservedPod } from './pod/observed.ts';
import type { Pod } from './pod/types.ts';
import type { ManifestStatus } from './source/types.ts';

export interface ApiBackend {
  listPods(): Pod[];
  manifests(): readonly ManifestStatus[];
  /** undefined when healthy, else why not. */
  unhealthy(): string | undefined;
  /** The log file of a container of a pod (the newest instance, or the one before with previous). */
  containerLog(podUid: string, container: string, previous: boolean): { path: string; running: () => boolean } | { error: string; status: number };
}

export interface ApiServerOptions {
  readonly address: string;
  readonly port: number;
  readonly backend: ApiBackend;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /**
   * Serve HTTPS with this certificate. With clientCa, every path but /healthz needs a client
   * certificate signed by it (the API server's log proxy presents one).
   */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json');
}

function boolParam(v: string | null): boolean {
  return v === 'true' || v === '1' || v === '';
}

export class ApiServer {
  readonly #o: ApiServerOptions;
  readonly #server: Server;
  readonly #follows = new Set<AbortController>();

  constructor(opts: ApiServerOptions) {
    this.#o = opts;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      if (opts.tls?.clientCa !== undefined && !(req.socket as TLSSocket).authorized && new URL(req.url ?? '/', 'https://agent').pathname !== '/healthz') {
        send(res, 401, 'Unauthorized: a client certificate signed by the cluster CA is required\n');
        return;
      }
      this.#handle(req, res).catch((err: unknown) => {
        this.#o.log.warn({ url: req.url, err: errorMessage(err) }, 'api request failed');
        if (!res.headersSent) send(res, 500, `${errorMessage(err)}\n`);
        else res.end();
      });
    };
    this.#server = opts.tls === undefined
      ? createServer(handler)
      : createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, ...(opts.tls.clientCa !== undefined ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}) }, handler);
  }

  /** Listen; rejects with a clear message when the address is taken. */
  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => reject(new Error(`listen on ${this.#o.address}:${this.#o.port}: ${err.code === 'EADDRINUSE' ? 'address in use' : err.message}`));
      this.#server.once('error', onError);
      this.#server.listen(this.#o.port, this.#o.address, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    return this.#server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    for (const f of this.#follows) f.abort();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'method not allowed\n');
      return;
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/healthz') {
      const why = this.#o.backend.unhealthy();
      send(res, why === undefined ? 200 : 500, why === undefined ? 'ok' : `${why}\n`);
      return;
    }
    if (path === '/pods') {
      const selector = parseFieldSelector(url.searchParams.get('fieldSelector'));
      if ('error' in selector) {
        send(res, 400, `${selector.error}\n`);
        return;
      }
      const items = this.#o.backend.listPods().filter((p) => selector.matches(p));
      sendJson(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items });
      return;
    }
    if (path === '/manifests') {
      sendJson(res, 200, { items: this.#o.backend.manifests() });
      return;
    }
    if (path === '/metrics') {
      send(res, 200, await this.#o.metrics.registry.metrics(), this.#o.metrics.registry.contentType);
      return;
    }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (m !== null) {
      await this.#logs(req, res, url, decodeURIComponent(m[1]), decodeURIComponent(m[2]), decodeURIComponent(m[3]));
      return;
    }
    send(res, 404, `no such path ${path}\n`);
  }

  async #logs(req: IncomingMessage, res: ServerResponse, url: URL, namespace: string, podName: string, container: string): Promise<void> {
    const pod = this.#o.backend.listPods().find((p) => p.metadata.namespace === namespace && p.metadata.name === podName);
    if (pod === undefined) {
      send(res, 404, `pod "${podName}" in namespace "${namespace}" not found\n`);
      return;
    }
    const tailRaw = url.searchParams.get('tailLines');
    const tailLines = tailRaw === null ? undefined : Number(tailRaw);
    if (tailLines !== undefined && (!Number.isInteger(tailLines) || tailLines < 0)) {
      send(res, 400, `tailLines ${JSON.stringify(tailRaw)}: must be a non-negative integer\n`);
      return;
    }
    const found = this.#o.backend.containerLog(pod.metadata.uid, container, boolParam(url.searchParams.get('previous')));
    if ('error' in found) {
      send(res, found.status, `${found.error}\n`);
      return;
    }
    const follow = boolParam(url.searchParams.get('follow'));
    const abort = new AbortController();
    this.#follows.add(abort);
    req.on('close', () => abort.abort());
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Transfer-Encoding': 'chunked' });
    try {
      await streamContainerLog({
        path: found.path,
        ...(tailLines !== undefined ? { tailLines } : {}),
        timestamps: boolParam(url.searchParams.get('timestamps')),
        follow,
        isRunning: found.running,
        write: (chunk) => res.write(chunk),
        signal: abort.signal,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // No file yet (container never wrote) or removed: an empty log.
    } finally {
      this.#follows.delete(abort);
      res.end();
    }
  }
}

const SELECTABLE: Readonly<Record<string, (p: Pod) => string>> = {
  'metadata.name': (p) => p.metadata.name,
  'metadata.namespace': (p) => p.metadata.namespace,
  'metadata.uid': (p) => p.metadata.uid,
  'status.phase': (p) => p.status?.phase ?? '',
};

/** `fieldSelector` as the API server reads it, for the fields above: `a=b,c!=d`. */
export function parseFieldSelector(text: string | null): { matches: (p: Pod) => boolean } | { error: string } {
  if (text === null || text === '') return { matches: () => true };
  const terms: { get: (p: Pod) => string; value: string; equal: boolean }[] = [];
  for (const term of text.split(',')) {
    const m = /^([a-zA-Z.]+)(==|=|!=)(.*)$/.exec(term);
    const get = m === null ? undefined : SELECTABLE[m[1]];
    if (m === null || get === undefined) return { error: `field selector ${JSON.stringify(term)}: supported fields: ${Object.keys(SELECTABLE).join(', ')}` };
    terms.push({ get, value: m[3], equal: m[2] !== '!=' });
  }
  return { matches: (p) => terms.every((t) => (t.get(p) === t.value) === t.equal) };
}

/** The containerLog lookup, from a pod's observed containers; running() reads the live view. */
export function findContainerLog(
  pod: Pod,
  getSeen: () => ObservedPod | undefined,
  container: string,
  previous: boolean,
): { path: string; running: () => boolean } | { error: string; status: number } {
  const known = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].some((c) => c.name === container);
  if (!known) return { status: 400, error: `container ${container} is not valid for pod ${pod.metadata.name}` };
  const seen = getSeen();
  const c = seen === undefined ? undefined : previous ? previousContainer(seen, container) : latestContainer(seen, container);
  if (c === undefined || c.logPath === '') {
    if (previous) return { status: 400, error: `previous terminated container "${container}" in pod "${pod.metadata.name}" not found` };
    const waiting = pod.status?.containerStatuses.find((s) => s.name === container)?.state.waiting?.reason ?? 'ContainerCreating';
    return { status: 400, error: `container "${container}" in pod "${pod.metadata.name}" is waiting to start: ${waiting}` };
  }
  const id = c.id;
  return { path: c.logPath, running: () => getSeen()?.containers.find((x) => x.id === id)?.state === 'running' };
}
