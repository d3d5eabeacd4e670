// Node lifecycle, node IPAM, garbage collection and namespace deletion inside `moor server`, with a
// short grace period so a silent node goes Unknown in seconds. The test plays the node agents.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { waitFor } from '../../../../common/wait.ts';
import { DEPLOYMENTS, NAMESPACES, NODES, PODS, REPLICASETS } from '../../../../controlplane/client/resources.ts';
import type { Deployment, Pod, ReplicaSet } from '../../../../controlplane/client/types.ts';
import { ServerProcess } from '../apiserver/harness.ts';
import { FakeNodes, Kubectl } from './fake-nodes.ts';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

function replicaSet(name: string, replicas: number, namespace = 'default', tolerationSeconds?: number): ReplicaSet {
  return {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name, namespace },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'c', image: 'busybox:1.36' }],
          ...(tolerationSeconds === undefined ? {} : { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds }] }),
        },
      },
    },
  };
}

t.test('nodes, garbage collection and namespaces', async (t) => {
  const srv = new ServerProcess({ env: { MOOR_CONTROLPLANE_ARGS: '--node-monitor-grace-period=2s --node-monitor-period=250ms --cluster-cidr=10.77.0.0/16 --node-cidr-mask-size=25' } });
  t.teardown(() => srv.dispose());
  await srv.start();
  const nodes = new FakeNodes(srv, { leaseRenewMs: 250 });
  t.teardown(() => nodes.stop());
  await nodes.start();
  const client = nodes.client;
  for (const name of ['a', 'b', 'c']) await nodes.addNode({ name });
  const podsOf = async (app: string, namespace = 'default'): Promise<Pod[]> => (await client.list(PODS, { namespace, labelSelector: `app=${app}` })).items;
  const running = (app: string, n: number, namespace = 'default') => waitFor(async () => {
    const items = await podsOf(app, namespace);
    return items.length === n && items.every((p) => p.status?.phase === 'Running' && p.metadata.deletionTimestamp === undefined) ? items : undefined;
  }, { timeoutMs: 15_000, what: `${n} running ${app} pods` });

  await t.test('node IPAM gives each node its own block of the cluster CIDR', async (t) => {
    const cidrs = await waitFor(async () => {
      const list = (await client.list(NODES)).items;
      const got = list.map((n) => n.spec?.podCIDR ?? '');
      return got.every((c) => c !== '') ? list.map((n) => [n.metadata.name, n.spec?.podCIDR, n.spec?.podCIDRs]) : undefined;
    }, { timeoutMs: 10_000, what: 'pod CIDRs' });
    t.same(cidrs, [['a', '10.77.0.0/25', ['10.77.0.0/25']], ['b', '10.77.0.128/25', ['10.77.0.128/25']], ['c', '10.77.1.0/25', ['10.77.1.0/25']]]);
  });

  await t.test('a node whose lease stops goes Ready=Unknown; its pods are marked not ready and evicted after their toleration', async (t) => {
    await client.create(REPLICASETS, replicaSet('tolerant', 3, 'default', 1));
    const before = await running('tolerant', 3);
    const onB = before.find((p) => p.spec.nodeName === 'b');
    t.ok(onB !== undefined, 'spread puts one pod on b');
    nodes.stopRenewing('b');
    const node = await waitFor(async () => {
      const n = await client.get(NODES, 'b');
      return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'Unknown' && (n.spec?.taints ?? []).length === 2 ? n : undefined;
    }, { timeoutMs: 10_000, what: 'node b Ready=Unknown and tainted' });
    t.match(node.status?.conditions?.find((c) => c.type === 'Ready'), { reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    t.match(node.spec?.taints, [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }]);
    const notReady = await waitFor(async () => {
      const p = await client.get(PODS, String(onB!.metadata.name), { namespace: 'default' });
      return p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False');
    }, { timeoutMs: 10_000, what: 'pod on b marked not ready' });
    t.ok(notReady, 'pod on b is not ready');
    if (hasKubectl) {
      const kubectl = new Kubectl(srv);
      t.teardown(() => kubectl.dispose());
      // kubectl prints NotReady for Ready=False and Unknown alike (the server renders the STATUS column).
      t.match((await kubectl.run(['get', 'nodes'])).out, /^b\s+(NotReady|Unknown)\s+<none>/m);
    }
    // After tolerationSeconds (1 s) the pod is deleted; the node is gone silent, so it stays Terminating
    // until forced, and the ReplicaSet replaces it elsewhere.
    await waitFor(async () => (await client.get(PODS, String(onB!.metadata.name), { namespace: 'default' })).metadata.deletionTimestamp !== undefined, { timeoutMs: 10_000, what: 'pod on b evicted' });
    const replaced = await waitFor(async () => {
      const items = (await podsOf('tolerant')).filter((p) => p.metadata.deletionTimestamp === undefined && p.status?.phase === 'Running');
      return items.length === 3 ? items : undefined;
    }, { timeoutMs: 10_000, what: 'a replacement on a live node' });
    t.ok(replaced.every((p) => p.spec.nodeName !== 'b'), 'nothing new lands on the unreachable node');
    await client.delete(PODS, String(onB!.metadata.name), { namespace: 'default', gracePeriodSeconds: 0 });
    await nodes.resume('b');
    await waitFor(async () => (await client.get(NODES, 'b')).spec?.taints === undefined || (await client.get(NODES, 'b')).spec?.taints?.length === 0, { timeoutMs: 10_000, what: 'taints removed once b reports again' });
    t.pass('b is back');
  });

  await t.test('garbage collector: background, foreground and orphan', async (t) => {
    await client.create(REPLICASETS, replicaSet('bg', 2));
    await running('bg', 2);
    await client.delete(REPLICASETS, 'bg', { namespace: 'default', propagationPolicy: 'Background' });
    await waitFor(async () => (await podsOf('bg')).length === 0, { timeoutMs: 15_000, what: 'bg pods collected' });

    await client.create(REPLICASETS, replicaSet('fg', 2));
    await running('fg', 2);
    await client.delete(REPLICASETS, 'fg', { namespace: 'default', propagationPolicy: 'Foreground' });
    const lingering = await client.tryGet(REPLICASETS, 'fg', { namespace: 'default' });
    t.ok(lingering === undefined || (lingering.metadata.finalizers ?? []).includes('foregroundDeletion'), 'the owner waits for its dependents');
    await waitFor(async () => (await client.tryGet(REPLICASETS, 'fg', { namespace: 'default' })) === undefined, { timeoutMs: 15_000, what: 'fg replica set gone after its pods' });
    t.same(await podsOf('fg'), []);

    await client.create(REPLICASETS, replicaSet('orphan', 2));
    await running('orphan', 2);
    await client.delete(REPLICASETS, 'orphan', { namespace: 'default', propagationPolicy: 'Orphan' });
    await waitFor(async () => (await client.tryGet(REPLICASETS, 'orphan', { namespace: 'default' })) === undefined, { timeoutMs: 10_000, what: 'orphan replica set gone' });
    const left = await podsOf('orphan');
    t.equal(left.length, 2, 'the pods stay');
    t.ok(left.every((p) => (p.metadata.ownerReferences ?? []).length === 0), 'without owner');
    // A new ReplicaSet with the same selector adopts them instead of creating more.
    await client.create(REPLICASETS, replicaSet('orphan', 2));
    const adopted = await waitFor(async () => {
      const items = await podsOf('orphan');
      return items.every((p) => (p.metadata.ownerReferences ?? []).some((r) => r.name === 'orphan' && r.controller === true)) ? items : undefined;
    }, { timeoutMs: 10_000, what: 'orphans adopted' });
    t.equal(adopted.length, 2, 'adopted, none created');
  });

  await t.test('deleting a namespace deletes everything in it', async (t) => {
    await client.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-x' } });
    const d: Deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'team-x' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } },
    };
    await client.create(DEPLOYMENTS, d);
    await running('api', 2, 'team-x');
    await client.delete(NAMESPACES, 'team-x');
    await waitFor(async () => (await client.tryGet(NAMESPACES, 'team-x')) === undefined, { timeoutMs: 20_000, what: 'namespace gone' });
    t.same((await client.list(PODS, { namespace: 'team-x' })).items, []);
    t.same((await client.list(REPLICASETS, { namespace: 'team-x' })).items, []);
  });
});
