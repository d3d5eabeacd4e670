// Garbage collector: cascading deletion by ownerReferences. It watches the kinds that own or are
// owned (workloads, pods, services, endpoints, config maps, secrets, service accounts, leases,
// nodes) and keeps uid → object and owner uid → dependents. An object whose owners are all gone (the
// cache says so and a live GET confirms) is deleted — Background by default, Foreground when it
// carries that finalizer itself; one with some owners gone loses those references. An owner deleted
// with propagationPolicy=Foreground (finalizer `foregroundDeletion`) has its dependents deleted and
// the finalizer removed once none that block it remain. Orphan propagation: the API server strips the
// references at delete time; an owner that carries the `orphan` finalizer instead (upstream's way) has
// them stripped here, then the finalizer removed. Events are not watched (too many, rarely owned).

import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from '../client/client.ts';
import { isNotFound } from '../client/errors.ts';
import type { Informer, InformerFactory } from '../client/informer.ts';
import {
  CONFIGMAPS, DAEMONSETS, DEPLOYMENTS, ENDPOINTS, LEASES, NODES, objectKey, PODS, REPLICASETS, resourceForKind, SECRETS, SERVICEACCOUNTS, SERVICES, splitKey, type Resource,
} from '../client/resources.ts';
import type { KubeObject, OwnerReference } from '../client/types.ts';
import { WorkQueue, type ReconcileResult } from '../client/work-queue.ts';

export const FOREGROUND_FINALIZER = 'foregroundDeletion';
export const ORPHAN_FINALIZER = 'orphan';

export const MONITORED: readonly Resource[] = [DEPLOYMENTS, REPLICASETS, DAEMONSETS, PODS, SERVICES, ENDPOINTS, CONFIGMAPS, SECRETS, SERVICEACCOUNTS, LEASES, NODES] as Resource[];

// ---- pure parts ----

export type OwnerState = 'solid' | 'dangling' | 'waitingForDependentsDeletion';

export function isWaitingForDependents(o: KubeObject): boolean {
  return o.metadata.deletionTimestamp !== undefined && (o.metadata.finalizers ?? []).includes(FOREGROUND_FINALIZER);
}

/** Deleted with propagationPolicy=Orphan the upstream way: its dependents lose the reference, then it goes. */
export function isOrphaning(o: KubeObject): boolean {
  return o.metadata.deletionTimestamp !== undefined && (o.metadata.finalizers ?? []).includes(ORPHAN_FINALIZER);
}

export type GcAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'removeRefs'; readonly uids: readonly string[] }
  | { readonly kind: 'delete'; readonly policy: 'Background' | 'Foreground' | 'Orphan' };

/** Upstream attemptToDeleteItem's choice, given how each owner reference stands. */
export function planDependent(o: KubeObject, states: ReadonlyMap<string, OwnerState>, hasDependents: boolean): GcAction {
  const refs = o.metadata.ownerReferences ?? [];
  if (refs.length === 0) return { kind: 'none' };
  const solid = refs.filter((r) => states.get(r.uid) === 'solid');
  const dangling = refs.filter((r) => states.get(r.uid) === 'dangling');
  const waiting = refs.filter((r) => states.get(r.uid) === 'waitingForDependentsDeletion');
  if (solid.length > 0) {
    if (dangling.length === 0 && waiting.length === 0) return { kind: 'none' };
    return { kind: 'removeRefs', uids: [...dangling, ...waiting].map((r) => r.uid) };
  }
  if (waiting.length > 0 && hasDependents) return { kind: 'delete', policy: 'Foreground' };
  const finalizers = o.metadata.finalizers ?? [];
  if (finalizers.includes(ORPHAN_FINALIZER)) return { kind: 'delete', policy: 'Orphan' };
  if (finalizers.includes(FOREGROUND_FINALIZER)) return { kind: 'delete', policy: 'Foreground' };
  return { kind: 'delete', policy: 'Background' };
}

// ---- the controller ----

interface Node {
  readonly resource: Resource;
  readonly obj: KubeObject;
}

export interface GarbageCollectorOptions {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly log?: Logger;
  readonly workers?: number;
}

function itemKey(r: Resource, o: KubeObject): string {
  return `${r.plural}.${r.group}|${objectKey(o)}`;
}

export class GarbageCollector {
  readonly #client: ApiClient;
  readonly #log: Logger;
  readonly #informers = new Map<string, { resource: Resource; informer: Informer<KubeObject> }>();
  readonly #byUid = new Map<string, Node>();
  readonly #dependents = new Map<string, Set<string>>();
  readonly queue: WorkQueue;

