// The controllers of `moor server` leave mirror pods to their node: a ReplicaSet whose selector
// matches a mirror's labels neither adopts nor counts it, a silent node's mirror is marked not ready
// but never evicted (its plain pods are), and the garbage collector keeps it while its Node exists
// and deletes it with the Node. Nodes are simulated (fake-nodes.ts); no containers run.

import t from 'tap';
import { waitFor } from '../../../common/wait.ts';
import { NODES, PODS, REPLICASETS } from '../../../controlplane/client/resources.ts';
import type { Pod } from '../../../controlplane/client/types.ts';
import { ServerProcess } from '../controlplane/apiserver/harness.ts';
import { FakeNodes } from '../controlplane/controllers/fake-nodes.ts';

const unreachableFor = (tolerationSeconds: number): object[] => [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds }];

t.test('controllers do not fight mirror pods', { timeout: 60_000 }, async (t) => {
  const srv = new ServerProcess({ env: { MOOR_CONTROLPLANE_ARGS: '--node-monitor-grace-period=2s --node-monitor-period=250ms' } });
  t.teardown(() => srv.dispose());
  await srv.start();
  const nodes = new FakeNodes(srv, { leaseRenewMs: 250 });
  t.teardown(() => nodes.stop());
  await nodes.start();
  const client = nodes.client;
  const node = await nodes.addNode({ name: 'mirror-node' });

  const mirror = await client.create(PODS, {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'static-mirror-node', namespace: 'default', labels: { app: 'mirrored' },
      annotations: { 'kubernetes.io/config.mirror': 'h1', 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.hash': 'h1' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'mirror-node', uid: String(node.metadata.uid), controller: true }],
    },
    // It tolerates the silent node for less time than the plain pod: were it evictable, it would go first.
    spec: { nodeName: 'mirror-node', tolerations: unreachableFor(1), containers: [{ name: 'c', image: 'busybox' }] },
  } as Pod, { namespace: 'default' });
  // A plain pod on the same node, as the control for the eviction.
  const plain = await client.create(PODS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain', namespace: 'default' }, spec: { nodeName: 'mirror-node', tolerations: unreachableFor(2), containers: [{ name: 'c', image: 'busybox' }] } } as Pod, { namespace: 'default' });

  // A ReplicaSet selecting the mirror's labels makes its own pods and leaves the mirror alone.
  await client.create(REPLICASETS, {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'mirrored', namespace: 'default' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'mirrored' } }, template: { metadata: { labels: { app: 'mirrored' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  });
  const owned = await waitFor(async () => {
    const items = (await client.list(PODS, { namespace: 'default', labelSelector: 'app=mirrored' })).items;
    const rsPods = items.filter((p) => p.metadata.ownerReferences?.[0]?.kind === 'ReplicaSet');
    return rsPods.length === 1 ? items : undefined;
  }, { timeoutMs: 15_000, what: 'the ReplicaSet pod' });
  t.equal(owned.length, 2, 'one pod of its own (the mirror is not counted) and the mirror');
  const m = await client.get(PODS, 'static-mirror-node', { namespace: 'default' });
  t.same(m.metadata.ownerReferences, mirror.metadata.ownerReferences, 'the mirror is not adopted');
  t.equal(m.metadata.uid, mirror.metadata.uid, 'nor collected (its owner, the Node, exists)');

  // The node goes silent: both pods are marked not ready, only the plain one is evicted.
  nodes.stopRenewing('mirror-node');
  await waitFor(async () => (await client.get(PODS, 'plain', { namespace: 'default' })).metadata.deletionTimestamp !== undefined, { timeoutMs: 15_000, what: 'plain pod evicted' });
  t.pass('the plain pod is evicted after its toleration');
  const silent = await client.get(PODS, 'static-mirror-node', { namespace: 'default' });
  t.equal(silent.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False', 'the mirror is marked not ready');
  t.equal(silent.metadata.deletionTimestamp, undefined, 'the mirror is not evicted');
  await client.delete(PODS, 'plain', { namespace: 'default', gracePeriodSeconds: 0, preconditions: { uid: plain.metadata.uid } });
  await nodes.resume('mirror-node');

  // The Node deleted: the garbage collector deletes its mirror pods with it.
  await client.delete(NODES, 'mirror-node');
  await waitFor(async () => (await client.tryGet(PODS, 'static-mirror-node', { namespace: 'default' })) === undefined, { timeoutMs: 15_000, what: 'mirror collected with its Node' });
  t.pass('the mirror goes with its Node');
});
