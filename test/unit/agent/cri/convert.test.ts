// Our CRI types <-> protobuf: requests are encoded and responses decoded with the same proto and
// loader options as the client, so these tests cover what really goes over the wire.
import t from 'tap';
import { loadCriDefinition } from '../../../../agent/cri/client.ts';
import {
  containerConfigToWire,
  containerFilterToWire,
  containerFromWire,
  containerStatsFromWire,
  containerStatusFromWire,
  execSyncFromWire,
  imageFromWire,
  nsToMs,
  podSandboxConfigToWire,
  podSandboxFilterToWire,
  podSandboxFromWire,
  podSandboxStatusFromWire,
  statusFromWire,
  toNumber,
  type Wire,
} from '../../../../agent/cri/convert.ts';
import type { ContainerConfig, PodSandboxConfig } from '../../../../agent/cri/types.ts';

interface MethodDefinition {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): Wire;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): Wire;
}
const definition = loadCriDefinition();
function rpc(service: 'RuntimeService' | 'ImageService', method: string): MethodDefinition {
  return (definition[`runtime.v1.${service}`] as unknown as Record<string, MethodDefinition>)[method]!;
}
/** Encode a request as the client would and decode it as a server would. */
function overWireRequest(method: string, request: Wire): Wire {
  const m = rpc('RuntimeService', method);
  return m.requestDeserialize(m.requestSerialize(request));
}
/** Encode a response as a server would and decode it as the client does. */
function overWireResponse(service: 'RuntimeService' | 'ImageService', method: string, response: unknown): Wire {
  const m = rpc(service, method);
  return m.responseDeserialize(m.responseSerialize(response));
}

t.test('nsToMs: int64 nanoseconds to fractional milliseconds without losing the millisecond', async (t) => {
  const cases: [unknown, number][] = [
    ['0', 0],
    [undefined, 0],
    [null, 0],
    ['', 0],
    ['1000000', 1],
    ['1500000', 1.5],
    ['1795450233414044700', 1795450233414.0447],
    ['1795450233414999999', 1795450233414.999999],
    [2_000_000, 2],
    [5_000_000n, 5],
  ];
  for (const [input, expected] of cases) t.equal(nsToMs(input), expected, `${String(input)} ns`);
  // The integer part is exact even where ns / 1e6 in doubles would round it.
  t.equal(Math.floor(nsToMs('9007199254740993000000')), 9007199254740993, 'integer milliseconds exact beyond 2^53 ns');
});

t.test('toNumber reads int64 strings, numbers and absent values', async (t) => {
  t.equal(toNumber('67108864'), 67108864);
  t.equal(toNumber(7), 7);
  t.equal(toNumber(undefined), 0);
  t.equal(toNumber(''), 0);
});

