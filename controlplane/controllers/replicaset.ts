// ReplicaSet controller: keep spec.replicas active pods per ReplicaSet. Pods are claimed by selector
// (orphans adopted, owned pods that stopped matching released), missing ones created from the
// template (slow-start batches, expectations so a stale cache never doubles a create), extra ones
// deleted in kube-controller-manager's order (unscheduled, pending, not ready, newest first), and the
// status (replicas, fullyLabeled, ready, available after minReadySeconds, observedGeneration) written
// when it changes. Events: SuccessfulCreate, SuccessfulDelete, FailedCreate.

import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from '../client/client.ts';
import { isNotFound } from '../client/errors.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Informer, InformerFactory } from '../client/informer.ts';
import { matchesSelector } from '../client/labels.ts';
import { claimDependents } from './claim.ts';
import { objectKey, PODS, REPLICASETS } from '../client/resources.ts';
import type { Condition, OwnerReference, Pod, ReplicaSet, ReplicaSetStatus } from '../client/types.ts';
import { WorkQueue, type ReconcileResult } from '../client/work-queue.ts';
import { buildStatusMergePatch, controllerRefOf, Expectations, getCondition, isPodActive, isPodAvailable, isPodReady, newControllerRef, nowTimestamp, parseTimestamp, ReleaseTracker } from './util.ts';

export const RS_CONTROLLER = 'replicaset-controller';
const BURST_REPLICAS = 500;
/** An orphan is left alone this long after losing its owner (see #claimPods). */
export const ADOPT_DELAY_MS = 2000;

// ---- pure parts ----

/** A pod for the ReplicaSet from its template: `<rs>-<random>` with the RS as controller owner. */
export function buildPodFromTemplate(rs: ReplicaSet): Pod {
  const t = rs.spec.template;
  const md = t.metadata ?? {};
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      generateName: `${rs.metadata.name}-`,
      namespace: rs.metadata.namespace,
      ...(md.labels === undefined ? {} : { labels: { ...md.labels } }),
      ...(md.annotations === undefined ? {} : { annotations: { ...md.annotations } }),
      ...(md.finalizers === undefined ? {} : { finalizers: [...md.finalizers] }),
      ownerReferences: [newControllerRef(rs, 'apps/v1', 'ReplicaSet')],
    },
    spec: structuredClone(t.spec),
  };
}

function phaseRank(p: Pod): number {
  switch (p.status?.phase) {
    case 'Pending': return 0;
    case 'Unknown': return 1;
    case 'Running': return 2;
    default: return 3;
  }
}

function restarts(p: Pod): number {
  const statuses = (p.status?.containerStatuses ?? []) as { restartCount?: number }[];
  return statuses.reduce((max, s) => Math.max(max, s.restartCount ?? 0), 0);
}

function readySince(p: Pod): number | undefined {
  const c = getCondition(p.status?.conditions, 'Ready');
  return c?.status === 'True' ? parseTimestamp(c.lastTransitionTime) : undefined;
}

/**
 * Negative when `a` should be deleted before `b` (upstream ActivePodsWithRanks): unscheduled first,
 * then pending before unknown before running, not ready before ready, pods sharing a node with more
 * of their siblings, shorter ready time, more restarts, newer.
 */
export function compareForDeletion(a: Pod, b: Pod, siblingsOnNode: (p: Pod) => number): number {
  const assignedA = (a.spec.nodeName ?? '') !== '' ? 1 : 0;
  const assignedB = (b.spec.nodeName ?? '') !== '' ? 1 : 0;
  if (assignedA !== assignedB) return assignedA - assignedB;
  if (phaseRank(a) !== phaseRank(b)) return phaseRank(a) - phaseRank(b);
  const readyA = isPodReady(a) ? 1 : 0;
  const readyB = isPodReady(b) ? 1 : 0;
  if (readyA !== readyB) return readyA - readyB;
  const rankA = siblingsOnNode(a);
  const rankB = siblingsOnNode(b);
  if (rankA !== rankB) return rankB - rankA;
  if (readyA === 1) {
    const sa = readySince(a) ?? 0;
    const sb = readySince(b) ?? 0;
    if (sa !== sb) return sb - sa; // more recently ready first
  }
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const ca = parseTimestamp(a.metadata.creationTimestamp) ?? 0;
  const cb = parseTimestamp(b.metadata.creationTimestamp) ?? 0;
  if (ca !== cb) return cb - ca; // newer first
  return String(a.metadata.name).localeCompare(String(b.metadata.name));
}

