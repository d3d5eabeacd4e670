import t from 'tap';
import type { Pod, ReplicaSet } from '../../../../controlplane/client/types.ts';
import { buildPodFromTemplate, choosePodsToDelete, computeReplicaSetStatus, slowStartBatch } from '../../../../controlplane/controllers/replicaset.ts';

const rs: ReplicaSet = {
  apiVersion: 'apps/v1', kind: 'ReplicaSet',
  metadata: { name: 'web-abc', namespace: 'default', uid: 'rs-uid', generation: 4 },
  spec: { replicas: 3, minReadySeconds: 10, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web', 'pod-template-hash': 'abc' }, annotations: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
};

function pod(name: string, opts: { node?: string; phase?: 'Pending' | 'Running'; readySince?: string; created?: string; labels?: Record<string, string> } = {}): Pod {
  return {
    metadata: { name, namespace: 'default', creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z', labels: opts.labels ?? { app: 'web', 'pod-template-hash': 'abc' } },
    spec: { containers: [], ...(opts.node === undefined ? {} : { nodeName: opts.node }) },
    status: { phase: opts.phase ?? 'Running', conditions: opts.readySince === undefined ? [] : [{ type: 'Ready', status: 'True', lastTransitionTime: opts.readySince }] },
  };
}

t.test('pods from the template: generateName, labels, annotations, controller owner', async (t) => {
  const p = buildPodFromTemplate(rs);
  t.match(p.metadata, { generateName: 'web-abc-', namespace: 'default', labels: { app: 'web', 'pod-template-hash': 'abc' }, annotations: { a: 'b' } });
  t.same(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }]);
  p.spec.containers[0].image = 'changed';
  t.equal(rs.spec.template.spec.containers[0].image, 'x', 'the template is copied, not shared');
});

t.test('deletion order: unscheduled, pending, not ready, doubled-up nodes, recently ready, newer', async (t) => {
  const pods = [
    pod('ready-old', { node: 'n1', readySince: '2026-01-01T00:00:00Z' }),
    pod('unscheduled', { phase: 'Pending' }),
    pod('ready-new', { node: 'n2', readySince: '2026-01-01T01:00:00Z' }),
    pod('pending', { node: 'n3', phase: 'Pending' }),
    pod('not-ready', { node: 'n4' }),
    pod('doubled', { node: 'n1', readySince: '2026-01-01T00:00:00Z', created: '2025-12-01T00:00:00Z' }),
  ];
  t.same(choosePodsToDelete(pods, 6).map((p) => p.metadata.name), ['unscheduled', 'pending', 'not-ready', 'ready-old', 'doubled', 'ready-new']);
  t.same(choosePodsToDelete(pods, 2).map((p) => p.metadata.name), ['unscheduled', 'pending']);
});

t.test('status: replicas, fully labeled, ready, available after minReadySeconds, failure condition', async (t) => {
  const now = Date.parse('2026-01-01T00:00:30Z');
  const pods = [
    pod('a', { readySince: '2026-01-01T00:00:00Z' }),
    pod('b', { readySince: '2026-01-01T00:00:25Z' }),
    pod('c', { labels: { app: 'web' } }),
  ];
  const s = computeReplicaSetStatus(rs, pods, { nowMs: now });
  t.same(s, { replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1, observedGeneration: 4 });
  const failed = computeReplicaSetStatus(rs, [], { nowMs: now, createError: 'quota' });
  t.match(failed.conditions, [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'quota' }]);
});

t.test('slow start: batches of 1, 2, 4 stop after a failing batch', async (t) => {
  let calls = 0;
  const ok = await slowStartBatch(10, 1, async () => { calls++; });
  t.same(ok, { succeeded: 10, attempted: 10 });
  calls = 0;
  const bad = await slowStartBatch(10, 1, async () => { calls++; if (calls === 2) throw new Error('no'); });
  t.equal(bad.attempted, 3, 'batches 1 and 2');
  t.equal(bad.succeeded, 2);
  t.match(bad.error, { message: 'no' });
});
