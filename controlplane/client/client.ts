// The typed API client: get/list/create/update/patch/delete, status subresources, pod binding and
// watches, over a Transport (HTTPS by default). Objects are plain JSON typed by the Resource passed
// in. Errors are ApiClientError with a kind (errors.ts). Watches are async iterables of events;
// `resourceVersion` resumes, and an expired one surfaces as an `expired` error for the caller to relist
// (informer.ts does that).

import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import { ApiClientError, errorFromResponse, errorFromWatchStatus } from './errors.ts';
import { loadKubeconfig, type ClientConfig } from './kubeconfig.ts';
import { PODS, resourcePath, type Resource } from './resources.ts';
import { HttpsTransport, type HttpsTransportOptions, type HttpStream, type Transport } from './transport.ts';
import type { ApiStatus, KubeList, KubeObject } from './types.ts';

export type PatchType = 'merge' | 'strategic' | 'json';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
};

export interface ListOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
}

export interface WatchOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Start after this version; undefined or '0' = current state as ADDED first. */
  readonly resourceVersion?: string;
  readonly timeoutSeconds?: number;
  readonly allowBookmarks?: boolean;
}

export interface WriteOptions {
  readonly namespace?: string;
  readonly fieldManager?: string;
  readonly dryRun?: boolean;
}

export interface DeleteOptions {
  readonly namespace?: string;
  readonly propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  readonly gracePeriodSeconds?: number;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

/** An open watch: iterate its events; an ERROR event throws (kind `expired` for 410). */
export interface WatchStream<T> extends AsyncIterable<WatchEvent<T>> {
  close(): void;
}

export interface ApiClientOptions extends HttpsTransportOptions {
  /** Use this transport instead of HTTPS (tests). */
  readonly transport?: Transport;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function nameOf(o: KubeObject, what: string): string {
  const name = o.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new ApiClientError({ kind: 'badRequest', status: 0, message: `${what}: object has no metadata.name` });
  return name;
}

export class ApiClient {
  readonly #transport: Transport;
  readonly #log: Logger;

  constructor(config: ClientConfig, opts: ApiClientOptions = {}) {
    this.#log = opts.log ?? silentLogger();
    this.#transport = opts.transport ?? new HttpsTransport(config, { ...opts, log: this.#log });
  }

  static fromKubeconfig(path: string, opts: ApiClientOptions & { context?: string } = {}): ApiClient {
    return new ApiClient(loadKubeconfig(path, { context: opts.context }), opts);
  }

  /** One request; the parsed JSON reply on 2xx, ApiClientError otherwise. */
  async request<R>(method: string, path: string, body?: unknown, opts: { contentType?: string; timeoutMs?: number } = {}): Promise<R> {
    const res = await this.#transport.request({
      method, path, body: body === undefined ? undefined : JSON.stringify(body), contentType: opts.contentType, timeoutMs: opts.timeoutMs,
    });
    const parsed = parseJson(res.text);
    if (res.status < 200 || res.status >= 300) throw errorFromResponse({ method, path: path.split('?')[0], status: res.status, body: parsed, text: res.text });
    return parsed as R;
  }

  get<T extends KubeObject>(r: Resource<T>, name: string, opts: { namespace?: string } = {}): Promise<T> {
    return this.request<T>('GET', resourcePath(r, { namespace: opts.namespace, name }));
  }

  /** get, or undefined when it does not exist. */
  async tryGet<T extends KubeObject>(r: Resource<T>, name: string, opts: { namespace?: string } = {}): Promise<T | undefined> {
    try {
      return await this.get(r, name, opts);
    } catch (err) {
      if (err instanceof ApiClientError && err.kind === 'notFound') return undefined;
      throw err;
    }
  }

  /** One page of a list. */
  list<T extends KubeObject>(r: Resource<T>, opts: ListOptions = {}): Promise<KubeList<T>> {
    const path = resourcePath(r, { namespace: opts.namespace }) + query({
      labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.limit, continue: opts.continue, resourceVersion: opts.resourceVersion,
    });
    return this.request<KubeList<T>>('GET', path);
  }

  /** Every page of a list (`limit` per page, default 500); the resourceVersion is the first page's. */
  async listAll<T extends KubeObject>(r: Resource<T>, opts: Omit<ListOptions, 'continue'> = {}): Promise<KubeList<T>> {
    const first = await this.list(r, { ...opts, limit: opts.limit ?? 500 });
    const items = [...first.items];
    let token = first.metadata.continue;
    while (token !== undefined && token !== '') {
      const page = await this.list(r, { ...opts, limit: opts.limit ?? 500, continue: token });
      items.push(...page.items);
      token = page.metadata.continue;
    }
    return { ...first, metadata: { resourceVersion: first.metadata.resourceVersion }, items };
  }

  create<T extends KubeObject>(r: Resource<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    const ns = opts.namespace ?? obj.metadata.namespace;
    const path = resourcePath(r, { namespace: ns }) + query({ fieldManager: opts.fieldManager, dryRun: opts.dryRun === true ? 'All' : undefined });
    return this.request<T>('POST', path, obj);
  }

