// Generic REST storage over the Store: create/get/list/update/delete for every resource in
// resources.ts, with the API semantics layered on top — resourceVersion = store modRevision, 409 on
// stale writes, uid/creationTimestamp/generateName, generation bumps, defaults, validation, status
// subresources, graceful pod deletion, finalizers, propagation policies. Handlers stay thin.

import { randomUUID, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { KeyValue, Store } from '../store/types.ts';
import { isStoreError } from '../store/types.ts';
import { RESOURCES, apiVersionOf, listPrefix, storageKey, type ResourceInfo } from './resources.ts';
import { ApiError, alreadyExists, badRequest, conflict, expired, forbidden, invalid, notFound, type FieldError } from './errors.ts';
import { applyDefaults, DEFAULT_DEFAULTS_OPTIONS, type DefaultsOptions } from './defaults.ts';
import { validateObject } from './validation.ts';
import { canonicalJson } from './patch.ts';
import { matchesFields, matchesLabels, type FieldSelector, type LabelSelector } from './selectors.ts';
import { objectFields } from './fields.ts';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function md(o: Obj): Obj {
  if (!isObj(o.metadata)) o.metadata = {};
  return o.metadata as Obj;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeObject(o: Obj): Uint8Array {
  const copy = { ...o, metadata: { ...md(o) } };
  delete (copy.metadata as Obj).resourceVersion;
  return encoder.encode(JSON.stringify(copy));
}

export function decodeObject(kv: KeyValue, revision = kv.modRevision): Obj {
  const o = JSON.parse(decoder.decode(kv.value)) as Obj;
  md(o).resourceVersion = String(revision);
  return o;
}

/** RFC 3339 without fractions, as Kubernetes writes metav1.Time. */
export function nowTimestamp(nowMs = Date.now()): string {
  return new Date(Math.floor(nowMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

export function generateNameSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_CHARS[randomInt(NAME_CHARS.length)];
  return s;
}

let podInfo: ResourceInfo | undefined;
function podResource(): ResourceInfo {
  podInfo ??= RESOURCES.find((r) => r.group === '' && r.resource === 'pods')!;
  return podInfo;
}

const GENERATION_KINDS = new Set(['Deployment', 'ReplicaSet', 'DaemonSet', 'Pod']);
const RESET_STATUS_ON_CREATE = new Set(['Deployment', 'ReplicaSet', 'DaemonSet', 'Pod', 'Service', 'Namespace']);
export const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);

/** `main` keeps a stored status (status subresource), `status` keeps all but the status, `all` is for the server's own writes. */
export type WriteMode = 'main' | 'status' | 'all';

export interface WriteOptions {
  readonly dryRun?: boolean;
}

export interface DeleteOptions {
  readonly gracePeriodSeconds?: number;
  readonly propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly dryRun?: boolean;
}

export interface ListQuery {
  readonly labels: LabelSelector;
  readonly fields: FieldSelector;
  readonly limit?: number;
  readonly continueToken?: string;
}

export interface ListOutcome {
  readonly items: Obj[];
  readonly resourceVersion: string;
  readonly continueToken?: string;
}

/** The result of a delete: the object is gone, or it stays with a deletionTimestamp. */
export type DeleteOutcome = { readonly deleted: true; readonly object: Obj } | { readonly deleted: false; readonly object: Obj };

export interface RegistryOptions {
  readonly store: Store;
  readonly log: Logger;
  readonly now?: () => number;
  /** Service cluster IP range: the first three octets and the usable host range of a /16 (10.96.0.0/16 by default). */
  readonly serviceCidr?: string;
  /** Settings of the defaults (default tolerations); kube-apiserver's defaults when undefined. */
  readonly defaults?: DefaultsOptions;
}

function matches(info: ResourceInfo, o: Obj, q: Pick<ListQuery, 'labels' | 'fields'>): boolean {
  const labels = isObj(md(o).labels) ? md(o).labels as Record<string, string> : undefined;
  return matchesLabels(q.labels, labels) && matchesFields(q.fields, objectFields(info.kind, o));
}

export function selectorMatches(info: ResourceInfo, o: Obj, q: Pick<ListQuery, 'labels' | 'fields'>): boolean {
  return matches(info, o, q);
}

function encodeContinue(revision: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 1, rv: revision, start: lastKey })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const d = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv?: unknown; start?: unknown };
    if (typeof d.rv === 'number' && typeof d.start === 'string') return { rv: d.rv, start: d.start };
  } catch (err) {
    throw badRequest(`invalid continue token: ${err instanceof Error ? err.message : String(err)}`);
  }
  throw badRequest('invalid continue token');
}