  constructor(opts: GarbageCollectorOptions) {
    this.#client = opts.client;
    this.#log = (opts.log ?? silentLogger()).child({ controller: 'garbage-collector' });
    this.queue = new WorkQueue({ name: 'garbage-collector', reconcile: (key) => this.reconcile(key), log: this.#log, maxConcurrent: opts.workers ?? 5 });
    for (const r of MONITORED) {
      const informer = opts.informers.informerFor(r);
      this.#informers.set(`${r.plural}.${r.group}`, { resource: r, informer });
      informer.addHandler({
        onAdd: (o) => this.#observe(r, undefined, o),
        onUpdate: (old, o) => { if (old !== o) this.#observe(r, old, o); },
        onDelete: (o) => this.#forget(r, o),
      });
    }
  }

  #link(o: KubeObject, key: string, add: boolean): void {
    for (const ref of o.metadata.ownerReferences ?? []) {
      let set = this.#dependents.get(ref.uid);
      if (add) {
        if (set === undefined) this.#dependents.set(ref.uid, (set = new Set()));
        set.add(key);
      } else if (set !== undefined) {
        set.delete(key);
        if (set.size === 0) this.#dependents.delete(ref.uid);
      }
    }
  }

  #observe(r: Resource, old: KubeObject | undefined, o: KubeObject): void {
    const key = itemKey(r, o);
    const uid = o.metadata.uid ?? '';
    if (old !== undefined) this.#link(old, key, false);
    this.#link(o, key, true);
    if (uid !== '') this.#byUid.set(uid, { resource: r, obj: o });
    const refsChanged = old === undefined || JSON.stringify(old.metadata.ownerReferences ?? []) !== JSON.stringify(o.metadata.ownerReferences ?? []);
    if ((o.metadata.ownerReferences ?? []).length > 0 && refsChanged) this.queue.add(key);
    if (isOrphaning(o)) this.queue.add(key);
    if (isWaitingForDependents(o)) {
      this.queue.add(key);
      for (const dep of this.#dependents.get(uid) ?? []) this.queue.add(dep);
    }
  }

  #forget(r: Resource, o: KubeObject): void {
    const key = itemKey(r, o);
    const uid = o.metadata.uid ?? '';
    this.#link(o, key, false);
    this.#byUid.delete(uid);
    // Its dependents may now be orphans; owners waiting for it may now finish.
    for (const dep of this.#dependents.get(uid) ?? []) this.queue.add(dep);
    for (const ref of o.metadata.ownerReferences ?? []) {
      const owner = this.#byUid.get(ref.uid);
      if (owner !== undefined && isWaitingForDependents(owner.obj)) this.queue.add(itemKey(owner.resource, owner.obj));
    }
  }

  #lookup(key: string): { resource: Resource; obj: KubeObject } | undefined {
    const bar = key.indexOf('|');
    const entry = this.#informers.get(key.slice(0, bar));
    if (entry === undefined) return undefined;
    const obj = entry.informer.get(key.slice(bar + 1));
    return obj === undefined ? undefined : { resource: entry.resource, obj };
  }

  /** Is the owner there? The cache first; an absent owner is confirmed with a live GET before anything is deleted. */
  async #ownerState(o: KubeObject, ref: OwnerReference): Promise<OwnerState> {
    const cached = this.#byUid.get(ref.uid);
    if (cached !== undefined && cached.obj.metadata.name === ref.name) return isWaitingForDependents(cached.obj) ? 'waitingForDependentsDeletion' : 'solid';
    const r = resourceForKind(ref.apiVersion, ref.kind);
    if (r === undefined) return 'solid'; // a kind we cannot check is never assumed gone
    const live = await this.#client.tryGet(r, ref.name, { namespace: r.namespaced ? o.metadata.namespace : undefined });
    if (live === undefined || live.metadata.uid !== ref.uid) return 'dangling';
    return isWaitingForDependents(live) ? 'waitingForDependentsDeletion' : 'solid';
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const item = this.#lookup(key);
    if (item === undefined) return;
    const { resource, obj } = item;
    const uid = obj.metadata.uid ?? '';
    if (isOrphaning(obj)) return this.#orphanDependents(resource, obj);
    if (isWaitingForDependents(obj)) return this.#processDeletingDependents(resource, obj);
    if (obj.metadata.deletionTimestamp !== undefined) return; // already going
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length === 0) return;
    const states = new Map<string, OwnerState>();
    for (const ref of refs) states.set(ref.uid, await this.#ownerState(obj, ref));
    const action = planDependent(obj, states, (this.#dependents.get(uid)?.size ?? 0) > 0);
    const { namespace, name } = splitKey(objectKey(obj));
    switch (action.kind) {
      case 'none':
        return;
      case 'removeRefs': {
        this.#log.info({ object: key, owners: action.uids }, 'removing references to deleted owners');
        const left = refs.filter((r) => !action.uids.includes(r.uid));
        await this.#tolerate(this.#client.patch(resource, name, { metadata: { resourceVersion: obj.metadata.resourceVersion, ownerReferences: left } }, { namespace }));
        return;
      }
      case 'delete':
        this.#log.info({ object: key, policy: action.policy }, 'deleting object whose owners are gone');
        await this.#tolerate(this.#client.delete(resource, name, { namespace, propagationPolicy: action.policy, preconditions: { uid } }));
        return;
      default: {
        const never: never = action;
        throw new Error(`unknown gc action ${JSON.stringify(never)}`);
      }
    }
  }

  /** Foreground: delete dependents; once none that block remains, drop the owner's finalizer. */
  async #processDeletingDependents(resource: Resource, owner: KubeObject): Promise<ReconcileResult> {
    const uid = owner.metadata.uid ?? '';
    const blocking: { resource: Resource; obj: KubeObject }[] = [];
    for (const depKey of this.#dependents.get(uid) ?? []) {
      const dep = this.#lookup(depKey);
      if (dep === undefined) continue;
      const ref = (dep.obj.metadata.ownerReferences ?? []).find((r) => r.uid === uid);
      if (ref === undefined) continue;
      if (ref.blockOwnerDeletion === true) blocking.push(dep);
      if (dep.obj.metadata.deletionTimestamp === undefined) {
        const { namespace, name } = splitKey(objectKey(dep.obj));
        const policy = (this.#dependents.get(dep.obj.metadata.uid ?? '')?.size ?? 0) > 0 ? 'Foreground' : 'Background';
        await this.#tolerate(this.#client.delete(dep.resource, name, { namespace, propagationPolicy: policy, preconditions: { uid: dep.obj.metadata.uid } }));
      }
    }
    if (blocking.length > 0) return { requeueAfterMs: 5_000 }; // their deletion events bring us back sooner
    const { namespace, name } = splitKey(objectKey(owner));
    const finalizers = (owner.metadata.finalizers ?? []).filter((f) => f !== FOREGROUND_FINALIZER);
    this.#log.info({ object: `${resource.plural}/${objectKey(owner)}` }, 'dependents gone, finishing foreground deletion');
    await this.#tolerate(this.#client.patch(resource, name, { metadata: { resourceVersion: owner.metadata.resourceVersion, finalizers: finalizers.length === 0 ? null : finalizers } }, { namespace }));
    return undefined;
  }

  /** Orphan finalizer: strip the owner's reference from every dependent, then drop the finalizer. */
  async #orphanDependents(resource: Resource, owner: KubeObject): Promise<ReconcileResult> {
    const uid = owner.metadata.uid ?? '';
    for (const depKey of [...(this.#dependents.get(uid) ?? [])]) {
      const dep = this.#lookup(depKey);
      if (dep === undefined) continue;
      const left = (dep.obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
      const { namespace, name } = splitKey(objectKey(dep.obj));
      await this.#tolerate(this.#client.patch(dep.resource, name, { metadata: { resourceVersion: dep.obj.metadata.resourceVersion, ownerReferences: left.length === 0 ? null : left } }, { namespace }));
    }
    const { namespace, name } = splitKey(objectKey(owner));
    const finalizers = (owner.metadata.finalizers ?? []).filter((f) => f !== ORPHAN_FINALIZER);
    this.#log.info({ object: `${resource.plural}/${objectKey(owner)}` }, 'dependents orphaned, finishing deletion');
    await this.#tolerate(this.#client.patch(resource, name, { metadata: { resourceVersion: owner.metadata.resourceVersion, finalizers: finalizers.length === 0 ? null : finalizers } }, { namespace }));
    return undefined;
  }

  /** A target that vanished or changed meanwhile is fine: the next event brings us back. */
  async #tolerate(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err; // a conflict is retried with fresh state
    }
  }
}
