import t from 'tap';
import { filterNode, matchNodeSelectorTerm, toleratesTaint } from '../../../../controlplane/scheduler/filter.ts';
import { buildNodeInfo, buildPodFacts, computeEffectiveTaints } from '../../../../controlplane/scheduler/node-info.ts';
import type { Node, Pod, Taint, Toleration } from '../../../../controlplane/client/types.ts';
import { node, pod } from './fixtures.ts';

interface Case {
  readonly name: string;
  readonly pod?: (p: Pod) => void;
  readonly node?: (n: Node) => void;
  readonly others?: Pod[];
  readonly want: string[];
}

t.test('filterNode: each plugin, its reason in kube-scheduler words, first failing plugin only', async (t) => {
  const cases: Case[] = [
    { name: 'fits', want: [] },
    { name: 'cordoned', node: (n) => { n.spec!.unschedulable = true; }, want: ['node(s) were unschedulable'] },
    { name: 'cordoned but tolerated', node: (n) => { n.spec!.unschedulable = true; }, pod: (p) => { p.spec.tolerations = [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }]; }, want: [] },
    { name: 'nodeName elsewhere', pod: (p) => { p.spec.nodeName = 'other'; }, want: ["node(s) didn't match the requested node name"] },
    { name: 'nodeName here', pod: (p) => { p.spec.nodeName = 'n1'; }, want: [] },
    { name: 'tainted', node: (n) => { n.spec!.taints = [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]; }, want: ['node(s) had untolerated taint {dedicated: gpu}'] },
    { name: 'taint tolerated by value', node: (n) => { n.spec!.taints = [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]; }, pod: (p) => { p.spec.tolerations = [{ key: 'dedicated', value: 'gpu' }]; }, want: [] },
    { name: 'PreferNoSchedule does not filter', node: (n) => { n.spec!.taints = [{ key: 'soft', effect: 'PreferNoSchedule' }]; }, want: [] },
    { name: 'not ready', node: (n) => { n.status!.conditions = [{ type: 'Ready', status: 'False' }]; }, want: ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }'] },
    { name: 'ready unknown', node: (n) => { n.status!.conditions = [{ type: 'Ready', status: 'Unknown' }]; }, want: ['node(s) had untolerated taint {node.kubernetes.io/unreachable: }'] },
    { name: 'no Ready condition yet', node: (n) => { n.status!.conditions = []; }, want: ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }'] },
    { name: 'nodeSelector mismatch', pod: (p) => { p.spec.nodeSelector = { disk: 'ssd' }; }, want: ["node(s) didn't match Pod's node affinity/selector"] },
    { name: 'nodeSelector match', node: (n) => { n.metadata.labels!.disk = 'ssd'; }, pod: (p) => { p.spec.nodeSelector = { disk: 'ssd' }; }, want: [] },
    { name: 'required affinity, second term matches', node: (n) => { n.metadata.labels!.zone = 'b'; }, pod: (p) => { p.spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }] } } }; }, want: [] },
    { name: 'required affinity, no term matches', pod: (p) => { p.spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }] } } }; }, want: ["node(s) didn't match Pod's node affinity/selector"] },
    { name: 'host port taken', pod: (p) => { p.spec.containers[0].ports = [{ containerPort: 80, hostPort: 8080 }]; }, others: [pod('o', { hostPort: 8080, nodeName: 'n1' })], want: ["node(s) didn't have free ports for the requested pod ports"] },
    { name: 'host port free on another protocol', pod: (p) => { p.spec.containers[0].ports = [{ containerPort: 80, hostPort: 8080, protocol: 'UDP' }]; }, others: [pod('o', { hostPort: 8080, nodeName: 'n1' })], want: [] },
    { name: 'not enough cpu', pod: (p) => { p.spec.containers[0].resources = { requests: { cpu: '3' } }; }, others: [pod('o', { cpu: '2', nodeName: 'n1' })], want: ['Insufficient cpu'] },
    { name: 'not enough cpu nor memory', pod: (p) => { p.spec.containers[0].resources = { requests: { cpu: '5', memory: '9Gi' } }; }, want: ['Insufficient cpu', 'Insufficient memory'] },
    { name: 'pod count full', node: (n) => { n.status!.allocatable!.pods = '1'; }, others: [pod('o', { nodeName: 'n1' })], want: ['Too many pods'] },
    { name: 'extended resource missing', pod: (p) => { p.spec.containers[0].resources = { requests: { 'example.com/gpu': '1' } }; }, want: ['Insufficient example.com/gpu'] },
    { name: 'cordon is checked before resources', node: (n) => { n.spec!.unschedulable = true; }, pod: (p) => { p.spec.containers[0].resources = { requests: { cpu: '64' } }; }, want: ['node(s) were unschedulable'] },
  ];
  for (const c of cases) {
    const p = pod('p');
    const n = node('n1');
    c.pod?.(p);
    c.node?.(n);
    const info = buildNodeInfo(n, (c.others ?? []).map(buildPodFacts));
    t.same(filterNode(buildPodFacts(p), info), c.want, c.name);
  }
});

t.test('toleratesTaint: operators, empty keys and effects', async (t) => {
  const taint: Taint = { key: 'k', value: 'v', effect: 'NoExecute' };
  const cases: [Toleration, boolean][] = [
    [{ key: 'k', operator: 'Equal', value: 'v' }, true],
    [{ key: 'k', value: 'v' }, true],
    [{ key: 'k', operator: 'Equal', value: 'w' }, false],
    [{ key: 'k', operator: 'Exists' }, true],
    [{ operator: 'Exists' }, true],
    [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }, false],
    [{ key: 'k', operator: 'Exists', effect: 'NoExecute' }, true],
    [{ key: 'other', operator: 'Exists' }, false],
  ];
  for (const [tol, want] of cases) t.equal(toleratesTaint(tol, taint), want, JSON.stringify(tol));
});

t.test('node selector terms: Gt/Lt, matchFields, empty term', async (t) => {
  const n = node('n1', { labels: { cores: '8' } });
  t.ok(matchNodeSelectorTerm({ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }, n));
  t.notOk(matchNodeSelectorTerm({ matchExpressions: [{ key: 'cores', operator: 'Lt', values: ['4'] }] }, n));
  t.notOk(matchNodeSelectorTerm({ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['x'] }] }, n));
  t.ok(matchNodeSelectorTerm({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }, n));
  t.notOk(matchNodeSelectorTerm({ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n1'] }] }, n));
  t.notOk(matchNodeSelectorTerm({}, n), 'an empty term matches nothing');
});

t.test('effective taints add the condition taint once', async (t) => {
  const n = node('n1', { ready: 'Unknown' });
  n.spec!.taints = [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }];
  t.equal(computeEffectiveTaints(n).length, 2);
  t.same(computeEffectiveTaints(node('n2')), []);
});
