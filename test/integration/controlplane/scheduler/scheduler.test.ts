// The scheduler inside `moor server` on fake nodes: placement by resources, selectors, taints and
// host ports; FailedScheduling as kube-scheduler words it (event and PodScheduled condition, as
// kubectl describe shows them); and a parked pod bound as soon as a node that fits appears.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { waitFor } from '../../../../common/wait.ts';
import { PODS } from '../../../../controlplane/client/resources.ts';
import type { Pod } from '../../../../controlplane/client/types.ts';
import { ServerProcess } from '../apiserver/harness.ts';
import { FakeNodes, Kubectl } from '../controllers/fake-nodes.ts';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

function pod(name: string, spec: Partial<Pod['spec']> = {}, cpu?: string): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
    spec: { containers: [{ name: 'c', image: 'busybox:1.36', ...(cpu === undefined ? {} : { resources: { requests: { cpu } } }) }], ...spec },
  };
}

t.test('scheduler', async (t) => {
  // Only the scheduler: no controller touches the pods.
  const srv = new ServerProcess({ env: { MOOR_CONTROLPLANE_ARGS: '--disable-controller-manager' } });
  t.teardown(() => srv.dispose());
  await srv.start();
  const nodes = new FakeNodes(srv);
  t.teardown(() => nodes.stop());
  await nodes.start();
  const client = nodes.client;
  await nodes.addNode({ name: 'small-1', cpu: '2', labels: { disk: 'hdd' } });
  await nodes.addNode({ name: 'small-2', cpu: '2', labels: { disk: 'ssd' }, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
  await nodes.addNode({ name: 'cordoned', cpu: '16', unschedulable: true });

  const boundTo = (name: string) => waitFor(async () => {
    const p = await client.get(PODS, name, { namespace: 'default' });
    return p.spec.nodeName !== undefined && p.spec.nodeName !== '' ? p.spec.nodeName : undefined;
  }, { timeoutMs: 10_000, what: `pod ${name} bound` });

  await t.test('selectors, taints and host ports decide the node', async (t) => {
    await client.create(PODS, pod('wants-ssd', { nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] }));
    t.equal(await boundTo('wants-ssd'), 'small-2');
    await client.create(PODS, pod('plain'));
    t.equal(await boundTo('plain'), 'small-1', 'the tainted and the cordoned nodes are out');
    const withPort = (name: string): Pod => pod(name, { nodeSelector: { disk: 'hdd' } });
    const a = withPort('port-a');
    a.spec.containers[0].ports = [{ containerPort: 80, hostPort: 8080, protocol: 'TCP' }];
    const b = withPort('port-b');
    b.spec.containers[0].ports = [{ containerPort: 80, hostPort: 8080, protocol: 'TCP' }];
    await client.create(PODS, a);
    t.equal(await boundTo('port-a'), 'small-1');
    await client.create(PODS, b);
    const parked = await waitFor(async () => {
      const p = await client.get(PODS, 'port-b', { namespace: 'default' });
      return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    }, { timeoutMs: 10_000, what: 'port-b unschedulable' });
    t.equal(parked.message, "0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) were unschedulable.");
    await client.delete(PODS, 'port-a', { namespace: 'default', gracePeriodSeconds: 0 });
    t.equal(await boundTo('port-b'), 'small-1', 'retried when the port was freed');
  });

  await t.test('FailedScheduling as kube-scheduler words it, then bound when a big node arrives', { skip: hasKubectl ? undefined : 'needs kubectl on PATH' }, async (t) => {
    const kubectl = new Kubectl(srv);
    t.teardown(() => kubectl.dispose());
    await client.create(PODS, pod('big', { tolerations: [{ key: 'dedicated', operator: 'Exists' }] }, '3'));
    const want = '0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.';
    const condition = await waitFor(async () => {
      const p = await client.get(PODS, 'big', { namespace: 'default' });
      return p.status?.conditions?.find((c) => c.type === 'PodScheduled');
    }, { timeoutMs: 10_000, what: 'PodScheduled condition' });
    t.match(condition, { status: 'False', reason: 'Unschedulable', message: want });
    const describe = await waitFor(async () => {
      const out = (await kubectl.run(['describe', 'pod', 'big'])).out;
      return out.includes('FailedScheduling') ? out : undefined;
    }, { timeoutMs: 10_000, what: 'the event in describe' });
    t.match(describe, new RegExp(`Warning\\s+FailedScheduling\\s+\\S+\\s+default-scheduler\\s+${want.replace(/[().]/g, '\\$&')}`));
    t.match((await kubectl.run(['get', 'pod', 'big'])).out, /^big\s+0\/1\s+Pending\s+0\s+\d+s$/m);
    await nodes.addNode({ name: 'big-1', cpu: '8' });
    t.equal(await boundTo('big'), 'big-1');
    const events = await waitFor(async () => {
      const out = (await kubectl.run(['get', 'events', '--field-selector', 'involvedObject.name=big'])).out;
      return out.includes('Scheduled ') || /Normal\s+Scheduled/.test(out) ? out : undefined;
    }, { timeoutMs: 10_000, what: 'Scheduled event' });
    t.match(events, /Normal\s+Scheduled\s+pod\/big\s+Successfully assigned default\/big to big-1/);
  });

  await t.test('pods of one owner spread over the nodes; a full node is reported as such', async (t) => {
    await nodes.addNode({ name: 'wide-1', cpu: '4' });
    await nodes.addNode({ name: 'wide-2', cpu: '4' });
    const owned = (i: number): Pod => {
      const p = pod(`batch-${i}`, {}, '100m');
      p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'batch', uid: 'batch-owner-uid', controller: true }];
      return p;
    };
    for (let i = 0; i < 8; i++) await client.create(PODS, owned(i));
    const placed = await Promise.all(Array.from({ length: 8 }, (_, i) => boundTo(`batch-${i}`)));
    t.same([...new Set(placed)].sort(), ['big-1', 'small-1', 'wide-1', 'wide-2'], 'every eligible node got some');
    t.ok(placed.filter((n) => n === 'wide-1').length <= 3, `no pile-up: ${placed.join(',')}`);
    await client.create(PODS, pod('overflow', { nodeSelector: { 'kubernetes.io/hostname': 'wide-1' } }, '4'));
    const c = await waitFor(async () => (await client.get(PODS, 'overflow', { namespace: 'default' })).status?.conditions?.find((x) => x.type === 'PodScheduled'), { timeoutMs: 10_000, what: 'overflow parked' });
    t.equal(c.message, "0/6 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) were unschedulable, 3 node(s) didn't match Pod's node affinity/selector.");
  });
});