/** The `count` pods to delete first. */
export function choosePodsToDelete(pods: readonly Pod[], count: number): Pod[] {
  const perNode = new Map<string, number>();
  for (const p of pods) if ((p.spec.nodeName ?? '') !== '') perNode.set(p.spec.nodeName!, (perNode.get(p.spec.nodeName!) ?? 0) + 1);
  const siblings = (p: Pod): number => ((p.spec.nodeName ?? '') === '' ? 0 : perNode.get(p.spec.nodeName!) ?? 0);
  return [...pods].sort((a, b) => compareForDeletion(a, b, siblings)).slice(0, count);
}

/** The status for the ReplicaSet given its active owned pods. */
export function computeReplicaSetStatus(rs: ReplicaSet, activePods: readonly Pod[], opts: { nowMs: number; createError?: string }): ReplicaSetStatus {
  const templateLabels = rs.spec.template.metadata?.labels ?? {};
  const minReady = rs.spec.minReadySeconds ?? 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const p of activePods) {
    const labels = p.metadata.labels ?? {};
    if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fullyLabeled++;
    if (isPodReady(p)) ready++;
    if (isPodAvailable(p, minReady, opts.nowMs)) available++;
  }
  const conditions: Condition[] = (rs.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
  if (opts.createError !== undefined) {
    const prev = getCondition(rs.status?.conditions, 'ReplicaFailure');
    conditions.push({ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: opts.createError, lastTransitionTime: prev?.status === 'True' ? prev.lastTransitionTime : nowTimestamp(opts.nowMs) });
  }
  const status: ReplicaSetStatus = {
    replicas: activePods.length, fullyLabeledReplicas: fullyLabeled, readyReplicas: ready, availableReplicas: available,
    observedGeneration: rs.metadata.generation ?? 0,
  };
  if (conditions.length > 0) status.conditions = conditions;
  return status;
}

// ---- the controller ----

export interface ReplicaSetControllerOptions {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly events: EventRecorder;
  readonly log?: Logger;
  readonly workers?: number;
  readonly now?: () => number;
}

export class ReplicaSetController {
  readonly #client: ApiClient;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #rs: Informer<ReplicaSet>;
  readonly #pods: Informer<Pod>;
  readonly #expectations = new Expectations();
  readonly #released = new ReleaseTracker({ delayMs: ADOPT_DELAY_MS });
  readonly queue: WorkQueue;

  constructor(opts: ReplicaSetControllerOptions) {
    this.#client = opts.client;
    this.#events = opts.events;
    this.#log = (opts.log ?? silentLogger()).child({ controller: 'replicaset' });
    this.#now = opts.now ?? Date.now;
    this.#rs = opts.informers.informerFor(REPLICASETS, {}, { namespace: (o) => [o.metadata.namespace ?? ''] });
    this.#pods = opts.informers.informerFor(PODS, {}, { namespace: (o) => [o.metadata.namespace ?? ''] });
    this.queue = new WorkQueue({ name: 'replicaset', reconcile: (key) => this.reconcile(key), log: this.#log, maxConcurrent: opts.workers ?? 5 });
    this.#rs.addHandler({
      onAdd: (rs) => this.queue.add(objectKey(rs)),
      onUpdate: (_old, rs) => this.queue.add(objectKey(rs)),
      onDelete: (rs) => { this.#expectations.forget(objectKey(rs)); this.queue.add(objectKey(rs)); },
    });
    this.#pods.addHandler({
      onAdd: (p) => this.#onPod(p, 'add'),
      onUpdate: (old, p) => { if (old !== p) this.#onPod(p, 'update', old); },
      onDelete: (p) => this.#onPod(p, 'delete'),
    });
  }

