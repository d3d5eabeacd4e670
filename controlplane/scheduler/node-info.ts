// What the scheduler knows about pods and nodes, precomputed once per object so that filtering and
// scoring a pod against a thousand nodes is arithmetic: PodFacts (requests, host ports, owner,
// tolerations, node constraints) and NodeInfo (allocatable, the sums of the pods on it, used host
// ports, pods per owner, effective taints). Pure data and pure updates.

import type { Affinity, Node, Pod, Taint, Toleration } from '../client/types.ts';
import { computeAllocatable, computeNonZeroRequests, computePodRequests, type Allocatable, type Resources } from './resources.ts';

export interface HostPort {
  readonly ip: string;
  readonly protocol: string;
  readonly port: number;
}

export interface PodFacts {
  readonly key: string;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  readonly requests: Resources;
  /** Names in requests.scalar with an amount above 0 (the filter's hot path reads these, no for-in). */
  readonly scalarNames: readonly string[];
  readonly nonZero: { readonly milliCpu: number; readonly memory: number };
  readonly hostPorts: readonly HostPort[];
  /** uid of the controller ownerReference, for spreading. */
  readonly ownerUid: string | undefined;
  readonly tolerations: readonly Toleration[];
  readonly nodeSelector: Readonly<Record<string, string>> | undefined;
  readonly affinity: Affinity | undefined;
  readonly pod: Pod;
}

export function buildPodFacts(pod: Pod): PodFacts {
  const md = pod.metadata;
  const hostPorts: HostPort[] = [];
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.hostPort === undefined || p.hostPort <= 0) continue;
      hostPorts.push({ ip: p.hostIP === undefined || p.hostIP === '' ? '0.0.0.0' : p.hostIP, protocol: p.protocol ?? 'TCP', port: p.hostPort });
    }
  }
  const owner = (md.ownerReferences ?? []).find((r) => r.controller === true);
  const requests = computePodRequests(pod);
  return {
    key: `${md.namespace ?? ''}/${md.name ?? ''}`,
    uid: md.uid ?? '',
    namespace: md.namespace ?? '',
    name: md.name ?? '',
    nodeName: pod.spec.nodeName ?? '',
    requests,
    scalarNames: Object.keys(requests.scalar).filter((name) => requests.scalar[name] > 0),
    nonZero: computeNonZeroRequests(pod),
    hostPorts,
    ownerUid: owner?.uid,
    tolerations: pod.spec.tolerations ?? [],
    nodeSelector: pod.spec.nodeSelector,
    affinity: pod.spec.affinity,
    pod,
  };
}

export interface NodeInfo {
  readonly name: string;
  readonly node: Node;
  readonly allocatable: Allocatable;
  /** spec.taints plus the NoSchedule taints the node's conditions imply (not-ready, unreachable). */
  readonly taints: readonly Taint[];
  readonly requested: Resources;
  readonly nonZeroRequested: { milliCpu: number; memory: number };
  podCount: number;
  readonly pods: Map<string, PodFacts>;
  /** `protocol/port` → host IPs bound. */
  readonly usedPorts: Map<string, string[]>;
  readonly ownerCounts: Map<string, number>;
  /**
   * The numbers the filter and score loops read for every node, unboxed side by side (HOT_* indexes):
   * a copy of allocatable, requested, nonZeroRequested and podCount kept by addPodToNode and
   * removePodFromNode.
   */
  readonly hot: Float64Array;
}

export const HOT_ALLOC_MILLI_CPU = 0;
export const HOT_ALLOC_MEMORY = 1;
export const HOT_ALLOC_PODS = 2;
export const HOT_REQ_MILLI_CPU = 3;
export const HOT_REQ_MEMORY = 4;
export const HOT_NONZERO_MILLI_CPU = 5;
export const HOT_NONZERO_MEMORY = 6;
export const HOT_POD_COUNT = 7;

