import t from 'tap';
import { buildNodeStatus, goArch, type NodeFacts } from '../../../../agent/node/register.ts';

const facts: NodeFacts = {
  nodeName: 'n1', nodeIp: '10.0.0.5', port: 10250, cpuMilli: 2000, memoryBytes: 4 * 1024 ** 3, maxPods: 110,
  nodeInfo: {
    machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6.1.0', osImage: 'Debian GNU/Linux 12 (bookworm)',
    containerRuntimeVersion: 'containerd://1.6.20', kubeletVersion: 'v1.32.0-moor', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64',
  },
};
const T1 = '2026-01-01T00:00:00Z';
const T2 = '2026-01-01T00:00:10Z';

t.test('buildNodeStatus reports the facts', async (t) => {
  const s = buildNodeStatus(facts, undefined, T1);
  t.same(s.addresses, [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'Hostname', address: 'n1' }]);
  t.same(s.capacity, { cpu: '2', memory: `${4 * 1024 * 1024}Ki`, pods: '110', 'ephemeral-storage': '0' });
  t.same(s.allocatable, s.capacity);
  t.same(s.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
  t.equal((s.nodeInfo as { containerRuntimeVersion: string }).containerRuntimeVersion, 'containerd://1.6.20');
  t.same(s.conditions!.map((c) => `${c.type}=${c.status}`), ['MemoryPressure=False', 'DiskPressure=False', 'PIDPressure=False', 'Ready=True']);
  for (const c of s.conditions!) t.same([c.lastHeartbeatTime, c.lastTransitionTime], [T1, T1], `${c.type} times`);
});

t.test('buildNodeStatus: heartbeat moves, transition only with a status change', async (t) => {
  const cases: { name: string; before: 'True' | 'False' | 'Unknown'; transition: string }[] = [
    { name: 'unchanged Ready keeps its transition time', before: 'True', transition: T1 },
    { name: 'Unknown -> True moves it', before: 'Unknown', transition: T2 },
    { name: 'False -> True moves it', before: 'False', transition: T2 },
  ];
  for (const c of cases) {
    const previous = { conditions: [{ type: 'Ready', status: c.before, lastHeartbeatTime: T1, lastTransitionTime: T1 }], podCIDR: 'kept' };
    const s = buildNodeStatus(facts, previous, T2);
    const ready = s.conditions!.find((x) => x.type === 'Ready')!;
    t.equal(ready.lastTransitionTime, c.transition, c.name);
    t.equal(ready.lastHeartbeatTime, T2, `${c.name}: heartbeat`);
    t.equal(s.podCIDR, 'kept', `${c.name}: other status fields kept`);
  }
});

t.test('buildNodeStatus: an unhealthy agent makes Ready False with the reason', async (t) => {
  const ready = buildNodeStatus(facts, undefined, T1);
  const s = buildNodeStatus(facts, ready, T2, 'pleg: no successful relist for 200s');
  t.match(s.conditions!.find((c) => c.type === 'Ready'), { status: 'False', reason: 'KubeletNotReady', message: 'pleg: no successful relist for 200s', lastTransitionTime: T2 });
  t.equal(s.conditions!.find((c) => c.type === 'MemoryPressure')!.lastTransitionTime, T1, 'other conditions unchanged');
});

t.test('buildNodeStatus: fractional CPUs in millicores', async (t) => {
  t.equal(buildNodeStatus({ ...facts, cpuMilli: 1500 }, undefined, T1).capacity!.cpu, '1500m');
});

t.test('goArch', async (t) => {
  for (const [node, go] of [['x64', 'amd64'], ['arm64', 'arm64'], ['ia32', '386']]) t.equal(goArch(node), go, node);
});
