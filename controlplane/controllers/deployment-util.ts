// The Deployment rules, pure, after kube-controller-manager's deployment/util: pod-template-hash,
// semantic template equality (so `kubectl rollout undo` finds the old ReplicaSet again), max surge and
// max unavailable, how many replicas a new ReplicaSet may have, proportional scaling, revisions and
// their annotations, status and conditions, and the completeness/progress/timeout tests `kubectl
// rollout status` depends on.

import type { Condition, Deployment, DeploymentStatus, IntOrString, PodTemplateSpec, ReplicaSet } from '../client/types.ts';
import { canonical, getCondition, nowTimestamp, parseTimestamp } from './util.ts';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
const ROLLBACK_ANNOTATION = 'deprecated.deployment.rollback.to';
const NOT_COPIED = new Set([LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, ROLLBACK_ANNOTATION]);

// Condition reasons (upstream deploymentutil).
export const REASON_NEW_RS_CREATED = 'NewReplicaSetCreated';
export const REASON_FOUND_NEW_RS = 'FoundNewReplicaSet';
export const REASON_RS_UPDATED = 'ReplicaSetUpdated';
export const REASON_NEW_RS_AVAILABLE = 'NewReplicaSetAvailable';
export const REASON_TIMED_OUT = 'ProgressDeadlineExceeded';
export const REASON_PAUSED = 'DeploymentPaused';
export const REASON_RESUMED = 'DeploymentResumed';
export const REASON_FAILED_RS_CREATE = 'ReplicaSetCreateError';
export const REASON_MIN_AVAILABLE = 'MinimumReplicasAvailable';
export const REASON_MIN_UNAVAILABLE = 'MinimumReplicasUnavailable';

// ---- templates and hashes ----

/** Drop nulls, empty objects and empty lists (Go's omitempty makes them the same thing). */
export function normalizeForComparison(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(normalizeForComparison).filter((x) => x !== undefined);
    return items.length === 0 ? undefined : items;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const n = normalizeForComparison(x);
      if (n !== undefined) out[k] = n;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return v === null ? undefined : v;
}

function withoutHash(t: PodTemplateSpec): unknown {
  const copy = structuredClone(t);
  if (copy.metadata?.labels !== undefined) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  return normalizeForComparison(copy);
}

