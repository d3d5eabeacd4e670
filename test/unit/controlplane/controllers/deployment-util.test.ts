import t from 'tap';
import type { Deployment, PodTemplateSpec, ReplicaSet } from '../../../../controlplane/client/types.ts';
import {
  calculateStatus, computeNewRsReplicas, computeTemplateHash, findActiveOrLatest, findNewReplicaSet, isDeploymentComplete, isDeploymentProgressing,
  isDeploymentTimedOut, isScalingEvent, maxSurge, maxUnavailable, planProportionalScale, resolveFenceposts, setDeploymentCondition,
  setNewReplicaSetAnnotations, templatesEqualIgnoringHash,
} from '../../../../controlplane/controllers/deployment-util.ts';

const template = (image = 'nginx:1.25'): PodTemplateSpec => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image, resources: {} }], restartPolicy: 'Always' } });

function deployment(replicas = 3, opts: { strategy?: Deployment['spec']['strategy']; image?: string } = {}): Deployment {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: 'd-uid', generation: 1, annotations: {} },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: template(opts.image), strategy: opts.strategy ?? { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }, revisionHistoryLimit: 10, progressDeadlineSeconds: 600 },
  };
}

function rs(name: string, replicas: number, opts: { image?: string; revision?: number; available?: number; created?: string; status?: number; desired?: number; max?: number } = {}): ReplicaSet {
  const annotations: Record<string, string> = {};
  if (opts.revision !== undefined) annotations['deployment.kubernetes.io/revision'] = String(opts.revision);
  if (opts.desired !== undefined) annotations['deployment.kubernetes.io/desired-replicas'] = String(opts.desired);
  if (opts.max !== undefined) annotations['deployment.kubernetes.io/max-replicas'] = String(opts.max);
  const t = template(opts.image);
  t.metadata!.labels!['pod-template-hash'] = name;
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z', annotations, generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'web', 'pod-template-hash': name } }, template: t },
    status: { replicas: opts.status ?? replicas, availableReplicas: opts.available ?? replicas, readyReplicas: opts.available ?? replicas, observedGeneration: 1 },
  };
}

t.test('template equality is semantic: the hash label, key order, nulls and empties do not matter', async (t) => {
  const a = template();
  const b: PodTemplateSpec = { spec: { restartPolicy: 'Always', containers: [{ resources: {}, image: 'nginx:1.25', name: 'c' }] }, metadata: { creationTimestamp: null, labels: { 'pod-template-hash': 'xyz', app: 'web' } } };
  t.ok(templatesEqualIgnoringHash(a, b), 'what kubectl rollout undo sends back equals the deployment template');
  t.notOk(templatesEqualIgnoringHash(a, template('nginx:1.26')));
  t.equal(computeTemplateHash(a), computeTemplateHash(b), 'same hash for the same template');
  t.not(computeTemplateHash(a), computeTemplateHash(template('nginx:1.26')));
  t.not(computeTemplateHash(a), computeTemplateHash(a, 1), 'the collision count changes the hash');
  t.match(computeTemplateHash(a), /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
});

t.test('fenceposts: percentages round surge up and unavailability down; both zero allows one', async (t) => {
  const cases: [string | number, string | number, number, { surge: number; unavailable: number }][] = [
    ['25%', '25%', 3, { surge: 1, unavailable: 0 }],
    ['25%', '25%', 4, { surge: 1, unavailable: 1 }],
    ['25%', '25%', 10, { surge: 3, unavailable: 2 }],
    [0, 0, 5, { surge: 0, unavailable: 1 }],
    [2, '50%', 5, { surge: 2, unavailable: 2 }],
    ['0%', 1, 1, { surge: 0, unavailable: 1 }],
  ];
  for (const [s, u, n, want] of cases) t.same(resolveFenceposts(s, u, n), want, `${s}/${u} of ${n}`);
  t.equal(maxUnavailable(deployment(0)), 0);
  t.equal(maxUnavailable(deployment(1, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '100%' } } })), 1);
  t.equal(maxSurge(deployment(3, { strategy: { type: 'Recreate' } })), 0);
});

t.test('new replica set size: up to replicas + surge in total', async (t) => {
  const d = deployment(3);
  t.equal(computeNewRsReplicas(d, [], 0), 3, 'a first rollout gets everything');
  t.equal(computeNewRsReplicas(d, [rs('old', 3)], 0), 1, 'with 3 old pods, one surge pod');
  t.equal(computeNewRsReplicas(d, [rs('old', 4), rs('new', 0)], 0), 0, 'no room');
  t.equal(computeNewRsReplicas(deployment(3, { strategy: { type: 'Recreate' } }), [rs('old', 3)], 0), 3);
});

