// Scheduling decisions as words and numbers, pure: the FailedScheduling message kube-scheduler writes
// ("0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."), the Scheduled one,
// and how many feasible nodes to look for before scoring (kube-scheduler's adaptive percentage).

export const NO_NODES_MESSAGE = 'no nodes available to schedule pods';

/** Reasons counted over nodes, as "<count> <reason>" sorted as strings (upstream sortReasonsHistogram). */
export function buildFitErrorMessage(numAllNodes: number, reasons: ReadonlyMap<string, number>): string {
  if (numAllNodes === 0) return NO_NODES_MESSAGE;
  const parts = [...reasons].map(([reason, count]) => `${count} ${reason}`).sort();
  return `0/${numAllNodes} nodes are available: ${parts.join(', ')}.`;
}

export function buildScheduledMessage(namespace: string, pod: string, node: string): string {
  return `Successfully assigned ${namespace}/${pod} to ${node}`;
}

const MIN_FEASIBLE_NODES_TO_FIND = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE = 5;

/** With many nodes, stop filtering once this many fit: 50% minus 1% per 125 nodes, at least 5% and 100 nodes. */
export function computeNumFeasibleNodesToFind(numAllNodes: number, percentageOfNodesToScore = 0): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let pct = percentageOfNodesToScore;
  if (pct <= 0) pct = Math.max(MIN_FEASIBLE_NODES_PERCENTAGE, 50 - Math.floor(numAllNodes / 125));
  if (pct >= 100) return numAllNodes;
  return Math.max(MIN_FEASIBLE_NODES_TO_FIND, Math.floor((numAllNodes * pct) / 100));
}