/** Upstream EqualIgnoreHash, semantically: key order, nulls and empties do not matter. */
export function templatesEqualIgnoringHash(a: PodTemplateSpec, b: PodTemplateSpec): boolean {
  return canonical(withoutHash(a)) === canonical(withoutHash(b));
}

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** FNV-1a 32 over the canonical template (and the collision count), rendered as upstream's SafeEncodeString. */
export function computeTemplateHash(t: PodTemplateSpec, collisionCount?: number): string {
  const bytes = Buffer.from(canonical(withoutHash(t)), 'utf8');
  let h = 0x811c9dc5;
  const mix = (b: number): void => {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (const b of bytes) mix(b);
  if (collisionCount !== undefined) {
    const c = Buffer.alloc(4);
    c.writeUInt32LE(collisionCount >>> 0);
    for (const b of c) mix(b);
  }
  return [...String(h >>> 0)].map((ch) => SAFE_ALPHABET[ch.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}

// ---- surge and unavailability ----

/** An int, or a percentage of `total` rounded up or down. */
export function scaledValue(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v.trim());
  if (m === null) {
    const n = Number(v);
    return Number.isInteger(n) ? n : 0;
  }
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

function isRollingUpdate(d: Deployment): boolean {
  return (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

export function desiredReplicas(d: Deployment): number {
  return d.spec.replicas ?? 1;
}

/** Surge rounded up, unavailable rounded down; both zero means one may be unavailable. */
export function resolveFenceposts(maxSurge: IntOrString | undefined, maxUnavailable: IntOrString | undefined, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge ?? '25%', desired, true);
  let unavailable = scaledValue(maxUnavailable ?? '25%', desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export function maxSurge(d: Deployment): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec.strategy?.rollingUpdate;
  return resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, desiredReplicas(d)).surge;
}

export function maxUnavailable(d: Deployment): number {
  const replicas = desiredReplicas(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const ru = d.spec.strategy?.rollingUpdate;
  return Math.min(replicas, resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, replicas).unavailable);
}

// ---- replica set sets ----

export function specReplicas(rs: ReplicaSet | undefined): number {
  return rs?.spec.replicas ?? 0;
}

export function sumSpecReplicas(rss: readonly (ReplicaSet | undefined)[]): number {
  return rss.reduce((s, rs) => s + specReplicas(rs), 0);
}

export function sumStatus(rss: readonly (ReplicaSet | undefined)[], field: 'replicas' | 'readyReplicas' | 'availableReplicas'): number {
  return rss.reduce((s, rs) => s + (rs?.status?.[field] ?? 0), 0);
}

export function filterActive(rss: readonly (ReplicaSet | undefined)[]): ReplicaSet[] {
  return rss.filter((rs): rs is ReplicaSet => rs !== undefined && specReplicas(rs) > 0);
}

function created(rs: ReplicaSet): number {
  return parseTimestamp(rs.metadata.creationTimestamp) ?? 0;
}

/** Oldest first, then by name. */
export function byCreation(a: ReplicaSet, b: ReplicaSet): number {
  return created(a) - created(b) || String(a.metadata.name).localeCompare(String(b.metadata.name));
}

/** The oldest ReplicaSet whose template equals the deployment's (ignoring the hash label). */
export function findNewReplicaSet(d: Deployment, rss: readonly ReplicaSet[]): ReplicaSet | undefined {
  return [...rss].sort(byCreation).find((rs) => templatesEqualIgnoringHash(rs.spec.template, d.spec.template));
}

export function revisionOf(rs: { metadata: { annotations?: Record<string, string> } }): number {
  const v = rs.metadata.annotations?.[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

export function maxRevision(rss: readonly ReplicaSet[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

/** Replicas the new ReplicaSet should have now (upstream NewRSNewReplicas). */
export function computeNewRsReplicas(d: Deployment, allRss: readonly (ReplicaSet | undefined)[], newRsReplicas: number): number {
  const replicas = desiredReplicas(d);
  if (!isRollingUpdate(d)) return replicas;
  const maxTotal = replicas + maxSurge(d);
  const current = sumSpecReplicas(allRss);
  if (current >= maxTotal) return newRsReplicas;
  const scaleUp = Math.min(maxTotal - current, replicas - newRsReplicas);
  return newRsReplicas + scaleUp;
}

/** Copy the deployment's annotations (except its own bookkeeping) onto the ReplicaSet; true if anything changed. */
export function copyDeploymentAnnotations(d: Deployment, rs: ReplicaSet): boolean {
  let changed = false;
  const target = (rs.metadata.annotations ??= {});
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (NOT_COPIED.has(k) || target[k] === v) continue;
    target[k] = v;
    changed = true;
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = rs.metadata.annotations ?? {};
  return a[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || a[MAX_REPLICAS_ANNOTATION] !== String(max);
}

export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  if (!replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
  const a = (rs.metadata.annotations ??= {});
  a[DESIRED_REPLICAS_ANNOTATION] = String(desired);
  a[MAX_REPLICAS_ANNOTATION] = String(max);
  return true;
}

/**
 * Annotations of the (new) ReplicaSet: copied deployment annotations; the revision raised to
 * `newRevision` when lower (a revived ReplicaSet keeps its old number in revision-history); replica
 * annotations for one about to be created. True if anything changed.
 */
export function setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, newRevision: number, exists: boolean): boolean {
  let changed = copyDeploymentAnnotations(d, rs);
  const a = (rs.metadata.annotations ??= {});
  const had = a[REVISION_ANNOTATION];
  const old = revisionOf(rs);
  if (old < newRevision) {
    a[REVISION_ANNOTATION] = String(newRevision);
    changed = true;
    if (had !== undefined) {
      const history = a[REVISION_HISTORY_ANNOTATION];
      a[REVISION_HISTORY_ANNOTATION] = history === undefined || history === '' ? had : `${history},${had}`;
    }
  }
  if (!exists && setReplicasAnnotations(rs, desiredReplicas(d), desiredReplicas(d) + maxSurge(d))) changed = true;
  return changed;
}

/** Every active ReplicaSet's desired-replicas annotation equal to spec.replicas? Otherwise it is a scaling event. */
export function isScalingEvent(d: Deployment, allRss: readonly (ReplicaSet | undefined)[]): boolean {
  for (const rs of filterActive(allRss)) {
    const v = rs.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION];
    if (v === undefined) continue;
    if (Number(v) !== desiredReplicas(d)) return true;
  }
  return false;
}

export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (rs === undefined) return false;
  const desired = rs.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION];
  return desired !== undefined && Number(desired) === desiredReplicas(d) && specReplicas(rs) === desiredReplicas(d) && (rs.status?.availableReplicas ?? 0) === desiredReplicas(d);
}

/** The one active ReplicaSet (or the newest if none is active); undefined when several are active. */
export function findActiveOrLatest(newRs: ReplicaSet | undefined, oldRss: readonly ReplicaSet[]): ReplicaSet | undefined {
  if (newRs === undefined && oldRss.length === 0) return undefined;
  const newestFirst = [...oldRss].sort((a, b) => -byCreation(a, b));
  const active = filterActive([...newestFirst, newRs]);
  if (active.length === 0) return newRs ?? newestFirst[0];
  if (active.length === 1) return active[0];
  return undefined;
}

function replicaSetFraction(rs: ReplicaSet, d: Deployment): number {
  if (desiredReplicas(d) === 0) return -specReplicas(rs);
  const deploymentReplicas = desiredReplicas(d) + maxSurge(d);
  const annotated = rs.metadata.annotations?.[MAX_REPLICAS_ANNOTATION];
  const max = annotated !== undefined && Number.isFinite(Number(annotated)) ? Number(annotated) : (d.status?.replicas ?? 0);
  if (max === 0) return 0;
  const size = (specReplicas(rs) * deploymentReplicas) / max;
  return Math.round(size) - specReplicas(rs);
}

/** Upstream GetProportion: this ReplicaSet's share of the replicas to add (or remove). */
export function computeProportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
  if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/** Larger first, newer first among equals (scaling up); for scaling down older first. */
export function sortForProportionalScaling(rss: readonly ReplicaSet[], up: boolean): ReplicaSet[] {
  return [...rss].sort((a, b) => {
    if (specReplicas(a) !== specReplicas(b)) return specReplicas(b) - specReplicas(a);
    return up ? -byCreation(a, b) : byCreation(a, b);
  });
}

/**
 * Proportional scaling during a rollout (upstream `scale` for several active ReplicaSets): the new
 * sizes by name. Leftovers go to the first (largest) ReplicaSet.
 */
export function planProportionalScale(d: Deployment, active: readonly ReplicaSet[]): Map<string, number> {
  const total = sumSpecReplicas(active);
  const allowed = desiredReplicas(d) > 0 ? desiredReplicas(d) + maxSurge(d) : 0;
  const toAdd = allowed - total;
  const sorted = sortForProportionalScaling(active, toAdd > 0);
  const sizes = new Map<string, number>();
  let added = 0;
  for (const rs of sorted) {
    if (toAdd !== 0) {
      const p = computeProportion(rs, d, toAdd, added);
      sizes.set(String(rs.metadata.name), specReplicas(rs) + p);
      added += p;
    } else {
      sizes.set(String(rs.metadata.name), specReplicas(rs));
    }
  }
  if (toAdd !== 0 && sorted.length > 0) {
    const first = String(sorted[0].metadata.name);
    sizes.set(first, Math.max(0, sizes.get(first)! + toAdd - added));
  }
  return sizes;
}

// ---- status and conditions ----

export function newDeploymentCondition(type: string, status: Condition['status'], reason: string, message: string, nowMs: number): Condition {
  const ts = nowTimestamp(nowMs);
  return { type, status, lastUpdateTime: ts, lastTransitionTime: ts, reason, message };
}

/** Upstream SetDeploymentCondition: same status and reason = no change; same status keeps the transition time. */
export function setDeploymentCondition(status: DeploymentStatus, c: Condition): void {
  const current = getCondition(status.conditions, c.type);
  if (current !== undefined && current.status === c.status && current.reason === c.reason) return;
  const next = { ...c };
  if (current !== undefined && current.status === c.status) next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), next];
}

export function removeDeploymentCondition(status: DeploymentStatus, type: string): void {
  status.conditions = (status.conditions ?? []).filter((c) => c.type !== type);
}

/** Counts over the ReplicaSets plus the Available condition. */
export function calculateStatus(allRss: readonly (ReplicaSet | undefined)[], newRs: ReplicaSet | undefined, d: Deployment, nowMs: number): DeploymentStatus {
  const rss = allRss.filter((r): r is ReplicaSet => r !== undefined);
  const available = sumStatus(rss, 'availableReplicas');
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation ?? 0,
    replicas: sumStatus(rss, 'replicas'),
    updatedReplicas: newRs === undefined ? 0 : (newRs.status?.replicas ?? 0),
    readyReplicas: sumStatus(rss, 'readyReplicas'),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, sumSpecReplicas(rss) - available),
  };
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  status.conditions = (d.status?.conditions ?? []).map((c) => ({ ...c }));
  if (available >= desiredReplicas(d) - maxUnavailable(d)) {
    setDeploymentCondition(status, newDeploymentCondition('Available', 'True', REASON_MIN_AVAILABLE, 'Deployment has minimum availability.', nowMs));
  } else {
    setDeploymentCondition(status, newDeploymentCondition('Available', 'False', REASON_MIN_UNAVAILABLE, 'Deployment does not have minimum availability.', nowMs));
  }
  return status;
}

/** All replicas updated and available, nothing old left, the spec observed. */
export function isDeploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const want = desiredReplicas(d);
  return (s.updatedReplicas ?? 0) === want && (s.replicas ?? 0) === want && (s.availableReplicas ?? 0) === want && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** Did the rollout move forward between the stored status and `s`? */
export function isDeploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0)
    || (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0) || oldOld > newOld;
}

export function hasProgressDeadline(d: Deployment): boolean {
  const v = d.spec.progressDeadlineSeconds;
  return v !== undefined && v !== 2147483647;
}

/** No progress for progressDeadlineSeconds since the Progressing condition was last updated. */
export function isDeploymentTimedOut(d: Deployment, s: DeploymentStatus, nowMs: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s.conditions, 'Progressing');
  if (c === undefined) return false;
  if (c.reason === REASON_NEW_RS_AVAILABLE) return false;
  if (c.reason === REASON_TIMED_OUT) return true;
  const from = parseTimestamp(c.lastUpdateTime);
  return from !== undefined && from + (d.spec.progressDeadlineSeconds ?? 600) * 1000 < nowMs;
}

/** Compare status objects ignoring key order. */
export function statusEqual(a: DeploymentStatus | undefined, b: DeploymentStatus): boolean {
  return canonical(normalizeForComparison(a ?? {})) === canonical(normalizeForComparison(b));
}
