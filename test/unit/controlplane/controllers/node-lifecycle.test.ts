import t from 'tap';
import type { Lease, Node, Pod } from '../../../../controlplane/client/types.ts';
import { computeDesiredTaints, planNodeHealth, planTaintEviction } from '../../../../controlplane/controllers/node-lifecycle.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const node = (ready: 'True' | 'False' | 'Unknown' | undefined, heartbeat = '2026-01-01T00:00:00Z'): Node => ({
  metadata: { name: 'n1', creationTimestamp: '2025-12-31T00:00:00Z' },
  spec: {},
  status: { conditions: ready === undefined ? [] : [{ type: 'Ready', status: ready, reason: 'KubeletReady', lastHeartbeatTime: heartbeat }, { type: 'MemoryPressure', status: 'False' }] },
});
const lease = (renew: string): Lease => ({ metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { renewTime: renew } });
const input = { gracePeriodMs: 40_000, startupGracePeriodMs: 60_000 };

t.test('a node whose lease keeps moving stays Ready; a silent one goes Unknown after the grace period', async (t) => {
  const n = node('True');
  let plan = planNodeHealth({ ...input, node: n, lease: lease('2026-01-01T00:00:00.000000Z'), previous: undefined, nowMs: T0 });
  t.same(plan.conditions, []);
  t.equal(plan.ready, 'True');
  t.equal(plan.taints, undefined);
  plan = planNodeHealth({ ...input, node: n, lease: lease('2026-01-01T00:00:30.000000Z'), previous: plan.health, nowMs: T0 + 30_000 });
  t.equal(plan.health.probeMs, T0 + 30_000, 'renewal seen');
  plan = planNodeHealth({ ...input, node: n, lease: lease('2026-01-01T00:00:30.000000Z'), previous: plan.health, nowMs: T0 + 70_000 });
  t.same(plan.conditions, [], '40 s of silence is still within the grace period');
  plan = planNodeHealth({ ...input, node: n, lease: lease('2026-01-01T00:00:30.000000Z'), previous: plan.health, nowMs: T0 + 70_001 });
  t.equal(plan.ready, 'Unknown');
  t.match(plan.conditions, [
    { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: '2026-01-01T00:00:00Z', lastTransitionTime: '2026-01-01T00:01:10Z' },
    { type: 'MemoryPressure', status: 'Unknown' },
    { type: 'DiskPressure', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.' },
    { type: 'PIDPressure', status: 'Unknown' },
  ]);
  t.same(plan.taints?.map((x) => `${x.key}:${x.effect}`), ['node.kubernetes.io/unreachable:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute']);
});

t.test('already Unknown: no new condition write; the heartbeat moving again counts as a report', async (t) => {
  const n = node('Unknown');
  n.spec!.taints = computeDesiredTaints(n, 'Unknown', T0);
  let plan = planNodeHealth({ ...input, node: n, lease: undefined, previous: { probeMs: T0 - 100_000, readyHeartbeat: '2026-01-01T00:00:00Z' }, nowMs: T0 });
  t.same(plan.conditions, []);
  t.equal(plan.taints, undefined, 'taints already right');
  plan = planNodeHealth({ ...input, node: node('True', '2026-01-01T00:05:00Z'), lease: undefined, previous: plan.health, nowMs: T0 + 1000 });
  t.equal(plan.ready, 'True');
  t.equal(plan.health.probeMs, T0 + 1000);
});

t.test('a node that never reported gets the startup grace period', async (t) => {
  const n = node(undefined);
  let plan = planNodeHealth({ ...input, node: n, lease: undefined, previous: { probeMs: T0 }, nowMs: T0 + 50_000 });
  t.same(plan.conditions, [], 'within 60 s');
  plan = planNodeHealth({ ...input, node: n, lease: undefined, previous: { probeMs: T0 }, nowMs: T0 + 61_000 });
  t.match(plan.conditions[0], { type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', lastHeartbeatTime: '2025-12-31T00:00:00Z' });
});

t.test('taints: Ready=False means not-ready, cordon adds unschedulable, others and timeAdded are kept', async (t) => {
  const n = node('False');
  n.spec = { unschedulable: true, taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute', timeAdded: '2025-01-01T00:00:00Z' }] };
  t.same(computeDesiredTaints(n, 'False', T0), [
    { key: 'dedicated', value: 'x', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute', timeAdded: '2025-01-01T00:00:00Z' },
    { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
  ]);
  t.same(computeDesiredTaints({ ...n, spec: { taints: n.spec.taints } }, 'True', T0), [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }], 'ready again: managed taints go');
});

t.test('taint eviction: untolerated now, tolerated after tolerationSeconds from timeAdded, forever never', async (t) => {
  const taints = [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' as const, timeAdded: '2026-01-01T00:00:00Z' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' as const }];
  const pod = (tolerations: Pod['spec']['tolerations']): Pod => ({ metadata: { name: 'p' }, spec: { containers: [], tolerations } });
  const defaults = [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists' as const, effect: 'NoExecute' as const, tolerationSeconds: 300 }, { key: 'node.kubernetes.io/unreachable', operator: 'Exists' as const, effect: 'NoExecute' as const, tolerationSeconds: 300 }];
  t.same(planTaintEviction(pod(undefined), taints, T0), { kind: 'evict' });
  t.same(planTaintEviction(pod(defaults), taints, T0 + 10_000), { kind: 'later', atMs: T0 + 300_000 });
  t.same(planTaintEviction(pod(defaults), taints, T0 + 300_000), { kind: 'evict' });
  t.same(planTaintEviction(pod([{ operator: 'Exists' }]), taints, T0 + 10_000_000), { kind: 'keep' });
  t.same(planTaintEviction(pod(undefined), [{ key: 'x', effect: 'NoSchedule' }], T0), { kind: 'keep' });
});
