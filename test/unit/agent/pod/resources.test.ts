import t from 'tap';
import { buildLinuxResources, computeQosClass, milliCpuToQuota, milliCpuToShares, podCgroupParent } from '../../../../agent/pod/resources.ts';
import type { Container } from '../../../../agent/pod/types.ts';

function c(resources?: Container['resources']): Container {
  return { name: 'c', image: 'i', imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', ...(resources ? { resources } : {}) };
}

t.test('QoS class', async (t) => {
  const cases: { name: string; containers: Container[]; want: string }[] = [
    { name: 'nothing set', containers: [c(), c({})], want: 'BestEffort' },
    { name: 'limits only (requests default to them)', containers: [c({ limits: { cpu: '1', memory: '1Gi' } })], want: 'Guaranteed' },
    { name: 'requests equal limits', containers: [c({ limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: '0.5', memory: '64Mi' } })], want: 'Guaranteed' },
    { name: 'request below limit', containers: [c({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '100m' } })], want: 'Burstable' },
    { name: 'one container without limits', containers: [c({ limits: { cpu: '1', memory: '1Gi' } }), c()], want: 'Burstable' },
    { name: 'memory request only', containers: [c({ requests: { memory: '10Mi' } })], want: 'Burstable' },
    { name: 'other resources do not count', containers: [c({ limits: { 'ephemeral-storage': '1Gi' } })], want: 'BestEffort' },
  ];
  for (const k of cases) t.equal(computeQosClass({ containers: k.containers }), k.want, k.name);
});

t.test('cpu shares and quota like the kubelet', async (t) => {
  t.equal(milliCpuToShares(undefined), 2);
  t.equal(milliCpuToShares(0), 2);
  t.equal(milliCpuToShares(1), 2);
  t.equal(milliCpuToShares(100), 102);
  t.equal(milliCpuToShares(1000), 1024);
  t.equal(milliCpuToShares(1e9), 262144);
  t.equal(milliCpuToQuota(500), 50000);
  t.equal(milliCpuToQuota(1), 1000);
});

t.test('linux resources', async (t) => {
  const g = buildLinuxResources({ container: c({ limits: { cpu: '500m', memory: '64Mi' } }), qos: 'Guaranteed', nodeMemoryBytes: 2 ** 32 });
  t.same(g, { cpuShares: 512, oomScoreAdj: -997, cpuPeriod: 100000, cpuQuota: 50000, memoryLimitInBytes: 67108864 });
  const be = buildLinuxResources({ container: c(), qos: 'BestEffort', nodeMemoryBytes: 2 ** 32 });
  t.same(be, { cpuShares: 2, oomScoreAdj: 1000 });
  const b = buildLinuxResources({ container: c({ requests: { memory: '2Gi', cpu: '250m' } }), qos: 'Burstable', nodeMemoryBytes: 2 ** 32 });
  t.same(b, { cpuShares: 256, oomScoreAdj: 500 });
  const tiny = buildLinuxResources({ container: c({ requests: { memory: '4Gi' } }), qos: 'Burstable', nodeMemoryBytes: 2 ** 32 });
  t.equal(tiny.oomScoreAdj, 2, 'clamped at 2');
});

t.test('cgroup parent by QoS class', async (t) => {
  t.equal(podCgroupParent({ cgroupRoot: '/', qos: 'Guaranteed', podUid: 'u' }), '/kubepods/podu');
  t.equal(podCgroupParent({ cgroupRoot: '/moor', qos: 'Burstable', podUid: 'u' }), '/moor/kubepods/burstable/podu');
  t.equal(podCgroupParent({ cgroupRoot: '/moor/', qos: 'BestEffort', podUid: 'u' }), '/moor/kubepods/besteffort/podu');
});
