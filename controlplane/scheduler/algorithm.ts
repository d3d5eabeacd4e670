// One scheduling decision, pure: filter the nodes starting where the last pod stopped (so every node
// gets its turn), stop once enough fit (adaptive percentage, as kube-scheduler), score those and pick
// the best. When nothing fits, the answer carries the per-reason node counts for the message.

import { filterNode } from './filter.ts';
import { buildFitErrorMessage, computeNumFeasibleNodesToFind } from './message.ts';
import type { NodeInfo, PodFacts } from './node-info.ts';
import { DEFAULT_WEIGHTS, scoreNodes, selectHost, type ScoreWeights } from './score.ts';

export type ScheduleDecision =
  | { readonly kind: 'scheduled'; readonly node: string; readonly evaluated: number; readonly feasible: number; readonly nextStartIndex: number }
  | { readonly kind: 'unschedulable'; readonly message: string; readonly reasons: ReadonlyMap<string, number>; readonly nextStartIndex: number };

export interface ScheduleOptions {
  /** Where to start in `nodes` (round robin across decisions). */
  readonly startIndex?: number;
  /** 0 = adaptive (default). */
  readonly percentageOfNodesToScore?: number;
  readonly weights?: ScoreWeights;
  readonly random?: () => number;
}

export function schedulePod(pod: PodFacts, nodes: readonly NodeInfo[], opts: ScheduleOptions = {}): ScheduleDecision {
  const n = nodes.length;
  const start = n === 0 ? 0 : (opts.startIndex ?? 0) % n;
  const want = computeNumFeasibleNodesToFind(n, opts.percentageOfNodesToScore ?? 0);
  const feasible: NodeInfo[] = [];
  let reasons: Map<string, number> | undefined;
  let evaluated = 0;
  for (; evaluated < n && feasible.length < want; evaluated++) {
    const i = start + evaluated;
    const info = nodes[i < n ? i : i - n];
    const why = filterNode(pod, info);
    if (why.length === 0) feasible.push(info);
    else for (const r of why) (reasons ??= new Map()).set(r, (reasons.get(r) ?? 0) + 1);
  }
  const nextStartIndex = n === 0 ? 0 : (start + evaluated) % n;
  if (feasible.length === 0) {
    const all = reasons ?? new Map<string, number>();
    return { kind: 'unschedulable', message: buildFitErrorMessage(n, all), reasons: all, nextStartIndex };
  }
  if (feasible.length === 1) return { kind: 'scheduled', node: feasible[0].name, evaluated, feasible: 1, nextStartIndex };
  const scores = scoreNodes(pod, feasible, opts.weights ?? DEFAULT_WEIGHTS);
  const best = selectHost(scores, opts.random ?? Math.random);
  return { kind: 'scheduled', node: feasible[best].name, evaluated, feasible: feasible.length, nextStartIndex };
}
