// Scores, pure: rank the nodes that passed the filters. Each plugin gives 0..100 per node, as in
// kube-scheduler, and the total is their weighted sum: least allocated and balanced allocation
// (weight 1 each), spreading pods of the same controller across nodes (2), preferred node
// affinity (2), fewer untolerated PreferNoSchedule taints (3). Ties are broken at random.

import type { NodeSelectorTerm } from '../client/types.ts';
import { isTolerated, matchNodeSelectorTerm } from './filter.ts';
import { HOT_ALLOC_MEMORY, HOT_ALLOC_MILLI_CPU, HOT_NONZERO_MEMORY, HOT_NONZERO_MILLI_CPU, type NodeInfo, type PodFacts } from './node-info.ts';

export const MAX_NODE_SCORE = 100;

export interface ScoreWeights {
  readonly leastAllocated: number;
  readonly balancedAllocation: number;
  readonly spread: number;
  readonly nodeAffinity: number;
  readonly taintToleration: number;
}

export const DEFAULT_WEIGHTS: ScoreWeights = { leastAllocated: 1, balancedAllocation: 1, spread: 2, nodeAffinity: 2, taintToleration: 3 };

function fraction(requested: number, allocatable: number): number {
  if (allocatable <= 0) return 1;
  return Math.min(1, requested / allocatable);
}

/** NodeResourcesFit LeastAllocated: the mean over cpu and memory of the share left free after placing the pod. */
function freeShare(requested: number, allocatable: number): number {
  return allocatable <= 0 || requested > allocatable ? 0 : ((allocatable - requested) * MAX_NODE_SCORE) / allocatable;
}

export function leastAllocatedScore(pod: PodFacts, info: NodeInfo): number {
  const h = info.hot;
  const cpu = freeShare(h[HOT_NONZERO_MILLI_CPU] + pod.nonZero.milliCpu, h[HOT_ALLOC_MILLI_CPU]);
  const mem = freeShare(h[HOT_NONZERO_MEMORY] + pod.nonZero.memory, h[HOT_ALLOC_MEMORY]);
  return Math.floor((cpu + mem) / 2);
}

/** NodeResourcesBalancedAllocation: cpu and memory shares close to each other score high. */
export function balancedAllocationScore(pod: PodFacts, info: NodeInfo): number {
  const h = info.hot;
  const cpu = fraction(h[HOT_NONZERO_MILLI_CPU] + pod.nonZero.milliCpu, h[HOT_ALLOC_MILLI_CPU]);
  const mem = fraction(h[HOT_NONZERO_MEMORY] + pod.nonZero.memory, h[HOT_ALLOC_MEMORY]);
  const std = Math.abs(cpu - mem) / 2;
  return Math.floor((1 - std) * MAX_NODE_SCORE);
}

function preferredTerms(pod: PodFacts): { weight: number; preference: NodeSelectorTerm }[] {
  const na = pod.affinity?.nodeAffinity as { preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[] } | undefined;
  return na?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
}

/** A raw count normalised to 0..100 against the largest: `reverse` makes the smallest count best. */
function normalized(v: number, max: number, reverse: boolean): number {
  if (max === 0) return reverse ? MAX_NODE_SCORE : 0;
  const s = Math.floor((v * MAX_NODE_SCORE) / max);
  return reverse ? MAX_NODE_SCORE - s : s;
}

function untoleratedPreferNoSchedule(pod: PodFacts, n: NodeInfo): number {
  let count = 0;
  for (const t of n.taints) if (t.effect === 'PreferNoSchedule' && !isTolerated(pod.tolerations, t)) count++;
  return count;
}

function preferredAffinity(preferred: readonly { weight: number; preference: NodeSelectorTerm }[], n: NodeInfo): number {
  let sum = 0;
  for (const t of preferred) if (matchNodeSelectorTerm(t.preference, n.node)) sum += t.weight;
  return sum;
}

/**
 * Total score per node, in the order given. Hot path (every pod against hundreds of nodes): two
 * passes over the nodes (raw counts and their maxima, then the sum), no per-node allocation.
 */
export function scoreNodes(pod: PodFacts, nodes: readonly NodeInfo[], weights: ScoreWeights = DEFAULT_WEIGHTS): number[] {
  const n = nodes.length;
  const preferred = preferredTerms(pod);
  const owner = pod.ownerUid;
  // Raw counts per node, three to a node: untolerated PreferNoSchedule taints, pods of the same
  // owner, preferred affinity weight.
  const raw = new Array<number>(3 * n);
  let taintMax = 0;
  let spreadMax = 0;
  let affinityMax = 0;
  for (let i = 0; i < n; i++) {
    const node = nodes[i];
    const taints = node.taints.length === 0 ? 0 : untoleratedPreferNoSchedule(pod, node);
    const spread = owner === undefined ? 0 : node.ownerCounts.get(owner) ?? 0;
    const affinity = preferred.length === 0 ? 0 : preferredAffinity(preferred, node);
    raw[3 * i] = taints;
    raw[3 * i + 1] = spread;
    raw[3 * i + 2] = affinity;
    if (taints > taintMax) taintMax = taints;
    if (spread > spreadMax) spreadMax = spread;
    if (affinity > affinityMax) affinityMax = affinity;
  }
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const node = nodes[i];
    let total = weights.leastAllocated * leastAllocatedScore(pod, node)
      + weights.balancedAllocation * balancedAllocationScore(pod, node)
      + weights.taintToleration * normalized(raw[3 * i], taintMax, true);
    if (owner !== undefined) total += weights.spread * normalized(raw[3 * i + 1], spreadMax, true);
    if (preferred.length > 0) total += weights.nodeAffinity * normalized(raw[3 * i + 2], affinityMax, false);
    out[i] = total;
  }
  return out;
}

/** Index of a highest score, chosen uniformly among equals; -1 for none. */
export function selectHost(scores: readonly number[], random: () => number = Math.random): number {
  let best = -1;
  let ties = 0;
  for (let i = 0; i < scores.length; i++) {
    if (best < 0 || scores[i] > scores[best]) {
      best = i;
      ties = 1;
    } else if (scores[i] === scores[best]) {
      ties++;
      if (random() * ties < 1) best = i;
    }
  }
  return best;
}