const sandboxConfig: PodSandboxConfig = {
  metadata: { name: 'web', uid: 'uid-1', namespace: 'default', attempt: 2 },
  hostname: 'web',
  logDirectory: '/var/log/pods/default_web_uid-1',
  dnsConfig: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
  portMappings: [{ protocol: 'udp', containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1' }],
  labels: { app: 'web' },
  annotations: { note: 'kept' },
  linux: {
    cgroupParent: '/moor/poduid-1',
    securityContext: { namespaceOptions: { network: 'node', pid: 'container' }, runAsUser: 1000, supplementalGroups: [5, 6] },
    sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
  },
};

t.test('PodSandboxConfig survives the wire with upstream field names and enum values', async (t) => {
  const decoded = overWireRequest('RunPodSandbox', { config: podSandboxConfigToWire(sandboxConfig), runtimeHandler: '' });
  const config = decoded.config as Record<string, any>;
  t.same(config.metadata, { name: 'web', uid: 'uid-1', namespace: 'default', attempt: 2 });
  t.equal(config.hostname, 'web');
  t.equal(config.logDirectory, '/var/log/pods/default_web_uid-1');
  t.same(config.dnsConfig.options, ['ndots:5']);
  t.same(config.portMappings, [{ protocol: 'UDP', containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1' }]);
  t.same(config.labels, { app: 'web' });
  t.same(config.annotations, { note: 'kept' });
  t.equal(config.linux.cgroupParent, '/moor/poduid-1');
  t.same(config.linux.sysctls, { 'net.ipv4.ip_unprivileged_port_start': '0' });
  const sc = config.linux.securityContext;
  t.same(sc.namespaceOptions, { network: 'NODE', pid: 'CONTAINER', ipc: 'POD', targetId: '', usernsOptions: null });
  t.same(sc.runAsUser, { value: '1000' }, 'Int64Value wrapper');
  t.equal(sc.runAsGroup, null, 'an unset wrapper stays unset');
  t.same(sc.supplementalGroups, ['5', '6']);
});

t.test('ContainerConfig survives the wire, env order and resources included', async (t) => {
  const config: ContainerConfig = {
    metadata: { name: 'app', attempt: 1 },
    image: { image: '127.0.0.1:5000/moor/busybox:1.0' },
    command: ['sh', '-c'],
    args: ['echo $A$B'],
    workingDir: '/tmp',
    envs: [{ key: 'B', value: '2' }, { key: 'A', value: '1' }],
    mounts: [{ containerPath: '/data', hostPath: '/var/lib/moor/data', readonly: true, propagation: 'host-to-container' }],
    labels: { 'io.moor.container': 'app' },
    logPath: 'app/1.log',
    linux: {
      resources: { memoryLimitInBytes: 64 * 1024 * 1024, cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, oomScoreAdj: -997 },
      securityContext: { capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, runAsUser: 0, readonlyRootfs: true },
    },
  };
  const decoded = overWireRequest('CreateContainer', { podSandboxId: 'sb1', config: containerConfigToWire(config), sandboxConfig: podSandboxConfigToWire(sandboxConfig) });
  const c = decoded.config as Record<string, any>;
  t.equal(decoded.podSandboxId, 'sb1');
  t.same(c.metadata, { name: 'app', attempt: 1 });
  t.equal(c.image.image, '127.0.0.1:5000/moor/busybox:1.0');
  t.same(c.command, ['sh', '-c']);
  t.same(c.args, ['echo $A$B']);
  t.same(c.envs, [{ key: 'B', value: '2' }, { key: 'A', value: '1' }], 'env order kept');
  t.same(c.mounts[0], { containerPath: '/data', hostPath: '/var/lib/moor/data', readonly: true, selinuxRelabel: false, propagation: 'PROPAGATION_HOST_TO_CONTAINER', uidMappings: [], gidMappings: [], recursiveReadOnly: false });
  t.equal(c.logPath, 'app/1.log');
  t.equal(c.linux.resources.memoryLimitInBytes, '67108864');
  t.equal(c.linux.resources.oomScoreAdj, '-997');
  t.same(c.linux.securityContext.capabilities.addCapabilities, ['NET_ADMIN']);
  t.same(c.linux.securityContext.runAsUser, { value: '0' }, 'uid 0 is sent, not dropped as a default');
  t.equal((decoded.sandboxConfig as Record<string, any>).metadata.attempt, 2, 'the sandbox config goes along');
});

t.test('filters: absent means no filter; states and labels are encoded', async (t) => {
  t.equal(podSandboxFilterToWire(undefined), undefined);
  const pods = overWireRequest('ListPodSandbox', { filter: podSandboxFilterToWire({ state: 'ready', labelSelector: { app: 'web' } }) });
  t.same(pods.filter, { id: '', state: { state: 'SANDBOX_READY' }, labelSelector: { app: 'web' } });
  const containers = overWireRequest('ListContainers', { filter: containerFilterToWire({ state: 'exited', podSandboxId: 'sb1' }) });
  t.same(containers.filter, { id: '', state: { state: 'CONTAINER_EXITED' }, podSandboxId: 'sb1', labelSelector: {} });
});

t.test('ContainerStatusResponse decodes into our ContainerStatus', async (t) => {
  const wire = overWireResponse('RuntimeService', 'ContainerStatus', {
    status: {
      id: 'c1',
      metadata: { name: 'app', attempt: 3 },
      state: 'CONTAINER_EXITED',
      createdAt: '1795450233547969000',
      startedAt: '1795450233610654500',
      finishedAt: '1795450250737187500',
      exitCode: 137,
      image: { image: '127.0.0.1:5000/moor/busybox:1.0' },
      imageRef: '127.0.0.1:5000/moor/busybox@sha256:d48f',
      reason: 'OOMKilled',
      labels: { a: 'b' },
      logPath: '/var/log/pods/x/app/3.log',
      resources: { linux: { memoryLimitInBytes: '67108864', cpuShares: '512' } },
    },
    info: {},
  });
  const s = containerStatusFromWire(wire);
  t.equal(s.id, 'c1');
  t.same(s.metadata, { name: 'app', attempt: 3 });
  t.equal(s.state, 'exited');
  t.equal(s.createdAtMs, 1795450233547.969);
  t.equal(s.startedAtMs, 1795450233610.6545);
  t.equal(s.finishedAtMs, 1795450250737.1875);
  t.equal(s.exitCode, 137);
  t.equal(s.reason, 'OOMKilled');
  t.equal(s.image, '127.0.0.1:5000/moor/busybox:1.0');
  t.equal(s.imageRef, '127.0.0.1:5000/moor/busybox@sha256:d48f');
  t.same(s.labels, { a: 'b' });
  t.same(s.annotations, {});
  t.equal(s.logPath, '/var/log/pods/x/app/3.log');
  t.equal(s.resources?.memoryLimitInBytes, 67108864);
  t.equal(s.resources?.cpuShares, 512);
});

t.test('a created container has zero start and finish times', async (t) => {
  const s = containerStatusFromWire(overWireResponse('RuntimeService', 'ContainerStatus', { status: { id: 'c2', state: 'CONTAINER_CREATED', createdAt: '1000000' } }));
  t.equal(s.state, 'created');
  t.equal(s.startedAtMs, 0);
  t.equal(s.finishedAtMs, 0);
  t.equal(s.resources, undefined);
});

t.test('PodSandboxStatusResponse decodes with its IP and namespace options', async (t) => {
  const wire = overWireResponse('RuntimeService', 'PodSandboxStatus', {
    status: {
      id: 'sb1',
      metadata: { name: 'web', uid: 'u', namespace: 'default', attempt: 1 },
      state: 'SANDBOX_NOTREADY',
      createdAt: '1795450233414044700',
      network: { ip: '10.199.3.2', additionalIps: [{ ip: 'fd00::2' }] },
      linux: { namespaces: { options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
      labels: { app: 'web' },
    },
    info: { sandboxInfo: '{}' },
  });
  const s = podSandboxStatusFromWire(wire);
  t.equal(s.state, 'notready');
  t.equal(s.ip, '10.199.3.2');
  t.same(s.additionalIps, ['fd00::2']);
  t.same(s.namespaceOptions, { network: 'node', pid: 'container', ipc: 'pod', targetId: '' });
  t.equal(s.createdAtMs, 1795450233414.0447);
  t.same(s.metadata, { name: 'web', uid: 'u', namespace: 'default', attempt: 1 });
  t.same(s.info, { sandboxInfo: '{}' });
});

t.test('list responses decode item by item', async (t) => {
  const pods = overWireResponse('RuntimeService', 'ListPodSandbox', { items: [{ id: 'a', state: 'SANDBOX_READY', createdAt: '2000000' }] });
  t.same((pods.items as Wire[]).map(podSandboxFromWire).map((p) => [p.id, p.state, p.createdAtMs]), [['a', 'ready', 2]]);
  const containers = overWireResponse('RuntimeService', 'ListContainers', {
    containers: [{ id: 'c', podSandboxId: 'a', state: 'CONTAINER_RUNNING', image: { image: 'img' }, imageRef: 'sha256:1' }],
  });
  const c = containerFromWire((containers.containers as Wire[])[0]!);
  t.same([c.id, c.podSandboxId, c.state, c.image, c.imageRef], ['c', 'a', 'running', 'img', 'sha256:1']);
});

t.test('an unknown enum value decodes to the safe state', async (t) => {
  t.equal(containerFromWire({ state: 'CONTAINER_SOMETHING_NEW' }).state, 'unknown');
  t.equal(podSandboxFromWire({ state: 7 }).state, 'notready');
});

t.test('Image: uint64 size and the optional numeric uid', async (t) => {
  const wire = overWireResponse('ImageService', 'ImageStatus', {
    image: { id: 'sha256:abc', repoTags: ['r:1'], repoDigests: ['r@sha256:def'], size: '1032423', uid: { value: '65535' } },
  });
  const image = imageFromWire(wire.image as Wire);
  t.same(image, { id: 'sha256:abc', repoTags: ['r:1'], repoDigests: ['r@sha256:def'], sizeBytes: 1032423, uid: 65535, username: '', pinned: false });
  const noUser = imageFromWire(overWireResponse('ImageService', 'ImageStatus', { image: { id: 'x' } }).image as Wire);
  t.equal(noUser.uid, undefined, 'no uid when USER is not numeric');
  t.equal(overWireResponse('ImageService', 'ImageStatus', {}).image, null, 'a missing image decodes to null');
});

t.test('ExecSync output stays bytes; non-zero exit is data', async (t) => {
  const r = execSyncFromWire(overWireResponse('RuntimeService', 'ExecSync', { stdout: Buffer.from('out\n'), stderr: Buffer.from([0xff, 0x00]), exitCode: 7 }));
  t.equal(r.stdout.toString(), 'out\n');
  t.same([...r.stderr], [0xff, 0x00]);
  t.equal(r.exitCode, 7);
});

t.test('Status and stats decode', async (t) => {
  const status = statusFromWire(overWireResponse('RuntimeService', 'Status', {
    status: { conditions: [{ type: 'RuntimeReady', status: true }, { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: 'cni plugin not initialized' }] },
  }));
  t.same(status.conditions[1], { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: 'cni plugin not initialized' });
  const stats = overWireResponse('RuntimeService', 'ContainerStats', {
    stats: { attributes: { id: 'c', metadata: { name: 'app', attempt: 0 } }, cpu: { timestamp: '3000000', usageCoreNanoSeconds: { value: '24604177' } }, memory: { timestamp: '3000000', workingSetBytes: { value: '712704' } } },
  });
  const s = containerStatsFromWire(stats.stats);
  t.equal(s.id, 'c');
  t.equal(s.cpu?.usageCoreNanoSeconds, 24604177);
  t.equal(s.cpu?.usageNanoCores, undefined, 'an absent wrapper is undefined, not 0');
  t.equal(s.memory?.workingSetBytes, 712704);
  t.equal(s.memory?.timestampMs, 3);
  t.equal(s.writableLayer, undefined);
});