function specOf(o: Obj): unknown {
  return o.spec;
}

/** Pods wait for their node agent; everything else with finalizers waits for them to go. */
function mustLinger(info: ResourceInfo, o: Obj): boolean {
  const finalizers = md(o).finalizers;
  if (Array.isArray(finalizers) && finalizers.length > 0) return true;
  if (info.kind === 'Pod' && md(o).deletionTimestamp !== undefined) {
    const grace = md(o).deletionGracePeriodSeconds;
    return typeof grace === 'number' && grace > 0;
  }
  if (info.kind === 'Namespace' && md(o).deletionTimestamp !== undefined) {
    const spec = isObj(o.spec) ? o.spec : {};
    return Array.isArray(spec.finalizers) && spec.finalizers.length > 0;
  }
  return false;
}

export class Registry {
  readonly store: Store;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #serviceNet: string;
  readonly #defaults: DefaultsOptions;

  constructor(opts: RegistryOptions) {
    this.#defaults = opts.defaults ?? DEFAULT_DEFAULTS_OPTIONS;
    this.store = opts.store;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.#serviceNet = (opts.serviceCidr ?? '10.96.0.0/16').split('.').slice(0, 2).join('.');
  }

  async getKv(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KeyValue> {
    const kv = await this.store.get(storageKey(info, namespace, name));
    if (kv === undefined) throw notFound(info, name);
    return kv;
  }

  async get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<Obj> {
    return decodeObject(await this.getKv(info, namespace, name));
  }

  async tryGet(info: ResourceInfo, namespace: string | undefined, name: string): Promise<Obj | undefined> {
    const kv = await this.store.get(storageKey(info, namespace, name));
    return kv === undefined ? undefined : decodeObject(kv);
  }

  async list(info: ResourceInfo, namespace: string | undefined, q: ListQuery): Promise<ListOutcome> {
    const prefix = listPrefix(info, namespace);
    let revision: number | undefined;
    let start: string | undefined;
    if (q.continueToken !== undefined && q.continueToken !== '') {
      const c = decodeContinue(q.continueToken);
      revision = c.rv;
      start = c.start;
    }
    const items: Obj[] = [];
    const limit = q.limit !== undefined && q.limit > 0 ? q.limit : undefined;
    for (;;) {
      let page;
      try {
        page = await this.store.list(prefix, { startAfter: start, limit: limit === undefined ? undefined : Math.max(limit - items.length, 50), revision });
      } catch (err) {
        if (isStoreError(err, 'compacted')) throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
        throw err;
      }
      revision = page.revision;
      for (const kv of page.items) {
        start = kv.key;
        const o = decodeObject(kv);
        if (!matches(info, o, q)) continue;
        items.push(o);
        if (limit !== undefined && items.length >= limit) {
          const more = page.more || page.items[page.items.length - 1].key !== kv.key;
          return { items, resourceVersion: String(revision), continueToken: more ? encodeContinue(revision, kv.key) : undefined };
        }
      }
      if (!page.more) break;
    }
    return { items, resourceVersion: String(revision ?? (await this.store.currentRevision())) };
  }

  /** Check the namespace exists and is not terminating (NamespaceLifecycle admission). */
  async #checkNamespace(info: ResourceInfo, namespace: string | undefined): Promise<void> {
    if (!info.namespaced || namespace === undefined) return;
    const nsInfo = RESOURCES.find((r) => r.resource === 'namespaces')!;
    const ns = await this.tryGet(nsInfo, undefined, namespace);
    if (ns === undefined) throw notFound(nsInfo, namespace);
    if (md(ns).deletionTimestamp !== undefined || (isObj(ns.status) && ns.status.phase === 'Terminating')) {
      throw forbidden(`${info.resource} "${''}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`.replace(' ""', ''),
        { kind: info.resource, group: info.group || undefined, causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }] });
    }
  }

  #validate(info: ResourceInfo, o: Obj, old?: Obj): void {
    const errs: FieldError[] = validateObject(info.kind, o, info.namespaced, old);
    if (errs.length > 0) throw invalid({ kind: info.kind, group: info.group, name: String(md(o).name ?? md(o).generateName ?? ''), errors: errs });
  }

  /** Check apiVersion/kind of a body against the URL's resource. */
  checkTypeMeta(info: ResourceInfo, body: Obj, kind = info.kind, apiVersion = apiVersionOf(info)): void {
    if (body.apiVersion !== undefined && body.apiVersion !== '' && body.apiVersion !== apiVersion) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`);
    }
    if (body.kind !== undefined && body.kind !== '' && body.kind !== kind) {
      throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${kind})`);
    }
  }

  async create(info: ResourceInfo, namespace: string | undefined, body: Obj, opts: WriteOptions = {}): Promise<Obj> {
    this.checkTypeMeta(info, body);
    const o = structuredClone(body);
    o.apiVersion = apiVersionOf(info);
    o.kind = info.kind;
    const m = md(o);
    if (info.namespaced) {
      if (m.namespace !== undefined && m.namespace !== '' && namespace !== undefined && m.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      m.namespace = namespace ?? m.namespace;
    } else {
      delete m.namespace;
    }
    if ((m.name === undefined || m.name === '') && typeof m.generateName === 'string' && m.generateName !== '') {
      m.name = `${m.generateName}${generateNameSuffix()}`;
    }
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.selfLink;
    delete m.managedFields;
    m.uid = randomUUID();
    m.creationTimestamp = nowTimestamp(this.#now());
    if (GENERATION_KINDS.has(info.kind)) m.generation = 1; else delete m.generation;
    if (RESET_STATUS_ON_CREATE.has(info.kind)) delete o.status;
    if (info.kind === 'Event') this.#defaultEventTimes(o);
    applyDefaults(info.kind, o, this.#defaults);
    this.#validate(info, o);
    await this.#checkNamespace(info, typeof m.namespace === 'string' ? m.namespace : undefined);
    if (info.kind === 'Service') await this.#allocateService(o);
    if (info.kind === 'Secret' && isObj(o.stringData)) {
      const data = isObj(o.data) ? o.data : {};
      for (const [k, v] of Object.entries(o.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
      o.data = data;
      delete o.stringData;
    }
    if (opts.dryRun === true) return o;
    const name = String(m.name);
    try {
      const kv = await this.store.create(storageKey(info, typeof m.namespace === 'string' ? m.namespace : undefined, name), encodeObject(o));
      return decodeObject(kv);
    } catch (err) {
      if (isStoreError(err, 'exists')) throw alreadyExists(info, name);
      throw err;
    }
  }

  #defaultEventTimes(o: Obj): void {
    const now = nowTimestamp(this.#now());
    if (o.firstTimestamp === undefined && o.eventTime === undefined) o.firstTimestamp = now;
    if (o.lastTimestamp === undefined && o.eventTime === undefined) o.lastTimestamp = o.firstTimestamp;
  }

  async #allocateService(o: Obj): Promise<void> {
    const spec = isObj(o.spec) ? o.spec : (o.spec = {});
    const svcInfo = RESOURCES.find((r) => r.resource === 'services')!;
    const needsIp = spec.type !== 'ExternalName' && (spec.clusterIP === undefined || spec.clusterIP === '');
    const needsPorts = (spec.type === 'NodePort' || spec.type === 'LoadBalancer') && Array.isArray(spec.ports) && spec.ports.some((p: unknown) => isObj(p) && (p.nodePort === undefined || p.nodePort === 0));
    if (!needsIp && !needsPorts) {
      if (typeof spec.clusterIP === 'string' && spec.clusterIP !== '' && spec.clusterIPs === undefined) spec.clusterIPs = [spec.clusterIP];
      return;
    }
    const existing = (await this.store.list(listPrefix(svcInfo, undefined))).items.map((kv) => decodeObject(kv));
    const usedIps = new Set(existing.map((s) => (isObj(s.spec) ? s.spec.clusterIP : undefined)));
    const usedPorts = new Set(existing.flatMap((s) => (isObj(s.spec) && Array.isArray(s.spec.ports) ? s.spec.ports.map((p: Obj) => p.nodePort) : [])));
    if (needsIp) {
      // .0.1 is the `kubernetes` service address upstream; hand out from .0.10 on.
      for (let i = 10; i < 65534; i++) {
        const ip = `${this.#serviceNet}.${Math.floor(i / 256)}.${i % 256}`;
        if (!usedIps.has(ip)) { spec.clusterIP = ip; break; }
      }
      spec.clusterIPs = [spec.clusterIP];
    }
    if (needsPorts) {
      for (const p of spec.ports as Obj[]) {
        if (p.nodePort !== undefined && p.nodePort !== 0) continue;
        for (let port = 30000; port <= 32767; port++) {
          if (!usedPorts.has(port)) { p.nodePort = port; usedPorts.add(port); break; }
        }
      }
    }
  }

  /**
   * Replace the object. `mode` says what the write may change: `main` keeps the stored status (for
   * resources with a status subresource), `status` keeps everything but the status.
   */
  async update(info: ResourceInfo, namespace: string | undefined, name: string, body: Obj, opts: WriteOptions & { mode?: WriteMode } = {}): Promise<Obj> {
    this.checkTypeMeta(info, body);
    const bodyRv = isObj(body.metadata) ? body.metadata.resourceVersion : undefined;
    if (isObj(body.metadata) && body.metadata.name !== undefined && body.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(body.metadata.name)}) does not match the name on the URL (${name})`);
    }
    const kv = await this.getKv(info, namespace, name);
    if (bodyRv !== undefined && bodyRv !== '' && String(bodyRv) !== String(kv.modRevision)) throw conflict(info, name);
    const old = decodeObject(kv);
    return this.#write(info, namespace, name, kv, old, body, opts);
  }

  /** Read-modify-write with retries on conflict: for patches and internal updates. */
  async mutate(info: ResourceInfo, namespace: string | undefined, name: string, fn: (current: Obj) => Obj, opts: WriteOptions & { mode?: WriteMode } = {}): Promise<Obj> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.getKv(info, namespace, name);
      const old = decodeObject(kv);
      const input = structuredClone(old);
      delete md(input).resourceVersion; // a resourceVersion in the result means the caller asked for a precondition
      const next = fn(input);
      const nextRv = isObj(next.metadata) ? next.metadata.resourceVersion : undefined;
      if (nextRv !== undefined && nextRv !== '' && String(nextRv) !== String(kv.modRevision)) throw conflict(info, name);
      try {
        return await this.#write(info, namespace, name, kv, old, next, opts);
      } catch (err) {
        if (err instanceof ApiError && err.reason === 'Conflict' && attempt < 5 && (nextRv === undefined || nextRv === '')) continue;
        throw err;
      }
    }
  }

  /**
   * pods/binding: set spec.nodeName and PodScheduled=True on a pending pod, as upstream's binding
   * storage does. Only those two fields (and the generation, as any spec change here) move, and they
   * are built here, so the general update path (clones, defaults, pod update validation, semantic
   * comparisons, a decode of the result) is skipped: this is the scheduler's hot path. Refuses with
   * 409 a pod being deleted, already assigned, or whose uid is not the binding's; retries on a
   * concurrent write to the pod.
   */
  async bindPod(namespace: string, name: string, target: { readonly node: string; readonly uid?: string }): Promise<void> {
    const info = podResource();
    const gr = { group: '', resource: 'pods/binding' };
    const key = storageKey(info, namespace, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.store.get(key);
      if (kv === undefined) throw notFound(info, name);
      const pod = JSON.parse(decoder.decode(kv.value)) as Obj;
      const m = md(pod);
      if (target.uid !== undefined && target.uid !== '' && target.uid !== m.uid) {
        throw conflict(gr, name, `Precondition failed: UID in precondition: ${target.uid}, UID in object meta: ${String(m.uid)}`);
      }
      if (m.deletionTimestamp !== undefined) throw conflict(gr, name, `pod ${name} is being deleted, cannot be assigned to a host`);
      const spec = isObj(pod.spec) ? pod.spec : (pod.spec = {});
      if (typeof spec.nodeName === 'string' && spec.nodeName !== '') throw conflict(gr, name, `pod ${name} is already assigned to node "${spec.nodeName}"`);
      spec.nodeName = target.node;
      if (typeof m.generation === 'number') m.generation += 1;
      const status = isObj(pod.status) ? pod.status : (pod.status = {});
      const conditions = (Array.isArray(status.conditions) ? status.conditions : []).filter((c: Obj) => !isObj(c) || c.type !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowTimestamp(this.#now()) });
      status.conditions = conditions;
      delete m.resourceVersion;
      try {
        await this.store.update(key, encoder.encode(JSON.stringify(pod)), kv.modRevision);
        return;
      } catch (err) {
        if (isStoreError(err, 'conflict') && attempt < 5) continue;
        if (isStoreError(err, 'conflict')) throw conflict(info, name);
        if (isStoreError(err, 'notFound')) throw notFound(info, name);
        throw err;
      }
    }
  }

  async #write(info: ResourceInfo, namespace: string | undefined, name: string, kv: KeyValue, old: Obj, body: Obj, opts: WriteOptions & { mode?: WriteMode }): Promise<Obj> {
    const mode = opts.mode ?? 'main';
    let o: Obj;
    if (mode === 'all') {
      o = structuredClone(body);
    } else if (mode === 'status') {
      o = structuredClone(old);
      if (body.status !== undefined) o.status = structuredClone(body.status); else delete o.status;
    } else {
      o = structuredClone(body);
      if (info.hasStatus) {
        if (old.status !== undefined) o.status = structuredClone(old.status); else delete o.status;
      }
    }
    o.apiVersion = apiVersionOf(info);
    o.kind = info.kind;
    const m = md(o);
    const om = md(old);
    // Fields the client may not change.
    m.name = om.name;
    if (info.namespaced) m.namespace = om.namespace; else delete m.namespace;
    m.uid = om.uid;
    m.creationTimestamp = om.creationTimestamp;
    for (const f of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const) {
      if (om[f] !== undefined) m[f] = om[f]; else delete m[f];
    }
    if (om.generateName !== undefined && m.generateName === undefined) m.generateName = om.generateName;
    delete m.resourceVersion;
    delete m.managedFields;
    delete m.selfLink;
    if (info.kind === 'Namespace') {
      // Namespace spec.finalizers change only through /finalize; the phase stays with the server.
      if (mode !== 'all') o.spec = structuredClone(old.spec);
      if (mode === 'main') o.status = structuredClone(old.status);
    }
    if (info.kind === 'Secret' && isObj(o.stringData)) {
      const data = isObj(o.data) ? o.data : {};
      for (const [k, v] of Object.entries(o.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
      o.data = data;
      delete o.stringData;
    }
    applyDefaults(info.kind, o, this.#defaults);
    if (info.kind === 'Service') {
      const spec = isObj(o.spec) ? o.spec : {};
      const oldSpec = isObj(old.spec) ? old.spec : {};
      if ((spec.clusterIP === undefined || spec.clusterIP === '') && oldSpec.clusterIP !== undefined) {
        spec.clusterIP = oldSpec.clusterIP;
        spec.clusterIPs = oldSpec.clusterIPs;
      }
      await this.#allocateService(o);
    }
    this.#validate(info, o, old);
    // Once deletion started, finalizers may only be removed.
    if (om.deletionTimestamp !== undefined) {
      const before = new Set(Array.isArray(om.finalizers) ? om.finalizers.map(String) : []);
      const after = Array.isArray(m.finalizers) ? m.finalizers.map(String) : [];
      const added = after.filter((f) => !before.has(f));
      if (added.length > 0) {
        throw invalid({ kind: info.kind, group: info.group, name, errors: [{ field: 'metadata.finalizers', type: 'FieldValueForbidden', detail: `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` }] });
      }
    }
    if (m.generation !== undefined && canonicalJson(specOf(o)) !== canonicalJson(specOf(old))) m.generation = Number(m.generation) + 1;
    const oldWithoutRv = { ...old, metadata: { ...om } };
    delete (oldWithoutRv.metadata as Obj).resourceVersion;
    if (canonicalJson(o) === canonicalJson(oldWithoutRv)) {
      return old; // no change: no write, no new resourceVersion (as upstream)
    }
    if (opts.dryRun === true) {
      m.resourceVersion = String(kv.modRevision);
      return o;
    }
    const key = storageKey(info, namespace, name);
    if (m.deletionTimestamp !== undefined && !mustLinger(info, o)) {
      return this.#finalDelete(info, key, kv.modRevision, o, name);
    }
    try {
      return decodeObject(await this.store.update(key, encodeObject(o), kv.modRevision));
    } catch (err) {
      if (isStoreError(err, 'conflict')) throw conflict(info, name);
      if (isStoreError(err, 'notFound')) throw notFound(info, name);
      throw err;
    }
  }

  async #finalDelete(info: ResourceInfo, key: string, modRevision: number, o: Obj, name: string): Promise<Obj> {
    try {
      const deleted = await this.store.delete(key, modRevision);
      const out = structuredClone(o);
      md(out).resourceVersion = String(deleted.modRevision);
      return out;
    } catch (err) {
      if (isStoreError(err, 'conflict')) throw conflict(info, name);
      if (isStoreError(err, 'notFound')) throw notFound(info, name);
      throw err;
    }
  }

  async delete(info: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<DeleteOutcome> {
    if (info.kind === 'Namespace' && PROTECTED_NAMESPACES.has(name)) {
      throw forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`, { name, kind: 'namespaces' });
    }
    for (let attempt = 0; ; attempt++) {
      const kv = await this.getKv(info, namespace, name);
      const cur = decodeObject(kv);
      const m = md(cur);
      if (opts.preconditions?.uid !== undefined && opts.preconditions.uid !== m.uid) {
        throw conflict(info, name, `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${String(m.uid)}`);
      }
      if (opts.preconditions?.resourceVersion !== undefined && opts.preconditions.resourceVersion !== String(kv.modRevision)) {
        throw conflict(info, name, `Precondition failed: ResourceVersion in precondition: ${opts.preconditions.resourceVersion}, ResourceVersion in object meta: ${kv.modRevision}`);
      }
      try {
        return await this.#deleteOnce(info, namespace, name, kv, cur, opts);
      } catch (err) {
        if (err instanceof ApiError && err.reason === 'Conflict' && attempt < 5) continue;
        throw err;
      }
    }
  }

  async #deleteOnce(info: ResourceInfo, namespace: string | undefined, name: string, kv: KeyValue, cur: Obj, opts: DeleteOptions): Promise<DeleteOutcome> {
    const key = storageKey(info, namespace, name);
    const next = structuredClone(cur);
    const m = md(next);
    const now = this.#now();
    let linger = false;
    if (info.kind === 'Pod') {
      const spec = isObj(cur.spec) ? cur.spec : {};
      const phase = isObj(cur.status) ? cur.status.phase : undefined;
      let grace = opts.gracePeriodSeconds ?? (typeof spec.terminationGracePeriodSeconds === 'number' ? spec.terminationGracePeriodSeconds : 30);
      // Unscheduled and finished pods have nothing to stop: they go at once.
      if (typeof spec.nodeName !== 'string' || spec.nodeName === '' || phase === 'Succeeded' || phase === 'Failed') grace = 0;
      const existing = m.deletionGracePeriodSeconds;
      if (typeof existing === 'number' && m.deletionTimestamp !== undefined && grace >= existing) {
        return { deleted: false, object: cur }; // already going, no sooner than asked
      }
      if (grace > 0) {
        m.deletionTimestamp = nowTimestamp(now + grace * 1000);
        m.deletionGracePeriodSeconds = grace;
        linger = true;
      } else {
        m.deletionGracePeriodSeconds = 0;
        if (m.deletionTimestamp === undefined) m.deletionTimestamp = nowTimestamp(now);
      }
    }
    if (info.kind === 'Namespace') {
      if (m.deletionTimestamp === undefined) m.deletionTimestamp = nowTimestamp(now);
      next.status = { ...(isObj(next.status) ? next.status : {}), phase: 'Terminating' };
      linger = true;
    }
    const policy = opts.propagationPolicy ?? 'Background';
    if (policy === 'Foreground') {
      const fin = Array.isArray(m.finalizers) ? m.finalizers.map(String) : [];
      if (!fin.includes('foregroundDeletion')) fin.push('foregroundDeletion');
      m.finalizers = fin;
    } else if (policy === 'Orphan' && opts.dryRun !== true) {
      await this.orphanDependents(namespace, String(m.uid));
    }
    if (Array.isArray(m.finalizers) && m.finalizers.length > 0) {
      linger = true;
      if (m.deletionTimestamp === undefined) m.deletionTimestamp = nowTimestamp(now);
      if (m.deletionGracePeriodSeconds === undefined) m.deletionGracePeriodSeconds = 0;
    }
    if (opts.dryRun === true) return { deleted: !linger, object: cur };
    if (linger) {
      if (canonicalJson(next) === canonicalJson(cur)) return { deleted: false, object: cur };
      try {
        const updated = decodeObject(await this.store.update(key, encodeObject(next), kv.modRevision));
        return { deleted: false, object: updated };
      } catch (err) {
        if (isStoreError(err, 'conflict')) throw conflict(info, name);
        if (isStoreError(err, 'notFound')) throw notFound(info, name);
        throw err;
      }
    }
    return { deleted: true, object: await this.#finalDelete(info, key, kv.modRevision, cur, name) };
  }

  /** Orphan propagation: strip the owner's uid from the ownerReferences of objects in its namespace. */
  async orphanDependents(namespace: string | undefined, ownerUid: string): Promise<void> {
    if (namespace === undefined) return;
    for (const info of RESOURCES) {
      if (!info.namespaced) continue;
      const page = await this.store.list(listPrefix(info, namespace));
      for (const kv of page.items) {
        const o = decodeObject(kv);
        const refs = md(o).ownerReferences;
        if (!Array.isArray(refs) || !refs.some((r: Obj) => r.uid === ownerUid)) continue;
        await this.mutate(info, namespace, String(md(o).name), (cur) => {
          const cm = md(cur);
          const left = (Array.isArray(cm.ownerReferences) ? cm.ownerReferences : []).filter((r: Obj) => r.uid !== ownerUid);
          if (left.length === 0) delete cm.ownerReferences; else cm.ownerReferences = left;
          return cur;
        }).catch((err: unknown) => {
          if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err;
        });
      }
    }
  }

  async deleteCollection(info: ResourceInfo, namespace: string | undefined, q: ListQuery, opts: DeleteOptions): Promise<Obj[]> {
    const { items } = await this.list(info, namespace, { labels: q.labels, fields: q.fields });
    const out: Obj[] = [];
    for (const o of items) {
      try {
        const r = await this.delete(info, typeof md(o).namespace === 'string' ? String(md(o).namespace) : undefined, String(md(o).name), opts);
        out.push(r.object);
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err;
      }
    }
    return out;
  }

  /** Namespace finalization: delete everything in it; when empty, drop the `kubernetes` finalizer and the namespace. Returns objects left. */
  async finalizeNamespace(name: string): Promise<number> {
    let left = 0;
    for (const info of RESOURCES) {
      if (!info.namespaced) continue;
      const { items } = await this.list(info, name, { labels: [], fields: [] });
      left += items.length;
      for (const o of items) {
        if (md(o).deletionTimestamp !== undefined) continue;
        await this.delete(info, name, String(md(o).name), {}).catch((err: unknown) => {
          if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err;
        });
      }
    }
    if (left > 0) return left;
    const nsInfo = RESOURCES.find((r) => r.resource === 'namespaces')!;
    const kv = await this.store.get(storageKey(nsInfo, undefined, name));
    if (kv === undefined) return 0;
    const ns = decodeObject(kv);
    if (isObj(ns.spec)) ns.spec.finalizers = [];
    if (!mustLinger(nsInfo, ns)) {
      await this.store.delete(kv.key, kv.modRevision).catch((err: unknown) => {
        if (!isStoreError(err, 'notFound') && !isStoreError(err, 'conflict')) throw err;
      });
    } else {
      await this.store.update(kv.key, encodeObject(ns), kv.modRevision).catch((err: unknown) => {
        if (!isStoreError(err, 'conflict')) throw err;
      });
    }
    this.#log.info({ namespace: name }, 'namespace finalized');
    return 0;
  }

  /** The namespaces the server creates at start; tolerates their existence. */
  async ensureNamespaces(names: readonly string[]): Promise<void> {
    const nsInfo = RESOURCES.find((r) => r.resource === 'namespaces')!;
    for (const name of names) {
      try {
        await this.create(nsInfo, undefined, { metadata: { name } });
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
      }
    }
  }
}
