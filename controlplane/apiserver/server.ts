// The HTTPS front door: authentication, authorization, routing, content negotiation and watch
// streaming. Handlers are thin: semantics live in registry.ts, formats in table.ts/discovery.ts,
// decisions in auth.ts. Every error leaves as a Status body with the same HTTP code.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { StoreError, type Store } from '../store/types.ts';
import { Registry, isObj, type Obj, type DeleteOptions } from './registry.ts';
import { ApiError, badRequest, buildSuccessStatus, internalError, methodNotAllowed, pathNotFound, unauthorized, unsupportedMediaType, notFound, conflict, isApiError, buildFailureStatus } from './errors.ts';
import { parseRequestTarget, type RequestTarget } from './request-info.ts';
import { authorize, forbiddenError, type Attributes, type NodeGraph } from './auth.ts';
import type { TokenAuthenticator, UserInfo } from './tokens.ts';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, aggregatedDiscovery, wantsAggregated, AGGREGATED_CONTENT_TYPE, OPENAPI_V2_MINIMAL, versionInfo } from './discovery.ts';
import { parseFieldSelector, parseLabelSelector, formatLabelSelector, labelSelectorFromObject } from './selectors.ts';
import { supportedFields } from './fields.ts';
import { buildTable, buildTableRow, parseIncludeObject, wantsTable } from './table.ts';
import { applyPatch, patchTypeOf } from './patch.ts';
import { startWatch, type ApiWatchEvent } from './watch.ts';
import { apiVersionOf, RESOURCES, type ResourceInfo } from './resources.ts';
import { checkUnknownFields, findDuplicateKeys, type FieldValidation } from './field-validation.ts';
import { decodeProtobufBody, PROTOBUF_CONTENT_TYPE } from './protobuf.ts';
import { ApiMetrics } from './metrics.ts';
import type { DefaultsOptions } from './defaults.ts';

const MAX_BODY_BYTES = 3 * 1024 * 1024;
const ANONYMOUS_PATHS = new Set(['/version', '/healthz', '/readyz', '/livez']);
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];

export interface ApiServerOptions {
  readonly store: Store;
  readonly log: Logger;
  readonly tokens: TokenAuthenticator;
  readonly tls: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Address clients use, for /api's serverAddressByClientCIDRs. */
  readonly advertiseAddress?: string;
  readonly bookmarkIntervalMs?: number;
  readonly namespaceRetryMs?: number;
  /** Reach a node agent for pods/log; undefined = not available yet. */
  readonly nodeProxy?: NodeProxy;
  /** Settings of the defaults (--default-*-toleration-seconds); kube-apiserver's when undefined. */
  readonly defaults?: DefaultsOptions;
}

export interface NodeProxy {
  containerLogs(opts: { node: Obj; namespace: string; pod: string; container: string; query: URLSearchParams; res: ServerResponse }): Promise<void>;
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly user: UserInfo;
  readonly warnings: string[];
  /** The JSON text of the body, for checks JSON.parse cannot make (duplicate keys). */
  rawJson?: string;
  /** What the request addresses, once routed (metrics reuse it). */
  target?: ReturnType<typeof parseRequestTarget>;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw badRequest(`invalid value for ${name}: ${v}`);
  return n;
}

function dryRunOf(q: URLSearchParams): boolean {
  const v = q.getAll('dryRun');
  for (const d of v) if (d !== 'All') throw badRequest(`unsupported dry run value "${d}": only All is supported`);
  return v.length > 0;
}

function fieldValidationOf(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '' || v === 'Warn') return 'Warn';
  if (v === 'Strict' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${v}"`);
}

/**
 * One JSON line per (event type, object): watchers of the same prefix share the decoded object (see
 * watch.ts), so the line is built once for all of them. Table events carry ages and are not cached.
 */
const serializedEvents = new WeakMap<Obj, Map<string, string>>();

function serializeEvent(ev: ApiWatchEvent): string {
  let byType = serializedEvents.get(ev.object);
  if (byType === undefined) {
    byType = new Map();
    serializedEvents.set(ev.object, byType);
  }
  let line = byType.get(ev.type);
  if (line === undefined) {
    line = `${JSON.stringify({ type: ev.type, object: ev.object })}\n`;
    byType.set(ev.type, line);
  }
  return line;
}

const BINDING_CREATED = Object.freeze({ ...buildSuccessStatus(), code: 201 });

