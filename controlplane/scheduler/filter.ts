// Filters, pure: can this pod run on this node? Run in kube-scheduler's default order — node
// unschedulable, node name, taints, node affinity/selector, host ports, resources — stopping at the
// first plugin that rejects; the reasons are kube-scheduler's own words, so the FailedScheduling
// message reads the same ("1 node(s) were unschedulable", "2 Insufficient cpu").

import type { NodeSelectorRequirement, NodeSelectorTerm, Node, Taint, Toleration } from '../client/types.ts';
import { HOT_ALLOC_MEMORY, HOT_ALLOC_MILLI_CPU, HOT_ALLOC_PODS, HOT_POD_COUNT, HOT_REQ_MEMORY, HOT_REQ_MILLI_CPU, TAINT_UNSCHEDULABLE, type NodeInfo, type PodFacts } from './node-info.ts';

export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const REASON_NODE_NAME = "node(s) didn't match the requested node name";
export const REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
export const REASON_HOST_PORTS = "node(s) didn't have free ports for the requested pod ports";
export const REASON_TOO_MANY_PODS = 'Too many pods';

export function untoleratedTaintReason(t: Taint): string {
  return `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`;
}

/** Upstream Toleration.ToleratesTaint. */
export function toleratesTaint(tol: Toleration, taint: Taint): boolean {
  if (tol.effect !== undefined && tol.effect !== '' && tol.effect !== taint.effect) return false;
  if ((tol.key ?? '') !== '' && tol.key !== taint.key) return false;
  switch (tol.operator ?? 'Equal') {
    case 'Exists': return true;
    case 'Equal': return (tol.value ?? '') === (taint.value ?? '');
    default: return false;
  }
}

export function isTolerated(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => toleratesTaint(t, taint));
}

/** The first NoSchedule/NoExecute taint the pod does not tolerate. */
export function findUntoleratedTaint(taints: readonly Taint[], tolerations: readonly Toleration[]): Taint | undefined {
  // Hot path: a plain loop, no closure per node.
  for (let i = 0; i < taints.length; i++) {
    const t = taints[i];
    if ((t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !isTolerated(tolerations, t)) return t;
  }
  return undefined;
}

function matchRequirement(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In': return value !== undefined && values.includes(value);
    case 'NotIn': return value === undefined || !values.includes(value);
    case 'Exists': return value !== undefined;
    case 'DoesNotExist': return value === undefined;
    case 'Gt': case 'Lt': {
      if (value === undefined || values.length !== 1) return false;
      const have = Number.parseInt(value, 10);
      const want = Number.parseInt(values[0], 10);
      if (!Number.isInteger(have) || !Number.isInteger(want)) return false;
      return r.operator === 'Gt' ? have > want : have < want;
    }
    default: return false;
  }
}

/** One term: all its expressions hold. A term with nothing in it matches nothing (upstream). */
export function matchNodeSelectorTerm(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const e of exprs) {
    if (!matchRequirement(e, Object.prototype.hasOwnProperty.call(labels, e.key) ? labels[e.key] : undefined)) return false;
  }
  for (const f of fields) {
    if (f.key !== 'metadata.name') return false;
    if (!matchRequirement(f, node.metadata.name)) return false;
  }
  return true;
}

/** nodeSelector (every label equal) and required node affinity (any term). */
export function matchesNodeAffinity(pod: PodFacts, node: Node): boolean {
  const required = pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (pod.nodeSelector === undefined && required === undefined) return true;
  const labels = node.metadata.labels ?? {};
  if (pod.nodeSelector !== undefined) {
    for (const k in pod.nodeSelector) if (labels[k] !== pod.nodeSelector[k]) return false;
  }
  if (required !== undefined) {
    const terms = required.nodeSelectorTerms ?? [];
    if (!terms.some((t) => matchNodeSelectorTerm(t, node))) return false;
  }
  return true;
}

/** A wanted host port conflicts with a used one on the same protocol/port when either IP is 0.0.0.0 or they are equal. */
export function hasHostPortConflict(pod: PodFacts, info: NodeInfo): boolean {
  if (pod.hostPorts.length === 0 || info.usedPorts.size === 0) return false;
  for (const hp of pod.hostPorts) {
    const used = info.usedPorts.get(`${hp.protocol}/${hp.port}`);
    if (used === undefined) continue;
    if (hp.ip === '0.0.0.0' || used.some((ip) => ip === '0.0.0.0' || ip === hp.ip)) return true;
  }
  return false;
}

/** Reasons the node lacks room: "Too many pods", "Insufficient cpu", "Insufficient memory", "Insufficient <name>". */
export function insufficientResources(pod: PodFacts, info: NodeInfo): readonly string[] {
  // Hot path (every pod against hundreds of nodes): no allocation unless something is short.
  let out: string[] | undefined;
  const h = info.hot;
  if (h[HOT_POD_COUNT] + 1 > h[HOT_ALLOC_PODS]) (out ??= []).push(REASON_TOO_MANY_PODS);
  const r = pod.requests;
  if (r.milliCpu > 0 && r.milliCpu > h[HOT_ALLOC_MILLI_CPU] - h[HOT_REQ_MILLI_CPU]) (out ??= []).push('Insufficient cpu');
  if (r.memory > 0 && r.memory > h[HOT_ALLOC_MEMORY] - h[HOT_REQ_MEMORY]) (out ??= []).push('Insufficient memory');
  const a = info.allocatable;
  for (let i = 0; i < pod.scalarNames.length; i++) {
    const name = pod.scalarNames[i];
    const want = r.scalar[name];
    if (want > (a.scalar[name] ?? 0) - (info.requested.scalar[name] ?? 0)) (out ??= []).push(`Insufficient ${name}`);
  }
  return out ?? FITS;
}

const FITS: readonly string[] = Object.freeze([]);

/** Why `pod` cannot run on the node; empty = it fits. */
export function filterNode(pod: PodFacts, info: NodeInfo): readonly string[] {
  const node = info.node;
  // NodeUnschedulable
  if (node.spec?.unschedulable === true && !isTolerated(pod.tolerations, { key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' })) return [REASON_UNSCHEDULABLE];
  // NodeName
  if (pod.nodeName !== '' && pod.nodeName !== info.name) return [REASON_NODE_NAME];
  // TaintToleration
  const taint = findUntoleratedTaint(info.taints, pod.tolerations);
  if (taint !== undefined) return [untoleratedTaintReason(taint)];
  // NodeAffinity
  if (!matchesNodeAffinity(pod, node)) return [REASON_NODE_AFFINITY];
  // NodePorts
  if (hasHostPortConflict(pod, info)) return [REASON_HOST_PORTS];
  // NodeResourcesFit
  return insufficientResources(pod, info);
}
