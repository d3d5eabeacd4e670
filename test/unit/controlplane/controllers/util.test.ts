import t from 'tap';
import { buildStatusMergePatch, Expectations, isPodAvailable, ReleaseTracker } from '../../../../controlplane/controllers/util.ts';
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

t.test('release tracker: hold off after someone else strips a controller reference', async (t) => {
  let now = 1000;
  const r = new ReleaseTracker({ delayMs: 2000, now: () => now });
  const owned = { metadata: { uid: 'p1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs1', controller: true }] } };
  const bare = { metadata: { uid: 'p1' } };
  r.observe(owned, owned);
  t.equal(r.ownerWaitMs('rs1'), undefined, 'unchanged reference');
  r.observe(owned, bare);
  now = 1500;
  t.equal(r.adoptionWaitMs('p1'), 1510);
  t.equal(r.ownerWaitMs('rs1'), 1510);
  t.equal(r.ownerWaitMs('other'), undefined);
  now = 3100;
  t.equal(r.adoptionWaitMs('p1'), undefined, 'expired');
  r.noteOwnRelease('p1');
  r.observe(owned, bare);
  t.equal(r.ownerWaitMs('rs1'), undefined, 'our own release does not count');
});