/** The whole body, with events rather than an async iterator (cheaper per request); 413 past the limit. */
function readRequestBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        cleanup();
        req.resume(); // drain the rest; the 413 goes out once the handler throws
        reject(new ApiError({ httpCode: 413, reason: 'BadRequest', message: `request body too large: more than ${MAX_BODY_BYTES} bytes` }));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      if (req.complete) return;
      cleanup();
      reject(badRequest('the request body ended early'));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export class ApiServer {
  readonly registry: Registry;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #tokens: TokenAuthenticator;
  readonly #server: Server;
  readonly #watches = new Set<() => void>();
  readonly #sockets = new Set<Socket>();
  readonly #finalizing = new Set<string>();
  readonly #opts: ApiServerOptions;
  readonly #metrics = new ApiMetrics();
  #closing = false;
  #address = '127.0.0.1:6443';

  constructor(opts: ApiServerOptions) {
    this.#opts = opts;
    this.#store = opts.store;
    this.#log = opts.log;
    this.#tokens = opts.tokens;
    this.registry = new Registry({ store: opts.store, log: opts.log.child({ component: 'registry' }), defaults: opts.defaults });
    this.#server = createServer({ key: opts.tls.key, cert: opts.tls.cert }, (req, res) => { void this.#handle(req, res); });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket) => { this.#handleUpgrade(req, socket); });
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#server.on('tlsClientError', (err) => this.#log.debug({ err: err.message }, 'tls handshake failed'));
  }

  /** Create the namespaces every cluster has, and resume finalizing terminating ones. */
  async bootstrap(): Promise<void> {
    await this.registry.ensureNamespaces(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
    const nsInfo = RESOURCES.find((r) => r.resource === 'namespaces')!;
    const { items } = await this.registry.list(nsInfo, undefined, { labels: [], fields: [] });
    for (const ns of items) {
      if (isObj(ns.metadata) && ns.metadata.deletionTimestamp !== undefined) this.#finalizeNamespace(String(ns.metadata.name));
    }
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const addr = this.#server.address();
    const bound = typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : { host, port };
    this.#address = `${this.#opts.advertiseAddress ?? bound.host}:${bound.port}`;
    return bound;
  }

  /** Stop accepting, end every watch (clients see a clean end of stream), then close connections. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const stop of [...this.#watches]) stop();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const timer = setTimeout(() => { for (const s of this.#sockets) s.destroy(); }, 2000);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }

  #authenticate(req: IncomingMessage): UserInfo | undefined {
    const auth = firstHeader(req.headers.authorization);
    if (auth === undefined) return undefined;
    const m = auth.match(/^Bearer\s+(\S+)\s*$/i);
    if (m === null) return undefined;
    return this.#tokens.authenticate(m[1]);
  }

  #graph(): NodeGraph {
    const podInfo = RESOURCES.find((r) => r.resource === 'pods')!;
    return {
      getPod: (ns, name) => this.registry.tryGet(podInfo, ns, name),
      podsOnNode: async (node) => (await this.registry.list(podInfo, undefined, { labels: [], fields: [{ field: 'spec.nodeName', op: 'eq', value: node }] })).items,
      getNode: (name) => this.registry.tryGet(RESOURCES.find((r) => r.resource === 'nodes')!, undefined, name),
    };
  }

  #sendJson(ctx: { res: ServerResponse; warnings?: string[] }, code: number, body: unknown, contentType = 'application/json'): void {
    const text = JSON.stringify(body);
    const headers: Record<string, string | string[]> = { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-cache, private' };
    if (ctx.warnings !== undefined && ctx.warnings.length > 0) headers.Warning = ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
    ctx.res.writeHead(code, headers);
    ctx.res.end(text);
  }

  #sendError(res: ServerResponse, err: unknown, warnings?: string[]): void {
    const apiErr = isApiError(err) ? err
      : err instanceof StoreError && (err.kind === 'unavailable' || err.kind === 'closed') ? new ApiError({ httpCode: 503, reason: 'ServiceUnavailable', message: `the storage is unavailable: ${err.message}`, cause: err })
      : internalError(err instanceof Error ? err.message : String(err), err);
    if (apiErr.httpCode >= 500) this.#log.error({ err: apiErr.message, cause: err instanceof Error ? err.stack : undefined }, 'request failed');
    if (res.headersSent) { res.destroy(); return; }
    this.#sendJson({ res, warnings }, apiErr.httpCode, apiErr.toStatus());
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'https://moor.invalid');
    const warnings: string[] = [];
    let target: ReturnType<typeof parseRequestTarget> | undefined;
    try {
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (ANONYMOUS_PATHS.has(path) || path.startsWith('/healthz/') || path.startsWith('/livez/') || path.startsWith('/readyz/')) {
        const user = this.#authenticate(req);
        if (path === '/version') { this.#sendJson({ res }, 200, versionInfo()); return; }
        if (user === undefined && req.headers.authorization !== undefined) throw unauthorized();
        res.writeHead(this.#closing && path.startsWith('/readyz') ? 500 : 200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(this.#closing && path.startsWith('/readyz') ? 'shutting down' : 'ok');
        return;
      }
      const user = this.#authenticate(req);
      if (user === undefined) throw unauthorized();
      const ctx: RequestContext = { req, res, url, user, warnings };
      try {
        await this.#route(ctx, path);
      } finally {
        target = ctx.target;
      }
    } catch (err) {
      this.#sendError(res, err, warnings);
    } finally {
      const ms = Date.now() - started;
      const t = target ?? parseRequestTarget(req.method ?? 'GET', url.pathname, url.searchParams);
      const verb = t.type === 'resource' ? t.verb : (req.method ?? 'GET').toLowerCase();
      const resource = t.type === 'resource' ? (t.subresource === undefined ? t.info.resource : `${t.info.resource}/${t.subresource}`) : '';
      this.#metrics.observe(verb, resource, res.statusCode, ms / 1000);
      this.#log.debug({ method: req.method, url: req.url, code: res.statusCode, ms }, 'request');
    }
  }

  async #route(ctx: RequestContext, path: string): Promise<void> {
    const { req, url } = ctx;
    const method = req.method ?? 'GET';
    const target = parseRequestTarget(method, path, url.searchParams);
    ctx.target = target;
    if (target.type === 'badMethod') throw methodNotAllowed();
    if (method === 'POST' && target.type === 'unknownResource') {
      if (path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') return this.#selfSubjectAccessReview(ctx, path);
      if (path === '/apis/authentication.k8s.io/v1/selfsubjectreviews') return this.#selfSubjectReview(ctx, path);
    }
    const attrs: Attributes = target.type === 'resource'
      ? { user: ctx.user, verb: target.verb, path, resource: { group: target.info.group, resource: target.info.resource, subresource: target.subresource, namespace: target.namespace, name: target.name } }
      : { user: ctx.user, verb: method.toLowerCase(), path };
    // Creates name the object in the body; read it first so the node rules can see it.
    let body: unknown;
    if (target.type === 'resource' && (method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE')) body = await this.#readBody(ctx, target);
    const bodyName = isObj(body) && isObj(body.metadata) && typeof body.metadata.name === 'string' ? body.metadata.name : undefined;
    const isCreate = target.type === 'resource' && target.verb === 'create' && target.subresource === undefined;
    const decision = await authorize(attrs, this.#graph(), isCreate ? bodyName : undefined, isCreate ? body : undefined);
    if (!decision.allowed) throw forbiddenError(attrs, decision.reason);
    switch (target.type) {
      case 'apiVersions':
        if (wantsAggregated(firstHeader(req.headers.accept))) this.#sendJson(ctx, 200, aggregatedDiscovery(true), AGGREGATED_CONTENT_TYPE);
        else this.#sendJson(ctx, 200, apiVersions(this.#address));
        return;
      case 'groupList':
        if (wantsAggregated(firstHeader(req.headers.accept))) this.#sendJson(ctx, 200, aggregatedDiscovery(false), AGGREGATED_CONTENT_TYPE);
        else this.#sendJson(ctx, 200, apiGroupList());
        return;
      case 'group': {
        const g = apiGroup(target.group);
        if (g === undefined) throw pathNotFound();
        this.#sendJson(ctx, 200, g);
        return;
      }
      case 'resourceList': {
        const l = apiResourceList(target.group, target.version);
        if (l === undefined) throw pathNotFound();
        this.#sendJson(ctx, 200, l);
        return;
      }
      case 'unknownResource':
        throw pathNotFound();
      case 'nonResource':
        return this.#nonResource(ctx, path);
      case 'resource':
        return this.#resource(ctx, target, body);
    }
  }

  async #nonResource(ctx: RequestContext, path: string): Promise<void> {
    if (path === '/openapi/v2') {
      ctx.res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(OPENAPI_V2_MINIMAL.length) });
      ctx.res.end(OPENAPI_V2_MINIMAL);
      return;
    }
    if (path === '/metrics') {
      const { contentType, body } = await this.#metrics.text();
      ctx.res.writeHead(200, { 'Content-Type': contentType });
      ctx.res.end(body);
      return;
    }
    throw pathNotFound();
  }

  async #readBody(ctx: RequestContext, target: Extract<RequestTarget, { type: 'resource' }>): Promise<unknown> {
    const raw = await readRequestBody(ctx.req);
    if (raw.length === 0) return undefined;
    const contentType = (firstHeader(ctx.req.headers['content-type']) ?? 'application/json').split(';')[0].trim().toLowerCase();
    if (contentType === PROTOBUF_CONTENT_TYPE) return decodeProtobufBody(raw);
    if (ctx.req.method === 'PATCH') {
      if (contentType === 'application/apply-patch+yaml') throw unsupportedMediaType(contentType, PATCH_TYPES);
      if (patchTypeOf(contentType) === undefined) throw unsupportedMediaType(contentType, PATCH_TYPES);
    } else if (contentType !== 'application/json' && contentType !== '*/*' && !contentType.endsWith('+json')) {
      throw unsupportedMediaType(contentType, ['application/json', 'application/yaml', PROTOBUF_CONTENT_TYPE]);
    }
    try {
      ctx.rawJson = raw.toString('utf8');
      return JSON.parse(ctx.rawJson);
    } catch (err) {
      const kind = target.info.kind;
      throw badRequest(`${kind} in version "${target.info.version}" cannot be handled as a ${kind}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Apply `fieldValidation` to a JSON body: Strict fails with 400, Warn adds warnings, Ignore skips. */
  #checkFields(ctx: RequestContext, info: ResourceInfo, kind: string, body: unknown): void {
    const mode = fieldValidationOf(ctx.url.searchParams);
    if (mode === 'Ignore') return;
    const problems = [
      ...(ctx.rawJson === undefined ? [] : findDuplicateKeys(ctx.rawJson).map((f) => `duplicate field "${f}"`)),
      ...checkUnknownFields(info.kind === kind ? apiVersionOf(info) : 'autoscaling/v1', kind, body).map((f) => `unknown field "${f}"`),
    ];
    if (problems.length === 0) return;
    if (mode === 'Strict') {
      throw badRequest(`${kind} in version "${info.version}" cannot be handled as a ${kind}: strict decoding error: ${problems.join(', ')}`);
    }
    ctx.warnings.push(...problems);
  }

  async #resource(ctx: RequestContext, t: Extract<RequestTarget, { type: 'resource' }>, body: unknown): Promise<void> {
    const { info } = t;
    // Namespaced objects are addressed inside their namespace; only list and watch span all of them.
    if (info.namespaced && t.namespace === undefined && t.verb !== 'list' && t.verb !== 'watch') throw pathNotFound();
    if (t.subresource !== undefined) return this.#subresource(ctx, t, body);
    const q = ctx.url.searchParams;
    switch (t.verb) {
      case 'get': {
        const o = await this.registry.get(info, t.namespace, t.name!);
        this.#sendObject(ctx, info, o);
        return;
      }
      case 'list': {
        const labels = parseLabelSelector(q.get('labelSelector') ?? undefined);
        const fields = parseFieldSelector(q.get('fieldSelector') ?? undefined, supportedFields(info.kind));
        const out = await this.registry.list(info, t.namespace, { labels, fields, limit: intParam(q, 'limit'), continueToken: q.get('continue') ?? undefined });
        if (wantsTable(firstHeader(ctx.req.headers.accept))) {
          this.#sendJson(ctx, 200, buildTable(info.kind, out.items, { nowMs: Date.now(), include: parseIncludeObject(q.get('includeObject') ?? undefined), resourceVersion: out.resourceVersion, continueToken: out.continueToken }));
          return;
        }
        const metadata: Obj = { resourceVersion: out.resourceVersion };
        if (out.continueToken !== undefined) metadata.continue = out.continueToken;
        this.#sendJson(ctx, 200, { kind: info.listKind, apiVersion: apiVersionOf(info), metadata, items: out.items });
        return;
      }
      case 'watch':
        return this.#watch(ctx, info, t.namespace);
      case 'create': {
        if (!isObj(body)) throw badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: the request body must be an object`);
        this.#checkFields(ctx, info, info.kind, body);
        const created = await this.registry.create(info, t.namespace, body, { dryRun: dryRunOf(q) });
        this.#sendJson(ctx, 201, created);
        return;
      }
      case 'update': {
        if (!isObj(body)) throw badRequest('the request body must be an object');
        this.#checkFields(ctx, info, info.kind, body);
        const updated = await this.registry.update(info, t.namespace, t.name!, body, { dryRun: dryRunOf(q) });
        this.#sendJson(ctx, 200, updated);
        return;
      }
      case 'patch': {
        const updated = await this.#patch(ctx, info, t, body, 'main');
        this.#sendJson(ctx, 200, updated);
        return;
      }
      case 'delete': {
        const opts = this.#deleteOptions(body, q);
        const out = await this.registry.delete(info, t.namespace, t.name!, opts);
        if (!out.deleted) this.#afterLinger(info, out.object);
        this.#sendJson(ctx, 200, out.object);
        return;
      }
      case 'deletecollection': {
        const labels = parseLabelSelector(q.get('labelSelector') ?? undefined);
        const fields = parseFieldSelector(q.get('fieldSelector') ?? undefined, supportedFields(info.kind));
        const items = await this.registry.deleteCollection(info, t.namespace, { labels, fields }, this.#deleteOptions(body, q));
        for (const o of items) this.#afterLinger(info, o);
        this.#sendJson(ctx, 200, { kind: info.listKind, apiVersion: apiVersionOf(info), metadata: {}, items });
        return;
      }
    }
  }

  #afterLinger(info: ResourceInfo, o: Obj): void {
    if (info.kind === 'Namespace' && isObj(o.metadata)) this.#finalizeNamespace(String(o.metadata.name));
  }

  /** Namespace controller, in-process: delete the contents, then the namespace; retry while anything is left. */
  #finalizeNamespace(name: string): void {
    if (this.#finalizing.has(name)) return;
    this.#finalizing.add(name);
    const retryMs = this.#opts.namespaceRetryMs ?? 500;
    const step = async (): Promise<void> => {
      if (this.#closing) { this.#finalizing.delete(name); return; }
      try {
        const left = await this.registry.finalizeNamespace(name);
        if (left === 0) { this.#finalizing.delete(name); return; }
      } catch (err) {
        this.#log.warn({ namespace: name, err: err instanceof Error ? err.message : String(err) }, 'finalize namespace failed, will retry');
      }
      setTimeout(() => { void step(); }, retryMs).unref();
    };
    void step();
  }

  #deleteOptions(body: unknown, q: URLSearchParams): DeleteOptions {
    const b = isObj(body) ? body : {};
    const grace = typeof b.gracePeriodSeconds === 'number' ? b.gracePeriodSeconds : intParam(q, 'gracePeriodSeconds');
    let policy = (typeof b.propagationPolicy === 'string' ? b.propagationPolicy : q.get('propagationPolicy') ?? undefined) as DeleteOptions['propagationPolicy'] | undefined;
    if (policy === undefined && (b.orphanDependents === true || q.get('orphanDependents') === 'true')) policy = 'Orphan';
    if (policy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(policy)) throw badRequest(`unsupported propagation policy "${String(policy)}"`);
    const pre = isObj(b.preconditions) ? b.preconditions : {};
    return {
      gracePeriodSeconds: grace,
      propagationPolicy: policy,
      preconditions: { uid: typeof pre.uid === 'string' ? pre.uid : undefined, resourceVersion: typeof pre.resourceVersion === 'string' ? pre.resourceVersion : undefined },
      dryRun: (Array.isArray(b.dryRun) && b.dryRun.includes('All')) || dryRunOf(q),
    };
  }

  async #patch(ctx: RequestContext, info: ResourceInfo, t: Extract<RequestTarget, { type: 'resource' }>, body: unknown, mode: 'main' | 'status'): Promise<Obj> {
    const contentType = (firstHeader(ctx.req.headers['content-type']) ?? '').toLowerCase();
    const type = patchTypeOf(contentType);
    if (type === undefined) throw unsupportedMediaType(contentType, PATCH_TYPES);
    if (body === undefined) throw badRequest('the patch body is empty');
    if (type !== 'json') this.#checkFields(ctx, info, info.kind, body);
    return this.registry.mutate(info, t.namespace, t.name!, (cur) => {
      const next = applyPatch(type, info.kind, cur, body);
      if (!isObj(next)) throw badRequest('the patch did not produce an object');
      return next;
    }, { mode, dryRun: dryRunOf(ctx.url.searchParams) });
  }

  #sendObject(ctx: RequestContext, info: ResourceInfo, o: Obj): void {
    if (wantsTable(firstHeader(ctx.req.headers.accept))) {
      this.#sendJson(ctx, 200, buildTable(info.kind, [o], { nowMs: Date.now(), include: parseIncludeObject(ctx.url.searchParams.get('includeObject') ?? undefined) }));
      return;
    }
    this.#sendJson(ctx, 200, o);
  }

  async #subresource(ctx: RequestContext, t: Extract<RequestTarget, { type: 'resource' }>, body: unknown): Promise<void> {
    const { info } = t;
    const sub = t.subresource!;
    if (!info.subresources.some((s) => s.name === sub) && !(info.kind === 'Namespace' && sub === 'finalize')) throw pathNotFound();
    const name = t.name!;
    const q = ctx.url.searchParams;
    if (sub === 'status') {
      switch (t.verb) {
        case 'get': return this.#sendObject(ctx, info, await this.registry.get(info, t.namespace, name));
        case 'update': {
          if (!isObj(body)) throw badRequest('the request body must be an object');
          this.#sendJson(ctx, 200, await this.registry.update(info, t.namespace, name, body, { mode: 'status', dryRun: dryRunOf(q) }));
          return;
        }
        case 'patch': this.#sendJson(ctx, 200, await this.#patch(ctx, info, t, body, 'status')); return;
        default: throw methodNotAllowed();
      }
    }
    if (sub === 'scale') return this.#scale(ctx, t, body);
    if (sub === 'finalize' && t.verb === 'update') {
      if (!isObj(body)) throw badRequest('the request body must be an object');
      const spec = isObj(body.spec) ? body.spec : {};
      const out = await this.registry.mutate(info, undefined, name, (cur) => ({ ...cur, spec: { ...(isObj(cur.spec) ? cur.spec : {}), finalizers: Array.isArray(spec.finalizers) ? spec.finalizers : [] } }), { mode: 'all' });
      this.#sendJson(ctx, 200, out);
      return;
    }
    if (info.kind === 'Pod') {
      if (sub === 'binding' && t.verb === 'create') return this.#bind(ctx, t.namespace!, name, body);
      if (sub === 'eviction' && t.verb === 'create') {
        const b = isObj(body) ? body : {};
        // No disruption budgets: every eviction is allowed and becomes a graceful delete.
        await this.registry.delete(info, t.namespace, name, this.#deleteOptions(b.deleteOptions, new URLSearchParams()));
        this.#sendJson(ctx, 201, { ...buildSuccessStatus(), code: 201 });
        return;
      }
      if (sub === 'log' && t.verb === 'get') return this.#podLog(ctx, info, t.namespace!, name);
      if (sub === 'exec' || sub === 'attach' || sub === 'portforward') throw badRequest('Upgrade request required');
    }
    throw methodNotAllowed();
  }

  async #bind(ctx: RequestContext, namespace: string, name: string, body: unknown): Promise<void> {
    const b = isObj(body) ? body : {};
    const target = isObj(b.target) ? b.target : {};
    const node = typeof target.name === 'string' ? target.name : '';
    if (node === '') throw badRequest('binding target.name is required');
    const uid = isObj(b.metadata) && typeof b.metadata.uid === 'string' ? b.metadata.uid : undefined;
    await this.registry.bindPod(namespace, name, { node, uid });
    this.#sendJson(ctx, 201, BINDING_CREATED);
  }

  async #podLog(ctx: RequestContext, info: ResourceInfo, namespace: string, name: string): Promise<void> {
    const pod = await this.registry.get(info, namespace, name);
    const spec = isObj(pod.spec) ? pod.spec : {};
    const containers = (Array.isArray(spec.containers) ? spec.containers : []).map((c: Obj) => String(c.name));
    const inits = (Array.isArray(spec.initContainers) ? spec.initContainers : []).map((c: Obj) => String(c.name));
    let container = ctx.url.searchParams.get('container') ?? '';
    if (container === '') {
      if (containers.length !== 1) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
      container = containers[0];
    }
    if (!containers.includes(container) && !inits.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    const nodeName = typeof spec.nodeName === 'string' ? spec.nodeName : '';
    if (nodeName === '') throw badRequest(`pod ${name} does not have a host assigned`);
    const status = isObj(pod.status) ? pod.status : {};
    const statuses = [status.containerStatuses, status.initContainerStatuses].flatMap((l) => (Array.isArray(l) ? l.filter(isObj) : []));
    const cs = statuses.find((c) => c.name === container);
    const state = cs !== undefined && isObj(cs.state) ? cs.state : undefined;
    const previous = ctx.url.searchParams.get('previous') === 'true';
    const everRan = cs !== undefined && isObj(cs.lastState) && isObj(cs.lastState.terminated);
    if (!previous && !everRan && (cs === undefined || (state !== undefined && isObj(state.waiting)))) {
      const reason = state !== undefined && isObj(state.waiting) && typeof state.waiting.reason === 'string' ? state.waiting.reason : 'ContainerCreating';
      throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${reason}`);
    }
    const nodeInfo = RESOURCES.find((r) => r.resource === 'nodes')!;
    const node = await this.registry.tryGet(nodeInfo, undefined, nodeName);
    if (node === undefined) throw notFound(nodeInfo, nodeName);
    if (this.#opts.nodeProxy === undefined) {
      throw new ApiError({ httpCode: 503, reason: 'ServiceUnavailable', message: `get logs of pod ${namespace}/${name} container ${container}: the node agent log proxy is not available in this Moor version` });
    }
    await this.#opts.nodeProxy.containerLogs({ node, namespace, pod: name, container, query: ctx.url.searchParams, res: ctx.res });
  }

  async #scale(ctx: RequestContext, t: Extract<RequestTarget, { type: 'resource' }>, body: unknown): Promise<void> {
    const { info } = t;
    const name = t.name!;
    const toScale = (o: Obj): Obj => {
      const md = isObj(o.metadata) ? o.metadata : {};
      const spec = isObj(o.spec) ? o.spec : {};
      const status = isObj(o.status) ? o.status : {};
      const sel = labelSelectorFromObject(spec.selector);
      return {
        kind: 'Scale', apiVersion: 'autoscaling/v1',
        metadata: { name: md.name, namespace: md.namespace, uid: md.uid, resourceVersion: md.resourceVersion, creationTimestamp: md.creationTimestamp },
        spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
        status: { replicas: typeof status.replicas === 'number' ? status.replicas : 0, selector: sel === undefined ? '' : formatLabelSelector(sel) },
      };
    };
    const writeReplicas = async (next: (scale: Obj) => Obj): Promise<Obj> => {
      const updated = await this.registry.mutate(info, t.namespace, name, (cur) => {
        const rv = isObj(cur.metadata) ? cur.metadata.resourceVersion : undefined;
        const scale = toScale(cur);
        const out = next(scale);
        const outSpec = isObj(out.spec) ? out.spec : {};
        if (typeof outSpec.replicas !== 'number' || !Number.isInteger(outSpec.replicas) || outSpec.replicas < 0) {
          throw new ApiError({ httpCode: 422, reason: 'Invalid', message: `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(outSpec.replicas)}: must be greater than or equal to 0` });
        }
        const outRv = isObj(out.metadata) ? out.metadata.resourceVersion : undefined;
        const result: Obj = { ...cur, spec: { ...(isObj(cur.spec) ? cur.spec : {}), replicas: outSpec.replicas } };
        if (outRv !== undefined && outRv !== rv) (result.metadata as Obj).resourceVersion = outRv;
        return result;
      }, { dryRun: dryRunOf(ctx.url.searchParams) });
      return toScale(updated);
    };
    switch (t.verb) {
      case 'get': this.#sendJson(ctx, 200, toScale(await this.registry.get(info, t.namespace, name))); return;
      case 'update': {
        if (!isObj(body)) throw badRequest('the request body must be an object');
        this.#sendJson(ctx, 200, await writeReplicas(() => body));
        return;
      }
      case 'patch': {
        const type = patchTypeOf(firstHeader(ctx.req.headers['content-type']) ?? '');
        if (type === undefined) throw unsupportedMediaType(firstHeader(ctx.req.headers['content-type']) ?? '', PATCH_TYPES);
        this.#sendJson(ctx, 200, await writeReplicas((scale) => {
          const out = applyPatch(type, 'Scale', scale, body);
          if (!isObj(out)) throw badRequest('the patch did not produce an object');
          return out;
        }));
        return;
      }
      default: throw methodNotAllowed();
    }
  }

  async #watch(ctx: RequestContext, info: ResourceInfo, namespace: string | undefined): Promise<void> {
    const q = ctx.url.searchParams;
    const labels = parseLabelSelector(q.get('labelSelector') ?? undefined);
    const fields = parseFieldSelector(q.get('fieldSelector') ?? undefined, supportedFields(info.kind));
    const table = wantsTable(firstHeader(ctx.req.headers.accept));
    const include = parseIncludeObject(q.get('includeObject') ?? undefined);
    const timeoutSeconds = intParam(q, 'timeoutSeconds') ?? Math.floor(1800 * (1 + Math.random()));
    const { res, req } = ctx;
    // Headers go out at once, before any event: kubectl's wait and rollout status need them (contract §6).
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    let ended = false;
    let stop: (() => void) | undefined;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      stop?.();
      this.#watches.delete(finish);
      this.#metrics.watchClosed();
      clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    this.#watches.add(finish);
    this.#metrics.watchOpened();
    const timer = setTimeout(finish, timeoutSeconds * 1000);
    timer.unref();
    req.on('close', finish);
    res.on('close', finish);
    const send = (ev: ApiWatchEvent): void => {
      if (ended) return;
      let object: unknown = ev.object;
      if (table && (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED')) {
        const t = buildTable(info.kind, [], { nowMs: Date.now(), include });
        t.rows.push(buildTableRow(info.kind, ev.object, { nowMs: Date.now(), include }));
        t.metadata.resourceVersion = String(isObj(ev.object.metadata) ? ev.object.metadata.resourceVersion : '');
        object = t;
      }
      res.write(table ? `${JSON.stringify({ type: ev.type, object })}\n` : serializeEvent(ev));
    };
    try {
      stop = await startWatch(this.#store, this.registry, {
        info, namespace, labels, fields,
        resourceVersion: q.get('resourceVersion') ?? undefined,
        allowBookmarks: q.get('allowWatchBookmarks') === 'true',
        sendInitialEvents: q.get('sendInitialEvents') === 'true',
        bookmarkIntervalMs: this.#opts.bookmarkIntervalMs ?? 60_000,
      }, { send, end: finish });
      if (ended) stop();
    } catch (err) {
      const apiErr = isApiError(err) ? err : internalError(err instanceof Error ? err.message : String(err));
      send({ type: 'ERROR', object: buildFailureStatus(apiErr.httpCode, apiErr.reason, apiErr.message) as unknown as Obj });
      finish();
    }
  }

  async #readReviewBody(ctx: RequestContext, path: string): Promise<Obj> {
    const review = await this.#readBody(ctx, { type: 'resource', verb: 'create', info: { ...RESOURCES[0], kind: path.includes('authorization') ? 'SelfSubjectAccessReview' : 'SelfSubjectReview', version: 'v1' } });
    return isObj(review) ? review : {};
  }

  /** `kubectl auth can-i`: the authorizer's answer for the caller, never stored. Every authenticated user may ask. */
  async #selfSubjectAccessReview(ctx: RequestContext, path: string): Promise<void> {
    const review = await this.#readReviewBody(ctx, path);
    const spec = isObj(review.spec) ? review.spec : {};
    const ra = isObj(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
    const nra = isObj(spec.nonResourceAttributes) ? spec.nonResourceAttributes : {};
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
    const attrs: Attributes = ra === undefined
      ? { user: ctx.user, verb: str(nra.verb) ?? 'get', path: str(nra.path) ?? '/' }
      : { user: ctx.user, verb: str(ra.verb) ?? 'get', path, resource: { group: str(ra.group) ?? '', resource: str(ra.resource) ?? '', subresource: str(ra.subresource), namespace: str(ra.namespace), name: str(ra.name) } };
    const decision = await authorize(attrs, this.#graph());
    const status: Obj = { allowed: decision.allowed };
    if (!decision.allowed && decision.reason !== '') status.reason = decision.reason;
    this.#sendJson(ctx, 201, { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status });
  }

  /** `kubectl auth whoami`. */
  async #selfSubjectReview(ctx: RequestContext, path: string): Promise<void> {
    await this.#readReviewBody(ctx, path);
    this.#sendJson(ctx, 201, {
      kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null },
      status: { userInfo: { username: ctx.user.name, uid: ctx.user.uid, groups: [...ctx.user.groups, 'system:authenticated'] } },
    });
  }

  /** exec/attach/port-forward upgrades: not served yet; answer with a Status so kubectl prints it. */
  #handleUpgrade(req: IncomingMessage, socket: Socket): void {
    const user = this.#authenticate(req);
    const err = user === undefined ? unauthorized() : badRequest('exec, attach and port-forward are not supported by this Moor version');
    const text = JSON.stringify(err.toStatus());
    socket.end(`HTTP/1.1 ${err.httpCode} ${err.httpCode === 401 ? 'Unauthorized' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  }
}