  #ownerKey(p: Pod, ref: OwnerReference | undefined): string | undefined {
    if (ref === undefined || ref.kind !== 'ReplicaSet') return undefined;
    const rs = this.#rs.getByName(p.metadata.namespace, ref.name);
    return rs === undefined || rs.metadata.uid !== ref.uid ? undefined : objectKey(rs);
  }

  #onPod(p: Pod, what: 'add' | 'update' | 'delete', old?: Pod): void {
    const ref = controllerRefOf(p);
    const key = this.#ownerKey(p, ref);
    const podKey = objectKey(p);
    if (what === 'delete' || p.metadata.deletionTimestamp !== undefined) {
      if (key !== undefined) { this.#expectations.deletionObserved(key, podKey); this.queue.add(key); }
      return;
    }
    if (what === 'add' && key !== undefined) this.#expectations.creationObserved(key);
    if (key !== undefined) {
      this.queue.add(key);
      const rs = this.#rs.get(key);
      const minReady = rs?.spec.minReadySeconds ?? 0;
      if (minReady > 0 && old !== undefined && !isPodReady(old) && isPodReady(p)) this.queue.addAfter(key, minReady * 1000 + 50);
    }
    if (old !== undefined) this.#released.observe(old, p);
    if (old !== undefined && ref !== undefined) {
      const oldKey = this.#ownerKey(old, controllerRefOf(old));
      if (oldKey !== undefined && oldKey !== key) this.queue.add(oldKey);
    }
    if (ref === undefined || (old !== undefined && JSON.stringify(old.metadata.labels) !== JSON.stringify(p.metadata.labels))) {
      // An orphan (or relabelled pod): every ReplicaSet that could adopt it takes a look.
      for (const rs of this.#rs.byIndex('namespace', p.metadata.namespace ?? '')) {
        if (matchesSelector(rs.spec.selector, p.metadata.labels)) this.queue.add(objectKey(rs));
      }
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const rs = this.#rs.get(key);
    if (rs === undefined) {
      this.#expectations.forget(key);
      return;
    }
    const { owned, adoptLaterMs } = await this.#claimPods(rs);
    // Pods just taken from us by someone else: our owner may be on its way out (see ReleaseTracker).
    const lostWait = this.#released.ownerWaitMs(String(rs.metadata.uid));
    if (lostWait !== undefined) return { requeueAfterMs: lostWait };
    // Orphans we may adopt shortly: creating pods for them now would overshoot.
    if (adoptLaterMs !== undefined) return { requeueAfterMs: adoptLaterMs };
    const needsSync = this.#expectations.satisfied(key) && rs.metadata.deletionTimestamp === undefined;
    const active = owned.filter(isPodActive);
    let createError: string | undefined;
    let manageError: unknown;
    if (needsSync) {
      try {
        await this.#manageReplicas(key, rs, active);
      } catch (err) {
        manageError = err;
        createError = (err as Error).message;
      }
    }
    const nowMs = this.#now();
    const status = computeReplicaSetStatus(rs, active, { nowMs, createError });
    const patch = buildStatusMergePatch(rs.status as Record<string, unknown> | undefined, status as Record<string, unknown>);
    if (patch !== undefined) {
      try {
        await this.#client.patchStatus(REPLICASETS, String(rs.metadata.name), { status: patch }, { namespace: rs.metadata.namespace });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (manageError !== undefined) throw manageError;
    const minReady = rs.spec.minReadySeconds ?? 0;
    if (minReady > 0 && status.readyReplicas !== status.availableReplicas) return { requeueAfterMs: Math.min(minReady * 1000, adoptLaterMs ?? Infinity) };
    return adoptLaterMs === undefined ? undefined : { requeueAfterMs: adoptLaterMs };
  }

  /**
   * Adopt matching orphans, release owned pods that no longer match; return the owned, matching pods.
   * Orphans are adopted only if a live read shows the ReplicaSet is not being deleted (upstream's
   * recheck), and not within ADOPT_DELAY_MS of losing their owner (ReleaseTracker).
   */
  async #claimPods(rs: ReplicaSet): Promise<{ owned: Pod[]; adoptLaterMs?: number }> {
    return claimDependents<Pod>({
      owner: rs,
      candidates: this.#pods.byIndex('namespace', rs.metadata.namespace ?? ''),
      matches: (p) => matchesSelector(rs.spec.selector, p.metadata.labels),
      adoptable: isPodActive,
      released: this.#released,
      isOwnerGoing: async () => {
        const live = await this.#client.tryGet(REPLICASETS, String(rs.metadata.name), { namespace: rs.metadata.namespace });
        return live === undefined || live.metadata.uid !== rs.metadata.uid || live.metadata.deletionTimestamp !== undefined;
      },
      release: (p, ownerUid) => this.#patchOwner(p, { metadata: { ownerReferences: [{ $patch: 'delete', uid: ownerUid }] } }, 'release'),
      adopt: async (p) => ((await this.#patchOwner(p, { metadata: { ownerReferences: [newControllerRef(rs, 'apps/v1', 'ReplicaSet')] } }, 'adopt')) ? p : undefined),
    });
  }

  async #patchOwner(p: Pod, patch: unknown, what: 'adopt' | 'release'): Promise<boolean> {
    try {
      await this.#client.patch(PODS, String(p.metadata.name), patch, { namespace: p.metadata.namespace, type: 'strategic' });
      this.#log.info({ pod: objectKey(p) }, what === 'adopt' ? 'adopted pod' : 'released pod');
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async #manageReplicas(key: string, rs: ReplicaSet, active: readonly Pod[]): Promise<void> {
    const want = rs.spec.replicas ?? 1;
    const diff = active.length - want;
    if (diff < 0) {
      const count = Math.min(-diff, BURST_REPLICAS);
      this.#expectations.expect(key, count, []);
      this.#log.info({ replicaset: key, want, have: active.length, creating: count }, 'creating pods');
      const created = await slowStartBatch(count, 1, async () => {
        try {
          const pod = await this.#client.create(PODS, buildPodFromTemplate(rs));
          this.#events.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${String(pod.metadata.name)}`);
        } catch (err) {
          this.#expectations.creationFailed(key);
          this.#events.event(rs, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
          throw err;
        }
      });
      // Creates skipped after a failure will never be observed either.
      for (let i = created.attempted; i < count; i++) this.#expectations.creationFailed(key);
      if (created.error !== undefined) throw created.error;
      return;
    }
    if (diff > 0) {
      const victims = choosePodsToDelete(active, Math.min(diff, BURST_REPLICAS));
      this.#expectations.expect(key, 0, victims.map(objectKey));
      this.#log.info({ replicaset: key, want, have: active.length, deleting: victims.length }, 'deleting pods');
      const results = await Promise.allSettled(victims.map(async (p) => {
        try {
          await this.#client.delete(PODS, String(p.metadata.name), { namespace: p.metadata.namespace, preconditions: { uid: p.metadata.uid } });
          this.#events.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${String(p.metadata.name)}`);
        } catch (err) {
          this.#expectations.deletionObserved(key, objectKey(p));
          if (isNotFound(err)) return;
          this.#events.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
          throw err;
        }
      }));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }
  }
}

/**
 * Run `fn` `count` times in batches of 1, 2, 4, ... (upstream slowStartBatch): a failing template
 * costs one request, not hundreds. Stops after the first batch with a failure.
 */
export async function slowStartBatch(count: number, initialBatch: number, fn: () => Promise<void>): Promise<{ succeeded: number; attempted: number; error?: unknown }> {
  let succeeded = 0;
  let attempted = 0;
  let batch = Math.min(count, initialBatch);
  while (attempted < count) {
    const size = Math.min(batch, count - attempted);
    attempted += size;
    const results = await Promise.allSettled(Array.from({ length: size }, () => fn()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    succeeded += results.filter((r) => r.status === 'fulfilled').length;
    if (failed !== undefined) return { succeeded, attempted, error: failed.reason };
    batch *= 2;
  }
  return { succeeded, attempted };
}
