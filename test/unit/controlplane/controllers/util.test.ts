import t from 'tap';
import { buildStatusMergePatch, Expectations, isPodAvailable } from '../../../../controlplane/controllers/util.ts';
import type { Pod } from '../../../../controlplane/client/types.ts';

t.test('expectations: satisfied once every create and delete was observed, or after the TTL', async (t) => {
  let now = 0;
  const e = new Expectations({ ttlMs: 1000, now: () => now });
  t.ok(e.satisfied('rs'));
  e.expect('rs', 2, ['default/p1']);
  t.notOk(e.satisfied('rs'));
  e.creationObserved('rs');
  e.creationFailed('rs');
  t.notOk(e.satisfied('rs'));
  e.deletionObserved('rs', 'default/p1');
  e.deletionObserved('rs', 'default/p1');
  t.ok(e.satisfied('rs'));
  e.expect('rs', 1, []);
  now = 1001;
  t.ok(e.satisfied('rs'), 'expired');
});

t.test('status merge patches: changed keys, removed keys as null, nothing when equal', async (t) => {
  t.same(buildStatusMergePatch({ replicas: 1, readyReplicas: 1, conditions: [{ type: 'A' }] }, { replicas: 2, readyReplicas: 1 }), { replicas: 2, conditions: null });
  t.equal(buildStatusMergePatch({ replicas: 1 }, { replicas: 1 }), undefined);
  t.same(buildStatusMergePatch(undefined, { replicas: 0 }), { replicas: 0 });
});

t.test('available = ready for minReadySeconds', async (t) => {
  const p: Pod = { metadata: {}, spec: { containers: [] }, status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }] } };
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  t.ok(isPodAvailable(p, 0, t0));
  t.notOk(isPodAvailable(p, 10, t0 + 9000));
  t.ok(isPodAvailable(p, 10, t0 + 10_000));
});
