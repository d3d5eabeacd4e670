// Scores, pure: rank the nodes that passed the filters. Each plugin gives 0..100 per node, as in
// kube-scheduler, and the total is their weighted sum: least allocated and balanced allocation
// (weight 1 each), spreading pods of the same controller across nodes (2), preferred node
// affinity (2), fewer untolerated PreferNoSchedule taints (3). Ties are broken at random.

import type { NodeSelectorTerm } from '../client/types.ts';
import { isTolerated, matchNodeSelectorTerm } from './filter.ts';
import type { NodeInfo, PodFacts } from './node-info.ts';

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
  const cpu = freeShare(info.nonZeroRequested.milliCpu + pod.nonZero.milliCpu, info.allocatable.milliCpu);
  const mem = freeShare(info.nonZeroRequested.memory + pod.nonZero.memory, info.allocatable.memory);
  return Math.floor((cpu + mem) / 2);
}

/** NodeResourcesBalancedAllocation: cpu and memory shares close to each other score high. */
export function balancedAllocationScore(pod: PodFacts, info: NodeInfo): number {
  const cpu = fraction(info.nonZeroRequested.milliCpu + pod.nonZero.milliCpu, info.allocatable.milliCpu);
  const mem = fraction(info.nonZeroRequested.memory + pod.nonZero.memory, info.allocatable.memory);
  const std = Math.abs(cpu - mem) / 2;
  return Math.floor((1 - std) * MAX_NODE_SCORE);
}

function preferredTerms(pod: PodFacts): { weight: number; preference: NodeSelectorTerm }[] {
  const na = pod.affinity?.nodeAffinity as { preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[] } | undefined;
  return na?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
}

/** Normalise raw counts to 0..100: `reverse` makes the smallest count best. */
function normalize(raw: readonly number[], reverse: boolean): number[] {
  let max = 0;
  for (const v of raw) if (v > max) max = v;
  if (max === 0) return raw.map(() => (reverse ? MAX_NODE_SCORE : 0));
  return raw.map((v) => {
    const s = Math.floor((v * MAX_NODE_SCORE) / max);
    return reverse ? MAX_NODE_SCORE - s : s;
  });
}

/** Total score per node, in the order given. */
export function scoreNodes(pod: PodFacts, nodes: readonly NodeInfo[], weights: ScoreWeights = DEFAULT_WEIGHTS): number[] {
  const preferred = preferredTerms(pod);
  const affinityRaw = preferred.length === 0 ? undefined : nodes.map((n) => preferred.reduce((sum, t) => sum + (matchNodeSelectorTerm(t.preference, n.node) ? t.weight : 0), 0));
  const taintRaw = nodes.map((n) => {
    if (n.taints.length === 0) return 0;
    let count = 0;
    for (const t of n.taints) if (t.effect === 'PreferNoSchedule' && !isTolerated(pod.tolerations, t)) count++;
    return count;
  });
  const spreadRaw = pod.ownerUid === undefined ? undefined : nodes.map((n) => n.ownerCounts.get(pod.ownerUid!) ?? 0);
  const affinity = affinityRaw === undefined ? undefined : normalize(affinityRaw, false);
  const taints = normalize(taintRaw, true);
  const spread = spreadRaw === undefined ? undefined : normalize(spreadRaw, true);
  return nodes.map((n, i) =>
    weights.leastAllocated * leastAllocatedScore(pod, n)
    + weights.balancedAllocation * balancedAllocationScore(pod, n)
    + weights.taintToleration * taints[i]
    + (spread === undefined ? 0 : weights.spread * spread[i])
    + (affinity === undefined ? 0 : weights.nodeAffinity * affinity[i]));
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
