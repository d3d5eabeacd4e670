import t from 'tap';
import { buildFitErrorMessage, buildScheduledMessage, computeNumFeasibleNodesToFind } from '../../../../controlplane/scheduler/message.ts';

t.test('FailedScheduling message as kube-scheduler writes it', async (t) => {
  t.equal(buildFitErrorMessage(3, new Map([['Insufficient cpu', 2], ['node(s) were unschedulable', 1]])), '0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.');
  t.equal(buildFitErrorMessage(5, new Map([['Insufficient cpu', 5], ['Insufficient memory', 2]])), '0/5 nodes are available: 2 Insufficient memory, 5 Insufficient cpu.');
  t.equal(buildFitErrorMessage(0, new Map()), 'no nodes available to schedule pods');
  t.equal(buildScheduledMessage('default', 'web-1', 'n1'), 'Successfully assigned default/web-1 to n1');
});

t.test('feasible nodes to find: all below 100, adaptive above', async (t) => {
  const cases: [number, number, number][] = [[3, 0, 3], [99, 0, 99], [100, 0, 100], [1000, 0, 420], [5000, 0, 500], [10000, 0, 500], [1000, 100, 1000], [1000, 30, 300], [200, 10, 100]];
  for (const [n, pct, want] of cases) t.equal(computeNumFeasibleNodesToFind(n, pct), want, `${n} nodes at ${pct}%`);
});
