// Host-gw pod routes: which routes a node wants from the Node objects, and what changes bring the
// table there (pure).

import t from 'tap';
import { desiredPodRoutes, planPodRoutes } from '../../../../agent/node/pod-routes.ts';
import type { Node } from '../../../../controlplane/client/types.ts';

const node = (name: string, podCIDR: string | undefined, ip: string | undefined, extra: Partial<Node['metadata']> = {}): Node => ({
  apiVersion: 'v1', kind: 'Node',
  metadata: { name, ...extra },
  spec: podCIDR === undefined ? {} : { podCIDR },
  status: { addresses: [{ type: 'Hostname', address: name }, ...(ip === undefined ? [] : [{ type: 'InternalIP', address: ip }])] },
});

t.test('desired routes: one per other node with a pod CIDR and an InternalIP', async (t) => {
  const cases: [string, Node[], { dst: string; via: string }[]][] = [
    ['self is skipped', [node('a', '10.240.1.0/24', '172.31.250.11'), node('b', '10.240.2.0/24', '172.31.250.12')], [{ dst: '10.240.2.0/24', via: '172.31.250.12' }]],
    ['a node without a pod CIDR yet', [node('b', undefined, '172.31.250.12')], []],
    ['a node without an InternalIP', [node('b', '10.240.2.0/24', undefined)], []],
    ['a node being deleted', [node('b', '10.240.2.0/24', '172.31.250.12', { deletionTimestamp: '2026-01-01T00:00:00Z' })], []],
    ['garbage CIDR or address', [node('b', 'fd00::/64', '172.31.250.12'), node('c', '10.240.3.0/24', 'c.example')], []],
    ['two nodes claiming one CIDR: the first by name wins', [node('c', '10.240.2.0/24', '172.31.250.13'), node('b', '10.240.2.0/24', '172.31.250.12')], [{ dst: '10.240.2.0/24', via: '172.31.250.12' }]],
  ];
  for (const [name, nodes, want] of cases) t.same(desiredPodRoutes('a', nodes), want, name);
});

t.test('plan: replace what is missing or points elsewhere, remove what no node wants', async (t) => {
  const want = [{ dst: '10.240.2.0/24', via: '172.31.250.12' }, { dst: '10.240.3.0/24', via: '172.31.250.13' }];
  t.same(planPodRoutes(want, []), { replace: want, remove: [] }, 'from nothing');
  t.same(planPodRoutes(want, want), { replace: [], remove: [] }, 'in place: nothing to do');
  t.same(planPodRoutes(want, [{ dst: '10.240.2.0/24', via: '172.31.250.99' }, { dst: '10.240.3.0/24', via: '172.31.250.13' }, { dst: '10.240.9.0/24', via: '172.31.250.19' }]),
    { replace: [{ dst: '10.240.2.0/24', via: '172.31.250.12' }], remove: ['10.240.9.0/24'] }, 'a moved node and a gone one');
});