t.test('the new replica set is the oldest with an equal template', async (t) => {
  const d = deployment(3);
  const older = rs('a', 1, { created: '2026-01-01T00:00:00Z' });
  const newer = rs('b', 1, { created: '2026-01-02T00:00:00Z' });
  const other = rs('c', 1, { image: 'nginx:1.26' });
  t.equal(findNewReplicaSet(d, [newer, other, older])?.metadata.name, 'a');
  t.equal(findNewReplicaSet(d, [other]), undefined);
});

t.test('revision annotations: a revived replica set takes max+1 and keeps history', async (t) => {
  const d = deployment(3);
  d.metadata.annotations = { 'kubernetes.io/change-cause': 'undo', 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
  const revived = rs('a', 0, { revision: 1 });
  t.ok(setNewReplicaSetAnnotations(d, revived, 3, true));
  t.same(revived.metadata.annotations, { 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/revision-history': '1', 'kubernetes.io/change-cause': 'undo' });
  t.notOk(setNewReplicaSetAnnotations(d, revived, 3, true), 'nothing more to change');
  const fresh = rs('b', 0);
  setNewReplicaSetAnnotations(d, fresh, 1, false);
  t.match(fresh.metadata.annotations, { 'deployment.kubernetes.io/revision': '1', 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4' });
});

t.test('scaling events, active or latest, proportional scaling', async (t) => {
  const d = deployment(5);
  t.ok(isScalingEvent(d, [rs('a', 3, { desired: 3 })]));
  t.notOk(isScalingEvent(d, [rs('a', 5, { desired: 5 })]));
  t.notOk(isScalingEvent(d, [rs('a', 0, { desired: 3 })]), 'inactive sets do not count');
  const old = rs('old', 0, { created: '2026-01-01T00:00:00Z' });
  const newer = rs('newer', 0, { created: '2026-01-02T00:00:00Z' });
  t.equal(findActiveOrLatest(undefined, [old, newer])?.metadata.name, 'newer');
  t.equal(findActiveOrLatest(rs('n', 2), [old])?.metadata.name, 'n');
  t.equal(findActiveOrLatest(rs('n', 2), [rs('o', 1)]), undefined, 'two active: a rollout is going on');
  // Mid-rollout 3 -> 10 replicas (surge 25%): 4 allowed before (3+1), 13 now (10+3).
  const d10 = deployment(10);
  const sizes = planProportionalScale(d10, [rs('old', 2, { max: 4, created: '2026-01-01T00:00:00Z' }), rs('new', 2, { max: 4, created: '2026-01-02T00:00:00Z' })]);
  t.equal([...sizes.values()].reduce((a, b) => a + b, 0), 13, 'all allowed replicas handed out');
  t.ok(Math.abs(sizes.get('old')! - sizes.get('new')!) <= 1, `shared proportionally: ${JSON.stringify([...sizes])}`);
  const down = planProportionalScale(deployment(0), [rs('old', 2, { max: 4 }), rs('new', 2, { max: 4 })]);
  t.same([...down.values()], [0, 0]);
});

t.test('status: counts, Available, completeness, progress and timeouts', async (t) => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const d = deployment(3);
  const newRs = rs('new', 3, { available: 2 });
  const s = calculateStatus([rs('old', 1, { available: 1 }), newRs], newRs, d, now);
  t.match(s, { observedGeneration: 1, replicas: 4, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 1 });
  t.match(s.conditions, [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastTransitionTime: '2026-01-01T00:10:00Z' }]);
  t.notOk(isDeploymentComplete(d, s), 'an old pod is left');
  const done = calculateStatus([rs('new', 3)], rs('new', 3), d, now);
  t.ok(isDeploymentComplete(d, done));
  t.notOk(isDeploymentComplete({ ...d, metadata: { ...d.metadata, generation: 2 } }, done), 'a newer spec is not observed yet');
  t.ok(isDeploymentProgressing({ ...d, status: { replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2 } }, { replicas: 3, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 }));
  t.notOk(isDeploymentProgressing({ ...d, status: { replicas: 3, updatedReplicas: 2 } }, { replicas: 3, updatedReplicas: 2 }));
  const stuck = { conditions: [{ type: 'Progressing', status: 'True' as const, reason: 'ReplicaSetUpdated', lastUpdateTime: '2026-01-01T00:00:00Z' }] };
  t.notOk(isDeploymentTimedOut(d, stuck, now), '10 minutes is not past 600 s');
  t.ok(isDeploymentTimedOut(d, stuck, now + 1000));
  const status = { conditions: [{ type: 'Available', status: 'False' as const, reason: 'MinimumReplicasUnavailable', lastTransitionTime: 'T1' }] };
  setDeploymentCondition(status, { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'changed', lastTransitionTime: 'T2' });
  t.equal(status.conditions[0].lastTransitionTime, 'T1', 'same status and reason: no change');
  setDeploymentCondition(status, { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastTransitionTime: 'T3' });
  t.equal(status.conditions[0].lastTransitionTime, 'T3');
});
