import t from 'tap';
import { buildNodeInfo, buildPodFacts } from '../../../../controlplane/scheduler/node-info.ts';
import { balancedAllocationScore, leastAllocatedScore, scoreNodes, selectHost } from '../../../../controlplane/scheduler/score.ts';
import { node, pod } from './fixtures.ts';

t.test('least allocated prefers emptier nodes', async (t) => {
  const p = buildPodFacts(pod('p', { cpu: '1', memory: '1Gi' }));
  const empty = buildNodeInfo(node('a', { cpu: '4', memory: '4Gi' }));
  const busy = buildNodeInfo(node('b', { cpu: '4', memory: '4Gi' }), [buildPodFacts(pod('o', { cpu: '2', memory: '2Gi', nodeName: 'b' }))]);
  t.equal(leastAllocatedScore(p, empty), 75);
  t.equal(leastAllocatedScore(p, busy), 25);
  t.equal(leastAllocatedScore(buildPodFacts(pod('huge', { cpu: '8', memory: '1Gi' })), empty), 37, 'an overcommitted resource scores 0');
  t.equal(balancedAllocationScore(p, empty), 100, 'cpu and memory equally used');
});

t.test('pods of one owner spread across nodes', async (t) => {
  const owner = 'rs-uid';
  const p = buildPodFacts(pod('p', { owner }));
  const withTwo = buildNodeInfo(node('a'), [buildPodFacts(pod('x', { owner, nodeName: 'a' })), buildPodFacts(pod('y', { owner, nodeName: 'a' }))]);
  const withOne = buildNodeInfo(node('b'), [buildPodFacts(pod('z', { owner, nodeName: 'b' }))]);
  const none = buildNodeInfo(node('c'));
  const scores = scoreNodes(p, [withTwo, withOne, none]);
  t.ok(scores[2] > scores[1] && scores[1] > scores[0], `spread scores ${scores.join(', ')}`);
  const other = buildPodFacts(pod('q', { owner: 'another' }));
  const s2 = scoreNodes(other, [withTwo, none]);
  t.ok(s2[1] >= s2[0], 'other owners only see resources');
});

t.test('PreferNoSchedule taints lower a node; preferred affinity raises one', async (t) => {
  const p = pod('p');
  const soft = node('a');
  soft.spec!.taints = [{ key: 'soft', effect: 'PreferNoSchedule' }];
  const plain = node('b');
  let s = scoreNodes(buildPodFacts(p), [buildNodeInfo(soft), buildNodeInfo(plain)]);
  t.ok(s[1] > s[0]);
  p.spec.affinity = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } }] } };
  const ssd = node('c', { labels: { disk: 'ssd' } });
  s = scoreNodes(buildPodFacts(p), [buildNodeInfo(plain), buildNodeInfo(ssd)]);
  t.ok(s[1] > s[0]);
});

t.test('selectHost: the best, ties broken by the random source', async (t) => {
  t.equal(selectHost([]), -1);
  t.equal(selectHost([1, 5, 3]), 1);
  t.equal(selectHost([5, 5, 5], () => 0.99), 0, 'never replaced');
  t.equal(selectHost([5, 5, 5], () => 0), 2, 'always replaced');
});
