import t from 'tap';
import { decideApiPod } from '../../../../agent/source/api-source.ts';
import type { Pod } from '../../../../controlplane/client/types.ts';

const base = (): Pod => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', uid: 'u1', resourceVersion: '42', generation: 1, managedFields: [], labels: { app: 'web' } },
  spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'reg/busybox:1', terminationMessagePath: '/dev/termination-log' }] },
  status: { phase: 'Pending' },
});

t.test('decideApiPod', async (t) => {
  const cases: { name: string; mutate: (p: Pod) => void; kind: string }[] = [
    { name: 'a pending pod runs', mutate: () => undefined, kind: 'run' },
    { name: 'a running pod runs', mutate: (p) => (p.status = { phase: 'Running' }), kind: 'run' },
    { name: 'deletionTimestamp: deleting', mutate: (p) => (p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z'), kind: 'deleting' },
    { name: 'Succeeded: finished', mutate: (p) => (p.status = { phase: 'Succeeded' }), kind: 'finished' },
    { name: 'Failed: finished', mutate: (p) => (p.status = { phase: 'Failed' }), kind: 'finished' },
    { name: 'a mirror pod: ignored', mutate: (p) => (p.metadata.annotations = { 'kubernetes.io/config.mirror': 'abc' }), kind: 'mirror' },
    { name: 'no image: invalid', mutate: (p) => delete (p.spec.containers[0] as { image?: string }).image, kind: 'invalid' },
  ];
  for (const c of cases) {
    const p = base();
    c.mutate(p);
    t.equal(decideApiPod(p).kind, c.kind, c.name);
  }
});

t.test('decideApiPod: grace period of a deletion', async (t) => {
  const cases: { name: string; grace?: number; spec?: number; want: number }[] = [
    { name: 'deletionGracePeriodSeconds wins', grace: 3, spec: 20, want: 3 },
    { name: 'else the spec', spec: 20, want: 20 },
    { name: 'else 30', want: 30 },
    { name: 'zero is zero', grace: 0, spec: 20, want: 0 },
  ];
  for (const c of cases) {
    const p = base();
    p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    if (c.grace !== undefined) p.metadata.deletionGracePeriodSeconds = c.grace;
    if (c.spec !== undefined) (p.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds = c.spec;
    t.same(decideApiPod(p), { kind: 'deleting', gracePeriodSeconds: c.want }, c.name);
  }
});

t.test('decideApiPod strips what changes on every write, keeps identity', async (t) => {
  const d = decideApiPod(base());
  if (d.kind !== 'run') throw new Error('expected run');
  t.equal(d.pod.metadata.uid, 'u1');
  t.equal(d.pod.metadata.name, 'web');
  t.same(d.pod.metadata.labels, { app: 'web' });
  for (const k of ['resourceVersion', 'generation', 'managedFields']) t.notOk(k in d.pod.metadata, `no ${k}`);
  t.equal(d.pod.spec.nodeName, 'n1');
  t.equal(d.pod.status, undefined);
  const other = base();
  other.metadata.resourceVersion = '43';
  t.same(decideApiPod(other), d, 'a new resourceVersion alone gives the same pod');
});