function syncHot(info: NodeInfo): void {
  const h = info.hot;
  h[HOT_ALLOC_MILLI_CPU] = info.allocatable.milliCpu;
  h[HOT_ALLOC_MEMORY] = info.allocatable.memory;
  h[HOT_ALLOC_PODS] = info.allocatable.pods;
  h[HOT_REQ_MILLI_CPU] = info.requested.milliCpu;
  h[HOT_REQ_MEMORY] = info.requested.memory;
  h[HOT_NONZERO_MILLI_CPU] = info.nonZeroRequested.milliCpu;
  h[HOT_NONZERO_MEMORY] = info.nonZeroRequested.memory;
  h[HOT_POD_COUNT] = info.podCount;
}

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

/**
 * spec.taints, plus `not-ready:NoSchedule` when Ready is False or missing and `unreachable:NoSchedule`
 * when it is Unknown — what the node lifecycle controller writes; applied here too so a node is never
 * used in the moment before the controller acted.
 */
export function computeEffectiveTaints(node: Node): Taint[] {
  const taints = [...(node.spec?.taints ?? [])];
  const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
  let implied: string | undefined;
  if (ready === undefined || ready.status === 'False') implied = TAINT_NOT_READY;
  else if (ready.status === 'Unknown') implied = TAINT_UNREACHABLE;
  if (implied !== undefined && !taints.some((t) => t.key === implied && t.effect === 'NoSchedule')) taints.push({ key: implied, effect: 'NoSchedule' });
  return taints;
}

export function buildNodeInfo(node: Node, pods: Iterable<PodFacts> = []): NodeInfo {
  const info: NodeInfo = {
    name: node.metadata.name ?? '',
    node,
    allocatable: computeAllocatable(node),
    taints: computeEffectiveTaints(node),
    requested: { milliCpu: 0, memory: 0, scalar: {} },
    nonZeroRequested: { milliCpu: 0, memory: 0 },
    podCount: 0,
    pods: new Map(),
    usedPorts: new Map(),
    ownerCounts: new Map(),
    hot: new Float64Array(8),
  };
  syncHot(info);
  for (const p of pods) addPodToNode(info, p);
  return info;
}

export function addPodToNode(info: NodeInfo, p: PodFacts): void {
  if (info.pods.has(p.key)) removePodFromNode(info, p.key);
  info.pods.set(p.key, p);
  info.podCount++;
  info.requested.milliCpu += p.requests.milliCpu;
  info.requested.memory += p.requests.memory;
  for (const [k, v] of Object.entries(p.requests.scalar)) info.requested.scalar[k] = (info.requested.scalar[k] ?? 0) + v;
  info.nonZeroRequested.milliCpu += p.nonZero.milliCpu;
  info.nonZeroRequested.memory += p.nonZero.memory;
  for (const hp of p.hostPorts) {
    const k = `${hp.protocol}/${hp.port}`;
    info.usedPorts.set(k, [...(info.usedPorts.get(k) ?? []), hp.ip]);
  }
  if (p.ownerUid !== undefined) info.ownerCounts.set(p.ownerUid, (info.ownerCounts.get(p.ownerUid) ?? 0) + 1);
  syncHot(info);
}

export function removePodFromNode(info: NodeInfo, podKey: string): PodFacts | undefined {
  const p = info.pods.get(podKey);
  if (p === undefined) return undefined;
  info.pods.delete(podKey);
  info.podCount--;
  info.requested.milliCpu -= p.requests.milliCpu;
  info.requested.memory -= p.requests.memory;
  for (const [k, v] of Object.entries(p.requests.scalar)) info.requested.scalar[k] = (info.requested.scalar[k] ?? 0) - v;
  info.nonZeroRequested.milliCpu -= p.nonZero.milliCpu;
  info.nonZeroRequested.memory -= p.nonZero.memory;
  for (const hp of p.hostPorts) {
    const k = `${hp.protocol}/${hp.port}`;
    const ips = [...(info.usedPorts.get(k) ?? [])];
    const i = ips.indexOf(hp.ip);
    if (i >= 0) ips.splice(i, 1);
    if (ips.length === 0) info.usedPorts.delete(k); else info.usedPorts.set(k, ips);
  }
  if (p.ownerUid !== undefined) {
    const n = (info.ownerCounts.get(p.ownerUid) ?? 1) - 1;
    if (n <= 0) info.ownerCounts.delete(p.ownerUid); else info.ownerCounts.set(p.ownerUid, n);
  }
  syncHot(info);
  return p;
}
