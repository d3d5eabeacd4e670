import t from 'tap';
import { schedulePod } from '../../../../controlplane/scheduler/algorithm.ts';
import { addPodToNode, buildNodeInfo, buildPodFacts } from '../../../../controlplane/scheduler/node-info.ts';
import { node, pod } from './fixtures.ts';

t.test('one fitting node is chosen without scoring; none gives the message', async (t) => {
  const cordoned = node('a');
  cordoned.spec!.unschedulable = true;
  const nodes = [buildNodeInfo(cordoned), buildNodeInfo(node('b', { cpu: '1' })), buildNodeInfo(node('c', { cpu: '1' })), buildNodeInfo(node('d', { cpu: '4' }))];
  const d = schedulePod(buildPodFacts(pod('p', { cpu: '2' })), nodes);
  t.match(d, { kind: 'scheduled', node: 'd', feasible: 1 });
  const none = schedulePod(buildPodFacts(pod('p', { cpu: '8' })), nodes);
  t.match(none, { kind: 'unschedulable', message: '0/4 nodes are available: 1 node(s) were unschedulable, 3 Insufficient cpu.' });
});

t.test('assumed pods fill nodes: a replica set spreads and then stops when full', async (t) => {
  const nodes = ['a', 'b', 'c'].map((n) => buildNodeInfo(node(n, { cpu: '1' })));
  const placed: string[] = [];
  let start = 0;
  for (let i = 0; i < 4; i++) {
    const f = buildPodFacts(pod(`p${i}`, { cpu: '500m', owner: 'rs' }));
    const d = schedulePod(f, nodes, { startIndex: start, random: () => 0.5 });
    start = d.nextStartIndex;
    if (d.kind !== 'scheduled') { t.fail(`p${i} unschedulable`); return; }
    placed.push(d.node);
    addPodToNode(nodes.find((n) => n.name === d.node)!, buildPodFacts(pod(`p${i}`, { cpu: '500m', owner: 'rs', nodeName: d.node })));
  }
  t.same(new Set(placed.slice(0, 3)).size, 3, `first three on three nodes: ${placed.join(',')}`);
  for (let i = 4; i < 6; i++) {
    const d = schedulePod(buildPodFacts(pod(`p${i}`, { cpu: '500m', owner: 'rs' })), nodes);
    if (d.kind === 'scheduled') addPodToNode(nodes.find((n) => n.name === d.node)!, buildPodFacts(pod(`p${i}`, { cpu: '500m', owner: 'rs', nodeName: d.node })));
  }
  const full = schedulePod(buildPodFacts(pod('last', { cpu: '500m' })), nodes);
  t.match(full, { kind: 'unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' });
});

t.test('with many nodes only enough are filtered, starting where the last decision stopped', async (t) => {
  const nodes = Array.from({ length: 1000 }, (_, i) => buildNodeInfo(node(`n${i}`)));
  const d1 = schedulePod(buildPodFacts(pod('p')), nodes, { startIndex: 0 });
  t.match(d1, { kind: 'scheduled', evaluated: 420, nextStartIndex: 420 });
  const d2 = schedulePod(buildPodFacts(pod('q')), nodes, { startIndex: 900 });
  t.match(d2, { kind: 'scheduled', nextStartIndex: 320 }, 'wraps around');
  t.match(schedulePod(buildPodFacts(pod('r')), []), { kind: 'unschedulable', message: 'no nodes available to schedule pods' });
});
