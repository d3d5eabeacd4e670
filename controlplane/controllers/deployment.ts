// Deployment controller, after kube-controller-manager's: claims ReplicaSets by selector, finds the
// new one by semantic template equality (creating `<name>-<pod-template-hash>` when missing), then
// either scales (paused, or a replicas change), rolls out with RollingUpdate (maxSurge /
// maxUnavailable) or Recreate, cleans old ReplicaSets beyond revisionHistoryLimit and writes the
// status `kubectl rollout status` reads (observedGeneration, counts, Available and Progressing
// conditions). A rollback (`kubectl rollout undo` puts an old template back) revives the old
// ReplicaSet with revision max+1. Events: ScalingReplicaSet.

import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from '../client/client.ts';
import { isAlreadyExists, isNotFound } from '../client/errors.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Informer, InformerFactory } from '../client/informer.ts';
import { isEmptySelector, matchesSelector } from '../client/labels.ts';
import { claimDependents } from './claim.ts';
import { DEPLOYMENTS, objectKey, PODS, REPLICASETS } from '../client/resources.ts';
import type { Deployment, DeploymentStatus, Pod, ReplicaSet } from '../client/types.ts';
import { WorkQueue, type ReconcileResult } from '../client/work-queue.ts';
import {
  byCreation, calculateStatus, computeNewRsReplicas, computeTemplateHash, desiredReplicas, filterActive, findActiveOrLatest,
  findNewReplicaSet, hasProgressDeadline, isDeploymentComplete, isDeploymentProgressing, isDeploymentTimedOut, isSaturated,
  isScalingEvent, maxRevision, maxSurge, maxUnavailable, newDeploymentCondition, planProportionalScale, POD_TEMPLATE_HASH_LABEL,
  REASON_FAILED_RS_CREATE, REASON_FOUND_NEW_RS, REASON_NEW_RS_AVAILABLE, REASON_NEW_RS_CREATED, REASON_PAUSED, REASON_RESUMED,
  REASON_RS_UPDATED, REASON_TIMED_OUT, removeDeploymentCondition, replicasAnnotationsNeedUpdate, REVISION_ANNOTATION, revisionOf,
  setDeploymentCondition, setNewReplicaSetAnnotations, setReplicasAnnotations, specReplicas, statusEqual, sumSpecReplicas,
} from './deployment-util.ts';
import { ADOPT_DELAY_MS } from './replicaset.ts';
import { buildStatusMergePatch, controllerRefOf, getCondition, newControllerRef, parseTimestamp, ReleaseTracker } from './util.ts';

export const DEPLOYMENT_CONTROLLER = 'deployment-controller';

export interface DeploymentControllerOptions {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly events: EventRecorder;
  readonly log?: Logger;
  readonly workers?: number;
  readonly now?: () => number;
}

/** One reconcile's view: a private copy of the deployment whose status is built up as we go. */
interface Sync {
  readonly key: string;
  readonly d: Deployment;
  readonly original: Deployment;
  requeueAfterMs?: number;
  /** getAllReplicaSets' answer, computed once per reconcile (it may write). */
  all?: { newRs: ReplicaSet | undefined; oldRss: ReplicaSet[] };
}

export class DeploymentController {
  readonly #client: ApiClient;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #deployments: Informer<Deployment>;
  readonly #rs: Informer<ReplicaSet>;
  readonly #pods: Informer<Pod>;
  readonly #released = new ReleaseTracker({ delayMs: ADOPT_DELAY_MS });
  readonly queue: WorkQueue;

