import t from 'tap';
import { buildTable, computePodStatus, humanDuration, wantsTable } from '../../../../controlplane/apiserver/table.ts';

const running = { state: { running: { startedAt: '2026-01-01T00:00:00Z' } }, ready: true, restartCount: 0 };

t.test('pod STATUS column', async (t) => {
  const base = { metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }], initContainers: [{ name: 'i1' }, { name: 'i2' }] }, status: { phase: 'Pending' } };
  const cases: [string, Record<string, unknown>, Record<string, unknown> | undefined, string][] = [
    ['phase', { phase: 'Pending' }, undefined, 'Pending'],
    ['reason wins', { phase: 'Failed', reason: 'Evicted' }, undefined, 'Evicted'],
    ['init running', { phase: 'Pending', initContainerStatuses: [{ state: { running: {} } }] }, undefined, 'Init:0/2'],
    ['second init', { phase: 'Pending', initContainerStatuses: [{ state: { terminated: { exitCode: 0 } } }, { state: { waiting: { reason: 'PodInitializing' } } }] }, undefined, 'Init:1/2'],
    ['init error', { phase: 'Pending', initContainerStatuses: [{ state: { terminated: { exitCode: 1, reason: 'Error' } } }] }, undefined, 'Init:Error'],
    ['init exit code', { phase: 'Pending', initContainerStatuses: [{ state: { terminated: { exitCode: 3 } } }] }, undefined, 'Init:ExitCode:3'],
    ['init signal', { phase: 'Pending', initContainerStatuses: [{ state: { terminated: { exitCode: 137, signal: 9 } } }] }, undefined, 'Init:Signal:9'],
    ['init crashloop', { phase: 'Pending', initContainerStatuses: [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }] }, undefined, 'Init:CrashLoopBackOff'],
    ['creating', { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ContainerCreating' } } }] }, undefined, 'ContainerCreating'],
    ['image pull', { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }] }, undefined, 'ImagePullBackOff'],
    ['crashloop', { phase: 'Running', containerStatuses: [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }] }, undefined, 'CrashLoopBackOff'],
    ['running', { phase: 'Running', containerStatuses: [running] }, undefined, 'Running'],
    ['completed', { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }, undefined, 'Completed'],
    ['exit code', { phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 2 } } }] }, undefined, 'ExitCode:2'],
    ['completed while another runs', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ state: { terminated: { exitCode: 0, reason: 'Completed' } } }, running] }, undefined, 'Running'],
    ['terminating', { phase: 'Running', containerStatuses: [running] }, { deletionTimestamp: '2026-01-01T00:00:00Z' }, 'Terminating'],
    ['node lost', { phase: 'Running', reason: 'NodeLost' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }, 'Unknown'],
  ];
  for (const [name, status, meta, want] of cases) {
    const pod = { ...base, metadata: { ...base.metadata, ...meta }, spec: name.startsWith('init') || name === 'second init' ? base.spec : { containers: [{ name: 'a' }, { name: 'b' }] }, status };
    t.equal(computePodStatus(pod), want, name);
  }
});

t.test('human durations as kubectl prints them', async (t) => {
  const s = 1000;
  const cases: [number, string][] = [[-5 * s, '<invalid>'], [0, '0s'], [119 * s, '119s'], [125 * s, '2m5s'], [600 * s, '10m'], [3 * 3600 * s + 20 * 60 * s, '3h20m'], [9 * 3600 * s, '9h'], [50 * 3600 * s, '2d2h'], [20 * 86400 * s, '20d'], [800 * 86400 * s, '2y70d']];
  for (const [ms, want] of cases) t.equal(humanDuration(ms), want, want);
});

t.test('tables', async (t) => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const pod = {
    metadata: { name: 'web-1', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z', labels: { a: 'b' } },
    spec: { nodeName: 'n1', containers: [{ name: 'a' }] },
    status: { phase: 'Running', podIP: '10.0.0.5', containerStatuses: [{ ...running, restartCount: 2, lastState: { terminated: { finishedAt: '2026-01-01T00:05:00Z' } } }] },
  };
  const table = buildTable('Pod', [pod], { nowMs: now, include: 'Metadata', resourceVersion: '7' });
  t.same(table.columnDefinitions.map((c) => c.name), ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP', 'Node', 'Nominated Node', 'Readiness Gates']);
  t.same(table.rows[0].cells, ['web-1', '1/1', 'Running', '2 (5m ago)', '10m', '10.0.0.5', 'n1', '<none>', '<none>']);
  t.same(table.rows[0].object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: pod.metadata });
  t.equal(table.metadata.resourceVersion, '7');
  const node = { metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '' } }, spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' }, addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } };
  t.same(buildTable('Node', [node], { nowMs: now, include: 'None' }).rows[0].cells.slice(0, 6), ['n1', 'Ready,SchedulingDisabled', 'control-plane', '<unknown>', 'v1.32.0', '10.0.0.1']);
  // kubectl's wording: Ready=False and Ready=Unknown (a lost node) both read NotReady; no condition at all reads Unknown.
  for (const [ready, want] of [['False', 'NotReady'], ['Unknown', 'NotReady'], [undefined, 'Unknown']] as const) {
    const n = { metadata: { name: 'n2' }, status: { conditions: ready === undefined ? [] : [{ type: 'Ready', status: ready }] } };
    t.equal(buildTable('Node', [n], { nowMs: now, include: 'None' }).rows[0].cells[1], want, `Ready=${ready ?? 'absent'} -> ${want}`);
  }
  const svc = { metadata: { name: 's' }, spec: { type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ port: 80, nodePort: 30001, protocol: 'TCP' }], selector: { app: 'web' } } };
  t.same(buildTable('Service', [svc], { nowMs: now, include: 'None' }).rows[0].cells, ['s', 'NodePort', '10.96.0.10', '<none>', '80:30001/TCP', '<unknown>', 'app=web']);
  const ep = { metadata: { name: 'e' }, subsets: [{ addresses: [1, 2, 3, 4].map((i) => ({ ip: `10.0.0.${i}` })), ports: [{ port: 80 }] }] };
  t.equal(buildTable('Endpoints', [ep], { nowMs: now, include: 'None' }).rows[0].cells[1], '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...');
  const deploy = { metadata: { name: 'd' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'c', image: 'i' }] } } }, status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 } };
  t.same(buildTable('Deployment', [deploy], { nowMs: now, include: 'None' }).rows[0].cells, ['d', '2/3', 3, 2, '<unknown>', 'c', 'i', 'app=web']);
});

t.test('Accept negotiation', async (t) => {
  t.ok(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'));
  t.notOk(wantsTable('application/json'));
  t.notOk(wantsTable(undefined));
});