  /** PUT the object; its metadata.resourceVersion (if set) is the precondition. */
  async update<T extends KubeObject>(r: Resource<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    const path = resourcePath(r, { namespace: opts.namespace ?? obj.metadata.namespace, name: nameOf(obj, `update ${r.plural}`) })
      + query({ fieldManager: opts.fieldManager, dryRun: opts.dryRun === true ? 'All' : undefined });
    return this.request<T>('PUT', path, obj);
  }

  /** PUT the status subresource. */
  async updateStatus<T extends KubeObject>(r: Resource<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    const path = resourcePath(r, { namespace: opts.namespace ?? obj.metadata.namespace, name: nameOf(obj, `update ${r.plural}/status`), subresource: 'status' })
      + query({ fieldManager: opts.fieldManager });
    return this.request<T>('PUT', path, obj);
  }

  patch<T extends KubeObject>(r: Resource<T>, name: string, patch: unknown, opts: WriteOptions & { type?: PatchType; subresource?: 'status' | 'scale' } = {}): Promise<T> {
    const path = resourcePath(r, { namespace: opts.namespace, name, subresource: opts.subresource })
      + query({ fieldManager: opts.fieldManager, dryRun: opts.dryRun === true ? 'All' : undefined });
    return this.request<T>('PATCH', path, patch, { contentType: PATCH_CONTENT_TYPES[opts.type ?? 'merge'] });
  }

  patchStatus<T extends KubeObject>(r: Resource<T>, name: string, patch: unknown, opts: WriteOptions & { type?: PatchType } = {}): Promise<T> {
    return this.patch(r, name, patch, { ...opts, subresource: 'status' });
  }

  /** DELETE; returns the object as the server answered (still present with a deletionTimestamp, or gone). */
  delete<T extends KubeObject>(r: Resource<T>, name: string, opts: DeleteOptions = {}): Promise<T | ApiStatus> {
    const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (opts.propagationPolicy !== undefined) body.propagationPolicy = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.preconditions !== undefined) body.preconditions = opts.preconditions;
    return this.request<T | ApiStatus>('DELETE', resourcePath(r, { namespace: opts.namespace, name }), body);
  }

  /** POST pods/<name>/binding: assign a pending pod to a node. `uid` guards against a recreated pod of the same name. */
  async bind(opts: { namespace: string; pod: string; node: string; uid?: string }): Promise<void> {
    const body = {
      kind: 'Binding', apiVersion: 'v1',
      metadata: { name: opts.pod, namespace: opts.namespace, ...(opts.uid === undefined ? {} : { uid: opts.uid }) },
      target: { kind: 'Node', apiVersion: 'v1', name: opts.node },
    };
    await this.request('POST', resourcePath(PODS, { namespace: opts.namespace, name: opts.pod, subresource: 'binding' }), body);
  }

  /** Open a watch. Resolves once the server answered with headers; events then arrive through iteration. */
  async watch<T extends KubeObject>(r: Resource<T>, opts: WatchOptions = {}): Promise<WatchStream<T>> {
    const basePath = resourcePath(r, { namespace: opts.namespace });
    const path = basePath + query({
      watch: 'true', labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, resourceVersion: opts.resourceVersion,
      timeoutSeconds: opts.timeoutSeconds, allowWatchBookmarks: opts.allowBookmarks === true ? 'true' : undefined,
    });
    const stream: HttpStream = await this.#transport.stream({ method: 'GET', path });
    if (stream.status < 200 || stream.status >= 300) {
      let text = '';
      for await (const line of stream.lines) text += line;
      throw errorFromResponse({ method: 'GET', path: basePath, status: stream.status, body: parseJson(text), text });
    }
    // The server ends the watch after timeoutSeconds; if that end never arrives the connection is dead.
    const deadline = opts.timeoutSeconds === undefined ? undefined : setTimeout(() => stream.close(), (opts.timeoutSeconds + 30) * 1000);
    deadline?.unref();
    return {
      close: () => { if (deadline !== undefined) clearTimeout(deadline); stream.close(); },
      [Symbol.asyncIterator]: async function* (): AsyncGenerator<WatchEvent<T>> {
        try {
          yield* events();
        } finally {
          if (deadline !== undefined) clearTimeout(deadline);
        }
      },
    };
    async function* events(): AsyncGenerator<WatchEvent<T>> {
      for await (const line of stream.lines) {
        let ev: { type?: string; object?: unknown };
        try {
          ev = JSON.parse(line) as { type?: string; object?: unknown };
        } catch (err) {
          stream.close();
          throw new ApiClientError({ kind: 'other', status: 200, message: `watch ${basePath}: undecodable event: ${(err as Error).message}`, cause: err });
        }
        if (ev.type === 'ERROR') {
          stream.close();
          throw errorFromWatchStatus(basePath, ev.object);
        }
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED' || ev.type === 'BOOKMARK') {
          yield { type: ev.type, object: ev.object as T };
        }
      }
    }
  }

  close(): void {
    this.#transport.close();
  }
}