  constructor(opts: DeploymentControllerOptions) {
    this.#client = opts.client;
    this.#events = opts.events;
    this.#log = (opts.log ?? silentLogger()).child({ controller: 'deployment' });
    this.#now = opts.now ?? Date.now;
    const byNs = { namespace: (o: { metadata: { namespace?: string } }) => [o.metadata.namespace ?? ''] };
    this.#deployments = opts.informers.informerFor(DEPLOYMENTS, {}, byNs);
    this.#rs = opts.informers.informerFor(REPLICASETS, {}, byNs);
    this.#pods = opts.informers.informerFor(PODS, {}, { ...byNs, controllerUid: (p) => { const r = controllerRefOf(p); return r === undefined ? [] : [r.uid]; } });
    this.queue = new WorkQueue({ name: 'deployment', reconcile: (key) => this.reconcile(key), log: this.#log, maxConcurrent: opts.workers ?? 5 });
    this.#deployments.addHandler({
      onAdd: (d) => this.queue.add(objectKey(d)),
      onUpdate: (_old, d) => this.queue.add(objectKey(d)),
      onDelete: (d) => this.queue.add(objectKey(d)),
    });
    this.#rs.addHandler({
      onAdd: (rs) => this.#onReplicaSet(rs),
      onUpdate: (old, rs) => {
        if (old === rs) return;
        this.#released.observe(old, rs);
        this.#onReplicaSet(rs);
        if (controllerRefOf(old)?.uid !== controllerRefOf(rs)?.uid) this.#onReplicaSet(old);
      },
      onDelete: (rs) => this.#onReplicaSet(rs),
    });
    this.#pods.addHandler({ onDelete: (p) => this.#onPodDeleted(p) });
  }

  #ownerOf(o: { metadata: { namespace?: string; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] } }, kind: 'Deployment'): Deployment | undefined {
    const ref = (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
    if (ref === undefined || ref.kind !== kind) return undefined;
    const d = this.#deployments.getByName(o.metadata.namespace, ref.name);
    return d !== undefined && d.metadata.uid === ref.uid ? d : undefined;
  }

  #onReplicaSet(rs: ReplicaSet): void {
    const d = this.#ownerOf(rs, 'Deployment');
    if (d !== undefined) { this.queue.add(objectKey(d)); return; }
    if (controllerRefOf(rs) !== undefined) return;
    for (const cand of this.#deployments.byIndex('namespace', rs.metadata.namespace ?? '')) {
      if (matchesSelector(cand.spec.selector, rs.metadata.labels)) this.queue.add(objectKey(cand));
    }
  }

  /** Recreate waits for old pods to be gone. */
  #onPodDeleted(p: Pod): void {
    const ref = controllerRefOf(p);
    if (ref === undefined || ref.kind !== 'ReplicaSet') return;
    const rs = this.#rs.getByName(p.metadata.namespace, ref.name);
    if (rs === undefined) return;
    const d = this.#ownerOf(rs, 'Deployment');
    if (d !== undefined && d.spec.strategy?.type === 'Recreate') this.queue.add(objectKey(d));
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const cached = this.#deployments.get(key);
    if (cached === undefined) return undefined;
    const d = structuredClone(cached);
    const s: Sync = { key, d, original: cached };
    if (isEmptySelector(d.spec.selector)) {
      this.#events.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        await this.#writeStatus(s, { ...(d.status ?? {}), observedGeneration: d.metadata.generation ?? 0 });
      }
      return undefined;
    }
    const { owned: rsList, adoptLaterMs } = await this.#claimReplicaSets(d);
    // ReplicaSets just taken from us by someone else: we may be on our way out (see ReleaseTracker);
    // ReplicaSets we may adopt shortly: a new one now could be a duplicate.
    const lostWait = this.#released.ownerWaitMs(String(d.metadata.uid)) ?? adoptLaterMs;
    if (lostWait !== undefined) return { requeueAfterMs: lostWait };
    const result = (): ReconcileResult => (s.requeueAfterMs === undefined ? undefined : { requeueAfterMs: s.requeueAfterMs });
    if (d.metadata.deletionTimestamp !== undefined) {
      await this.#syncStatusOnly(s, rsList);
      return result();
    }
    await this.#checkPausedConditions(s);
    if (d.spec.paused === true) {
      await this.#syncScale(s, rsList);
      return result();
    }
    const probe = await this.#getAllReplicaSets(s, rsList, false);
    if (isScalingEvent(d, [...probe.oldRss, probe.newRs])) {
      await this.#syncScale(s, rsList);
      return result();
    }
    if (d.spec.strategy?.type === 'Recreate') await this.#rolloutRecreate(s, rsList);
    else await this.#rolloutRolling(s, rsList);
    return result();
  }

  // ---- ReplicaSets of a deployment ----

  /**
   * ReplicaSets controlled by the deployment and matching its selector; adopt orphans, release strays.
   * As for pods (replicaset.ts): adopt only after a live read shows the deployment is not going away,
   * and not right after the ReplicaSet lost its owner.
   */
  async #claimReplicaSets(d: Deployment): Promise<{ owned: ReplicaSet[]; adoptLaterMs?: number }> {
    return claimDependents<ReplicaSet>({
      owner: d,
      candidates: this.#rs.byIndex('namespace', d.metadata.namespace ?? ''),
      matches: (rs) => matchesSelector(d.spec.selector, rs.metadata.labels),
      released: this.#released,
      isOwnerGoing: async () => {
        const live = await this.#client.tryGet(DEPLOYMENTS, String(d.metadata.name), { namespace: d.metadata.namespace });
        return live === undefined || live.metadata.uid !== d.metadata.uid || live.metadata.deletionTimestamp !== undefined;
      },
      release: (rs, ownerUid) => this.#patchRs(rs, { metadata: { ownerReferences: [{ $patch: 'delete', uid: ownerUid }] } }, 'strategic'),
      adopt: (rs) => this.#patchRs(rs, { metadata: { ownerReferences: [newControllerRef(d, 'apps/v1', 'Deployment')] } }, 'strategic'),
    });
  }

  async #patchRs(rs: ReplicaSet, patch: unknown, type: 'merge' | 'strategic' = 'merge'): Promise<ReplicaSet | undefined> {
    try {
      return await this.#client.patch(REPLICASETS, String(rs.metadata.name), patch, { namespace: rs.metadata.namespace, type });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * The new ReplicaSet (created when `create` and missing) and the old ones; revisions synced: the new
   * one gets max(old)+1 when lower, the deployment carries the new one's revision.
   */
  async #getAllReplicaSets(s: Sync, rsList: readonly ReplicaSet[], create: boolean): Promise<{ newRs: ReplicaSet | undefined; oldRss: ReplicaSet[] }> {
    if (s.all !== undefined && (s.all.newRs !== undefined || !create)) return s.all;
    s.all = await this.#findOrCreateReplicaSets(s, rsList, create);
    return s.all;
  }

  async #findOrCreateReplicaSets(s: Sync, rsList: readonly ReplicaSet[], create: boolean): Promise<{ newRs: ReplicaSet | undefined; oldRss: ReplicaSet[] }> {
    const d = s.d;
    const existing = findNewReplicaSet(d, rsList);
    const oldRss = rsList.filter((rs) => rs !== existing);
    const newRevision = maxRevision(oldRss) + 1;
    if (existing !== undefined) {
      const copy = structuredClone(existing);
      const annotationsChanged = setNewReplicaSetAnnotations(d, copy, newRevision, true);
      const minReadyChanged = (copy.spec.minReadySeconds ?? 0) !== (d.spec.minReadySeconds ?? 0);
      let newRs: ReplicaSet = existing;
      if (annotationsChanged || minReadyChanged) {
        const patched = await this.#patchRs(existing, { metadata: { annotations: copy.metadata.annotations }, spec: { minReadySeconds: d.spec.minReadySeconds ?? 0 } });
        if (patched !== undefined) newRs = patched;
        if (revisionOf(copy) !== revisionOf(existing)) this.#log.info({ deployment: s.key, replicaset: existing.metadata.name, revision: revisionOf(copy) }, 'replica set takes the newest revision');
      }
      await this.#setDeploymentRevision(s, newRs.metadata.annotations?.[REVISION_ANNOTATION] ?? String(newRevision));
      if (hasProgressDeadline(d) && getCondition(d.status?.conditions, 'Progressing') === undefined) {
        setDeploymentCondition(this.#status(s), newDeploymentCondition('Progressing', 'True', REASON_FOUND_NEW_RS, `Found new replica set "${String(newRs.metadata.name)}"`, this.#now()));
      }
      return { newRs, oldRss };
    }
    if (!create) return { newRs: undefined, oldRss };
    const hash = computeTemplateHash(d.spec.template, d.status?.collisionCount);
    const template = structuredClone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
    const selector = structuredClone(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        name: `${String(d.metadata.name)}-${hash}`, namespace: d.metadata.namespace, labels: { ...(template.metadata.labels ?? {}) },
        annotations: {}, ownerReferences: [newControllerRef(d, 'apps/v1', 'Deployment')],
      },
      spec: { replicas: 0, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
    };
    rs.spec.replicas = computeNewRsReplicas(d, oldRss, 0);
    setNewReplicaSetAnnotations(d, rs, newRevision, false);
    let createdRs: ReplicaSet;
    let alreadyExisted = false;
    try {
      createdRs = await this.#client.create(REPLICASETS, rs);
    } catch (err) {
      if (!isAlreadyExists(err)) {
        const msg = `Failed to create new replica set "${String(rs.metadata.name)}": ${(err as Error).message}`;
        if (hasProgressDeadline(d)) {
          setDeploymentCondition(this.#status(s), newDeploymentCondition('Progressing', 'False', REASON_FAILED_RS_CREATE, msg, this.#now()));
          await this.#writeStatus(s, this.#status(s)).catch(() => undefined);
        }
        this.#events.event(d, 'Warning', REASON_FAILED_RS_CREATE, msg);
        throw err;
      }
      // A slow cache, or a hash collision with a ReplicaSet that is not ours.
      const found = await this.#client.tryGet(REPLICASETS, String(rs.metadata.name), { namespace: d.metadata.namespace });
      if (found === undefined) throw err;
      const ref = controllerRefOf(found);
      if (ref?.uid === d.metadata.uid && findNewReplicaSet(d, [found]) !== undefined) {
        createdRs = found;
        alreadyExisted = true;
      } else {
        const status = this.#status(s);
        status.collisionCount = (status.collisionCount ?? 0) + 1;
        this.#log.info({ deployment: s.key, collisionCount: status.collisionCount }, 'template hash collision, bumping collisionCount');
        await this.#writeStatus(s, status);
        throw err;
      }
    }
    if (!alreadyExisted && specReplicas(createdRs) > 0) {
      this.#events.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${String(createdRs.metadata.name)} from 0 to ${specReplicas(createdRs)}`);
    }
    await this.#setDeploymentRevision(s, String(newRevision));
    if (!alreadyExisted && hasProgressDeadline(d)) {
      setDeploymentCondition(this.#status(s), newDeploymentCondition('Progressing', 'True', REASON_NEW_RS_CREATED, `Created new replica set "${String(createdRs.metadata.name)}"`, this.#now()));
    }
    return { newRs: createdRs, oldRss };
  }

  #status(s: Sync): DeploymentStatus {
    return (s.d.status ??= {});
  }

  async #setDeploymentRevision(s: Sync, revision: string): Promise<void> {
    if (s.d.metadata.annotations?.[REVISION_ANNOTATION] === revision) return;
    (s.d.metadata.annotations ??= {})[REVISION_ANNOTATION] = revision;
    try {
      await this.#client.patch(DEPLOYMENTS, String(s.d.metadata.name), { metadata: { annotations: { [REVISION_ANNOTATION]: revision } } }, { namespace: s.d.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  // ---- scaling ----

  /** Set a ReplicaSet's size (and replica annotations); event when the size changes. */
  async #scaleReplicaSet(s: Sync, rs: ReplicaSet, size: number): Promise<ReplicaSet> {
    const d = s.d;
    const sizeChanged = specReplicas(rs) !== size;
    const annotationsChanged = replicasAnnotationsNeedUpdate(rs, desiredReplicas(d), desiredReplicas(d) + maxSurge(d));
    if (!sizeChanged && !annotationsChanged) return rs;
    const copy = structuredClone(rs);
    setReplicasAnnotations(copy, desiredReplicas(d), desiredReplicas(d) + maxSurge(d));
    const patched = await this.#patchRs(rs, { metadata: { annotations: copy.metadata.annotations }, spec: { replicas: size } });
    if (sizeChanged) {
      const verb = specReplicas(rs) < size ? 'up' : 'down';
      this.#events.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${verb} replica set ${String(rs.metadata.name)} from ${specReplicas(rs)} to ${size}`);
      this.#log.info({ deployment: s.key, replicaset: rs.metadata.name, from: specReplicas(rs), to: size }, `scaled ${verb}`);
    }
    return patched ?? { ...copy, spec: { ...copy.spec, replicas: size } };
  }

  /** Upstream `scale`: resize the active ReplicaSet(s) to spec.replicas, proportionally during a rollout. */
  async #scale(s: Sync, newRs: ReplicaSet | undefined, oldRss: ReplicaSet[]): Promise<void> {
    const d = s.d;
    const one = findActiveOrLatest(newRs, oldRss);
    if (one !== undefined) {
      if (specReplicas(one) !== desiredReplicas(d)) await this.#scaleReplicaSet(s, one, desiredReplicas(d));
      return;
    }
    if (isSaturated(d, newRs)) {
      for (const old of filterActive(oldRss)) await this.#scaleReplicaSet(s, old, 0);
      return;
    }
    if ((d.spec.strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return;
    const active = filterActive([...oldRss, newRs]);
    const sizes = planProportionalScale(d, active);
    for (const rs of active) await this.#scaleReplicaSet(s, rs, sizes.get(String(rs.metadata.name)) ?? specReplicas(rs));
  }

  /** Paused or a replicas change: scale, clean up when paused, write status. */
  async #syncScale(s: Sync, rsList: readonly ReplicaSet[]): Promise<void> {
    const { newRs, oldRss } = await this.#getAllReplicaSets(s, rsList, false);
    await this.#scale(s, newRs, oldRss);
    if (s.d.spec.paused === true) await this.#cleanup(s, oldRss);
    const all = await this.#refreshed(s.d, [...oldRss, newRs]);
    await this.#syncDeploymentStatus(s, all.rss, all.newRs(newRs));
  }

  // ---- rollouts ----

  async #rolloutRolling(s: Sync, rsList: readonly ReplicaSet[]): Promise<void> {
    const d = s.d;
    let { newRs, oldRss } = await this.#getAllReplicaSets(s, rsList, true);
    // Step 1: scale the new ReplicaSet up as far as maxSurge allows.
    if (newRs !== undefined && specReplicas(newRs) !== desiredReplicas(d)) {
      const target = specReplicas(newRs) > desiredReplicas(d) ? desiredReplicas(d) : computeNewRsReplicas(d, [...oldRss, newRs], specReplicas(newRs));
      if (target !== specReplicas(newRs)) {
        newRs = await this.#scaleReplicaSet(s, newRs, target);
        await this.#syncRolloutStatus(s, [...oldRss, newRs], newRs);
        return;
      }
    }
    // Step 2: scale old ReplicaSets down as far as maxUnavailable allows.
    const scaledDown = await this.#reconcileOldReplicaSets(s, [...oldRss, newRs], filterActive(oldRss), newRs);
    if (scaledDown) {
      const all = await this.#refreshed(d, [...oldRss, newRs]);
      await this.#syncRolloutStatus(s, all.rss, all.newRs(newRs));
      return;
    }
    // Step 3: when complete, drop ReplicaSets beyond the history limit.
    const status = calculateStatus([...oldRss, newRs], newRs, d, this.#now());
    if (isDeploymentComplete(d, status)) await this.#cleanup(s, oldRss);
    await this.#syncRolloutStatus(s, [...oldRss, newRs], newRs);
  }

  /** The ReplicaSets as the cache has them now (our own writes may have landed). */
  async #refreshed(d: Deployment, rss: readonly (ReplicaSet | undefined)[]): Promise<{ rss: ReplicaSet[]; newRs: (old: ReplicaSet | undefined) => ReplicaSet | undefined }> {
    const fresh = rss.filter((r): r is ReplicaSet => r !== undefined).map((r) => this.#rs.getByName(d.metadata.namespace, String(r.metadata.name)) ?? r);
    return { rss: fresh, newRs: (old) => (old === undefined ? undefined : fresh.find((r) => r.metadata.uid === old.metadata.uid) ?? old) };
  }

  async #reconcileOldReplicaSets(s: Sync, allRss: readonly (ReplicaSet | undefined)[], activeOld: ReplicaSet[], newRs: ReplicaSet | undefined): Promise<boolean> {
    const d = s.d;
    const oldPods = sumSpecReplicas(activeOld);
    if (oldPods === 0) return false;
    const allPods = sumSpecReplicas(allRss);
    const minAvailable = desiredReplicas(d) - maxUnavailable(d);
    const newUnavailable = specReplicas(newRs) - (newRs?.status?.availableReplicas ?? 0);
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    // Unhealthy replicas go first: they cost no availability.
    let cleaned = 0;
    const olds = [...activeOld].sort(byCreation);
    for (let i = 0; i < olds.length && cleaned < maxScaledDown; i++) {
      const rs = olds[i];
      const available = rs.status?.availableReplicas ?? 0;
      if (specReplicas(rs) === 0 || specReplicas(rs) === available) continue;
      const n = Math.min(maxScaledDown - cleaned, specReplicas(rs) - available);
      olds[i] = await this.#scaleReplicaSet(s, rs, specReplicas(rs) - n);
      cleaned += n;
    }
    // Then healthy ones, oldest first, keeping minAvailable.
    const all = [...olds, newRs];
    const availableNow = all.reduce((sum, rs) => sum + (rs?.status?.availableReplicas ?? 0), 0);
    let scaled = 0;
    if (availableNow > minAvailable) {
      const total = availableNow - minAvailable;
      for (let i = 0; i < olds.length && scaled < total; i++) {
        const rs = olds[i];
        if (specReplicas(rs) === 0) continue;
        const n = Math.min(specReplicas(rs), total - scaled);
        olds[i] = await this.#scaleReplicaSet(s, rs, specReplicas(rs) - n);
        scaled += n;
      }
    }
    return cleaned + scaled > 0;
  }

  async #rolloutRecreate(s: Sync, rsList: readonly ReplicaSet[]): Promise<void> {
    const d = s.d;
    let { newRs, oldRss } = await this.#getAllReplicaSets(s, rsList, false);
    // Step 1: every old ReplicaSet to zero.
    let scaledDown = false;
    for (const rs of filterActive(oldRss)) {
      await this.#scaleReplicaSet(s, rs, 0);
      scaledDown = true;
    }
    if (scaledDown) {
      await this.#syncRolloutStatus(s, [...oldRss, newRs], newRs);
      return;
    }
    // Step 2: wait until no old pod runs.
    if (this.#oldPodsRunning(oldRss)) {
      await this.#syncRolloutStatus(s, [...oldRss, newRs], newRs);
      return;
    }
    // Step 3: the new ReplicaSet at full size.
    if (newRs === undefined) ({ newRs, oldRss } = await this.#getAllReplicaSets(s, rsList, true));
    if (newRs !== undefined && specReplicas(newRs) !== desiredReplicas(d)) newRs = await this.#scaleReplicaSet(s, newRs, desiredReplicas(d));
    const status = calculateStatus([...oldRss, newRs], newRs, d, this.#now());
    if (isDeploymentComplete(d, status)) await this.#cleanup(s, oldRss);
    await this.#syncRolloutStatus(s, [...oldRss, newRs], newRs);
  }

  #oldPodsRunning(oldRss: readonly ReplicaSet[]): boolean {
    for (const rs of oldRss) {
      if ((rs.status?.replicas ?? 0) > 0) return true;
      for (const p of this.#pods.byIndex('controllerUid', String(rs.metadata.uid))) {
        const phase = p.status?.phase;
        if (phase !== 'Failed' && phase !== 'Succeeded') return true;
      }
    }
    return false;
  }

  /** Delete old, empty ReplicaSets beyond revisionHistoryLimit, lowest revision first. */
  async #cleanup(s: Sync, oldRss: readonly ReplicaSet[]): Promise<void> {
    const limit = s.d.spec.revisionHistoryLimit;
    if (limit === undefined) return;
    const alive = oldRss.filter((rs) => rs.metadata.deletionTimestamp === undefined);
    const diff = alive.length - limit;
    if (diff <= 0) return;
    const sorted = [...alive].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
    for (let i = 0; i < diff; i++) {
      const rs = sorted[i];
      if ((rs.status?.replicas ?? 0) !== 0 || specReplicas(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
      this.#log.info({ deployment: s.key, replicaset: rs.metadata.name, revision: revisionOf(rs) }, 'deleting old replica set beyond the history limit');
      try {
        await this.#client.delete(REPLICASETS, String(rs.metadata.name), { namespace: rs.metadata.namespace, preconditions: { uid: rs.metadata.uid } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  // ---- status ----

  async #checkPausedConditions(s: Sync): Promise<void> {
    const d = s.d;
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status?.conditions, 'Progressing');
    if (cond?.reason === REASON_TIMED_OUT) return;
    const paused = d.spec.paused === true;
    let changed = false;
    if (paused && cond?.reason !== REASON_PAUSED) {
      setDeploymentCondition(this.#status(s), newDeploymentCondition('Progressing', 'Unknown', REASON_PAUSED, 'Deployment is paused', this.#now()));
      changed = true;
    } else if (!paused && cond?.reason === REASON_PAUSED) {
      setDeploymentCondition(this.#status(s), newDeploymentCondition('Progressing', 'Unknown', REASON_RESUMED, 'Deployment is resumed', this.#now()));
      changed = true;
    }
    if (changed) await this.#writeStatus(s, this.#status(s));
  }

  async #syncStatusOnly(s: Sync, rsList: readonly ReplicaSet[]): Promise<void> {
    const { newRs, oldRss } = await this.#getAllReplicaSets(s, rsList, false);
    await this.#syncDeploymentStatus(s, [...oldRss, newRs], newRs);
  }

  async #syncDeploymentStatus(s: Sync, allRss: readonly (ReplicaSet | undefined)[], newRs: ReplicaSet | undefined): Promise<void> {
    const status = calculateStatus(allRss, newRs, s.d, this.#now());
    await this.#writeStatus(s, status);
  }

  /** Counts and conditions, with Progressing as upstream syncRolloutStatus sets it; requeue a stuck rollout at its deadline. */
  async #syncRolloutStatus(s: Sync, allRss: readonly (ReplicaSet | undefined)[], newRs: ReplicaSet | undefined): Promise<void> {
    const d = s.d;
    const nowMs = this.#now();
    const status = calculateStatus(allRss, newRs, d, nowMs);
    if (!hasProgressDeadline(d)) removeDeploymentCondition(status, 'Progressing');
    const current = getCondition(d.status?.conditions, 'Progressing');
    const complete = status.replicas === status.updatedReplicas && current?.reason === REASON_NEW_RS_AVAILABLE;
    const rsName = newRs === undefined ? undefined : String(newRs.metadata.name);
    if (hasProgressDeadline(d) && !complete) {
      if (isDeploymentComplete(d, status)) {
        const msg = rsName === undefined ? `Deployment "${String(d.metadata.name)}" has successfully progressed.` : `ReplicaSet "${rsName}" has successfully progressed.`;
        setDeploymentCondition(status, newDeploymentCondition('Progressing', 'True', REASON_NEW_RS_AVAILABLE, msg, nowMs));
      } else if (isDeploymentProgressing(d, status)) {
        const msg = rsName === undefined ? `Deployment "${String(d.metadata.name)}" is progressing.` : `ReplicaSet "${rsName}" is progressing.`;
        const c = newDeploymentCondition('Progressing', 'True', REASON_RS_UPDATED, msg, nowMs);
        if (current !== undefined && current.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
        removeDeploymentCondition(status, 'Progressing');
        setDeploymentCondition(status, c);
      } else if (isDeploymentTimedOut(d, status, nowMs)) {
        const msg = rsName === undefined ? `Deployment "${String(d.metadata.name)}" has timed out progressing.` : `ReplicaSet "${rsName}" has timed out progressing.`;
        setDeploymentCondition(status, newDeploymentCondition('Progressing', 'False', REASON_TIMED_OUT, msg, nowMs));
      }
    }
    await this.#writeStatus(s, status);
    // A rollout that does not move is looked at again when its deadline passes.
    const cond = getCondition(status.conditions, 'Progressing');
    if (hasProgressDeadline(d) && cond?.status === 'True' && cond.reason !== REASON_NEW_RS_AVAILABLE && !isDeploymentComplete(d, status)) {
      const from = parseTimestamp(cond.lastUpdateTime) ?? nowMs;
      s.requeueAfterMs = Math.min(s.requeueAfterMs ?? Infinity, Math.max(1000, from + (d.spec.progressDeadlineSeconds ?? 600) * 1000 - nowMs + 1000));
    }
  }

  async #writeStatus(s: Sync, status: DeploymentStatus): Promise<void> {
    if (statusEqual(s.original.status, status)) return;
    const patch = buildStatusMergePatch(s.original.status as Record<string, unknown> | undefined, status as Record<string, unknown>);
    if (patch === undefined) return;
    try {
      await this.#client.patchStatus(DEPLOYMENTS, String(s.d.metadata.name), { status: patch }, { namespace: s.d.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
