// `moor agent` (in process) on a real containerd with the reference bridge CNI: every pod of the
// scenarios below is written at once and runs side by side; each subtest then waits for what its
// pod must show. Then the manifests are removed and nothing of the pods may remain.

import t from 'tap';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { startContainerdRig, IMAGES, type ContainerdRig } from '../../helpers/containerd-rig.ts';
import { createCriClient } from '../../../agent/cri/client.ts';
import { LABEL_POD_UID } from '../../../agent/pod/labels.ts';
import { listMountPoints } from '../../../agent/host/mount.ts';
import { waitFor } from '../../../common/wait.ts';
import type { Pod } from '../../../agent/pod/types.ts';
import { NODE, podManifest, ready, sleeper, startInProcessAgent, waitPod, writeManifest, type InProcessAgent } from './harness.ts';

const skip = process.getuid?.() === 0 ? false : 'needs root (containerd, mounts, cgroups)';
const BB = IMAGES.busybox;

function cs(p: Pod, name: string) {
  return [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].find((c) => c.name === name)!;
}

async function logsOf(a: InProcessAgent, pod: string, container: string, query = ''): Promise<string> {
  const res = await fetch(`${a.url}/containerLogs/default/${pod}-${NODE}/${container}${query}`);
  return res.text();
}

t.test('pods from manifests on a real containerd', { skip, timeout: 280_000 }, async (t) => {
  const rig: ContainerdRig = await startContainerdRig();
  t.teardown(() => rig.stop());
  const a = await startInProcessAgent(t, rig);
  const hostDir = `${a.dirs.base}/host-events`;

  const vol = (name: string, path: string) => [{ name, mountPath: path }];
  await Promise.all([
    writeManifest(a.dirs, 'init-order.yaml', podManifest('init-order', {
      volumes: [{ name: 'work', emptyDir: {} }],
      initContainers: [
        { name: 'first', image: BB, command: ['sh', '-c', 'echo first >> /work/order'], volumeMounts: vol('work', '/work') },
        { name: 'second', image: BB, command: ['sh', '-c', 'echo second >> /work/order'], volumeMounts: vol('work', '/work') },
      ],
      containers: [{ name: 'main', image: BB, command: sleeper('cat /work/order'), volumeMounts: vol('work', '/work') }],
    })),
    writeManifest(a.dirs, 'init-fail.yaml', podManifest('init-fail', {
      restartPolicy: 'Never',
      initContainers: [{ name: 'setup', image: BB, command: ['sh', '-c', 'exit 3'] }],
      containers: [{ name: 'main', image: BB, command: sleeper() }],
    })),
    writeManifest(a.dirs, 'init-retry.yaml', podManifest('init-retry', {
      initContainers: [{ name: 'setup', image: BB, command: ['sh', '-c', 'exit 3'] }],
      containers: [{ name: 'main', image: BB, command: sleeper() }],
    })),
    writeManifest(a.dirs, 'post-start.yaml', podManifest('post-start', {
      containers: [{ name: 'main', image: BB, command: sleeper(), lifecycle: { postStart: { exec: { command: ['sh', '-c', 'exit 1'] } } } }],
    })),
    writeManifest(a.dirs, 'liveness.yaml', podManifest('liveness', {
      containers: [{
        name: 'main', image: BB, command: sleeper('touch /tmp/healthy; (sleep 2; rm /tmp/healthy) &'),
        livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 1 },
      }],
    })),
    writeManifest(a.dirs, 'readiness.yaml', podManifest('readiness', {
      containers: [{
        name: 'web', image: BB, ports: [{ name: 'http', containerPort: 8080 }],
        command: sleeper('mkdir -p /www; httpd -p 8080 -h /www; (sleep 5; echo ok > /www/ready; sleep 6; rm /www/ready) &'),
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1, failureThreshold: 1 },
        livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 2 },
      }],
    })),
    writeManifest(a.dirs, 'policies.yaml', [
      podManifest('always-crash', { containers: [{ name: 'main', image: BB, command: ['sh', '-c', 'exit 1'] }] }),
      podManifest('onfailure-ok', { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: BB, command: ['sh', '-c', 'sleep 1; exit 0'] }] }),
      podManifest('onfailure-fail', { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: BB, command: ['sh', '-c', 'exit 2'] }] }),
      podManifest('never-fail', { restartPolicy: 'Never', containers: [{ name: 'main', image: BB, command: ['sh', '-c', 'exit 1'] }] }),
      podManifest('term-message', {
        restartPolicy: 'Never',
        containers: [
          // As a non-root user: the message file must be writable for any user.
          { name: 'file', image: BB, command: ['sh', '-c', 'echo -n "config missing" > /dev/termination-log; exit 3'], securityContext: { runAsUser: 1000 } },
          { name: 'custom', image: BB, terminationMessagePath: '/tmp/why', command: ['sh', '-c', 'echo -n done > /tmp/why'] },
          { name: 'fallback', image: BB, terminationMessagePolicy: 'FallbackToLogsOnError', command: ['sh', '-c', 'echo booting >&2; echo "panic: no db" >&2; exit 2'] },
        ],
      }),
    ]),
    writeManifest(a.dirs, 'shared.yaml', podManifest('shared', {
      volumes: [{ name: 'data', emptyDir: {} }, { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }],
      containers: [
        { name: 'writer', image: BB, command: sleeper('echo shared-data > /data/f'), volumeMounts: vol('data', '/data') },
        {
          name: 'reader', image: BB, command: sleeper("while [ ! -f /data/f ]; do sleep 0.2; done; cat /data/f; grep ' /cache ' /proc/mounts | cut -d' ' -f1-3"),
          volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'cache', mountPath: '/cache' }],
        },
      ],
    })),
    writeManifest(a.dirs, 'env.yaml', podManifest('env', {
      containers: [{
        name: 'main', image: BB, command: sleeper('echo "name=$MY_NAME ns=$MY_NS ip=$MY_IP node=$MY_NODE url=$URL"'),
        env: [
          { name: 'MY_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'MY_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'MY_NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'URL', value: 'http://$(MY_IP):80' },
        ],
      }],
    }, { namespace: 'default' })),
    writeManifest(a.dirs, 'bad-image.yaml', podManifest('bad-image', {
      containers: [{ name: 'main', image: '127.0.0.1:5000/moor/does-not-exist:1.0', command: sleeper() }],
    })),
    writeManifest(a.dirs, 'edit-me.yaml', podManifest('edit-me', { containers: [{ name: 'main', image: BB, command: sleeper() }] })),
    writeManifest(a.dirs, 'fixed-uid.yaml', podManifest('fixed-uid', { containers: [{ name: 'main', image: BB, command: sleeper('echo v1') }] }, { uid: 'fixed-uid-0001' })),
    writeManifest(a.dirs, 'graceful.yaml', podManifest('graceful', {
      terminationGracePeriodSeconds: 10,
      volumes: [{ name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } }],
      containers: [{
        name: 'main', image: BB, volumeMounts: [{ name: 'host', mountPath: '/host' }],
        command: ['sh', '-c', "trap 'echo term >> /host/events; exit 0' TERM; sleep 3600 & wait"],
        lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /host/events; sleep 1'] } } },
      }],
    })),
    writeManifest(a.dirs, 'http-hook.yaml', podManifest('http-hook', {
      terminationGracePeriodSeconds: 10,
      volumes: [{ name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } }],
      containers: [{
        name: 'web', image: BB, ports: [{ containerPort: 8080 }], volumeMounts: [{ name: 'host', mountPath: '/host' }],
        // A CGI script records the PreStop GET in the host directory.
        command: sleeper("mkdir -p /www/cgi-bin; printf '#!/bin/sh\\necho http-prestop >> /host/http-events\\necho Content-Type: text/plain\\necho\\necho ok\\n' > /www/cgi-bin/stop; chmod +x /www/cgi-bin/stop; httpd -p 8080 -h /www"),
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        lifecycle: { preStop: { httpGet: { path: '/cgi-bin/stop', port: 8080 } } },
      }],
    })),
    writeManifest(a.dirs, 'stubborn.yaml', podManifest('stubborn', {
      terminationGracePeriodSeconds: 3,
      containers: [{ name: 'main', image: BB, command: ['sleep', '3600'] }],
    })),
    writeManifest(a.dirs, 'limits.yaml', podManifest('limits', {
      containers: [{
        name: 'main', image: BB, resources: { limits: { cpu: '500m', memory: '64Mi' } },
        securityContext: { runAsUser: 1000, readOnlyRootFilesystem: true },
        command: sleeper('id -u; if touch /x 2>/dev/null; then echo rw; else echo ro; fi; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares'),
      }],
    })),
    writeManifest(a.dirs, 'oom.yaml', podManifest('oom', {
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: BB, resources: { limits: { memory: '32Mi' } }, command: ['sh', '-c', 'head -c 200m /dev/zero | tail -n 1'] }],
    })),
    writeManifest(a.dirs, 'hostnet.yaml', podManifest('hostnet', {
      hostNetwork: true,
      containers: [{ name: 'main', image: BB, command: sleeper(`ip -o link | grep -c ' ${rig.bridgeName}:'`) }],
    })),
    writeManifest(a.dirs, 'bad.yaml', podManifest('bad', { containers: [{ name: 'main' }] })),
  ]);

  await t.test('init containers run in order, each to completion, before the main container', async (t) => {
    const p = await waitPod(a, 'init-order', (p) => p.status?.phase === 'Running' && ready(p), 'running and ready');
    for (const name of ['first', 'second']) {
      t.equal(cs(p, name).state.terminated?.reason, 'Completed', `${name} completed`);
      t.equal(cs(p, name).state.terminated?.exitCode, 0);
    }
    t.equal(p.status?.conditions.find((c) => c.type === 'Initialized')?.status, 'True');
    t.ok(Date.parse(cs(p, 'first').state.terminated!.finishedAt!) <= Date.parse(cs(p, 'second').state.terminated!.startedAt!) + 1000, 'second started after first finished');
    await waitFor(async () => (await logsOf(a, 'init-order', 'main')) === 'first\nsecond\n', { timeoutMs: 10_000, what: 'main sees the init output in order' });
  });

  await t.test('a failing init container: Never fails the pod; Always retries it with backoff', async (t) => {
    const p = await waitPod(a, 'init-fail', (p) => p.status?.phase === 'Failed', 'Failed');
    t.equal(cs(p, 'setup').state.terminated?.exitCode, 3);
    t.equal(cs(p, 'main').state.waiting?.reason, 'PodInitializing', 'the main container never started');
    t.equal(p.status?.conditions.find((c) => c.type === 'Initialized')?.status, 'False');
    const r = await waitPod(a, 'init-retry', (p) => cs(p, 'setup').restartCount >= 1 && cs(p, 'setup').state.waiting?.reason === 'CrashLoopBackOff', 'init container in CrashLoopBackOff');
    t.equal(r.status?.phase, 'Pending');
    t.equal(cs(r, 'main').state.waiting?.reason, 'PodInitializing');
  });

  await t.test('a failing PostStart hook kills the container; the restart policy applies', async (t) => {
    const reasons = new Set<string>();
    const p = await waitPod(a, 'post-start', (p) => {
      const r = cs(p, 'main').state.waiting?.reason;
      if (r) reasons.add(r);
      return cs(p, 'main').restartCount >= 1 && r === 'CrashLoopBackOff';
    }, 'restarted and backing off');
    t.ok(cs(p, 'main').lastState.terminated, 'the killed instance shows as the last state');
    t.notOk(ready(p));
    t.ok([...reasons].every((r) => ['PostStartHookError', 'CrashLoopBackOff', 'ContainerCreating'].includes(r)), `reasons seen: ${[...reasons].join(', ')}`);
  });

  await t.test('a failing liveness probe restarts the container', async (t) => {
    const p = await waitPod(a, 'liveness', (p) => cs(p, 'main').restartCount >= 1, 'restarted');
    // The container never exits by itself; it exits 0 only through its TERM trap, i.e. when stopped.
    t.equal(cs(p, 'main').lastState.terminated?.exitCode, 0, 'the previous instance was stopped (TERM), not crashed');
  });

  await t.test('readiness (httpGet to the pod IP) flips Ready; a passing tcpSocket liveness restarts nothing', async (t) => {
    await waitPod(a, 'readiness', (p) => p.status?.phase === 'Running' && !ready(p), 'running, not ready');
    await waitPod(a, 'readiness', ready, 'ready');
    const p = await waitPod(a, 'readiness', (p) => !ready(p), 'not ready again');
    t.equal(p.status?.conditions.find((c) => c.type === 'Ready')?.reason, 'ContainersNotReady');
    t.equal(cs(p, 'web').restartCount, 0);
    t.equal(cs(p, 'web').started, true);
  });

  await t.test('restart policies with a short crash-loop backoff', async (t) => {
    let sawBackoff = false;
    const always = await waitPod(a, 'always-crash', (p) => {
      if (cs(p, 'main').state.waiting?.reason === 'CrashLoopBackOff') sawBackoff = true;
      return cs(p, 'main').restartCount >= 2 && sawBackoff;
    }, 'restarted twice, CrashLoopBackOff seen');
    t.equal(always.status?.phase, 'Running', 'Always: a crash-looping pod stays Running');
    t.equal(cs(always, 'main').lastState.terminated?.exitCode, 1);
    const ok = await waitPod(a, 'onfailure-ok', (p) => p.status?.phase === 'Succeeded', 'Succeeded');
    t.equal(cs(ok, 'main').state.terminated?.reason, 'Completed');
    t.equal(cs(ok, 'main').restartCount, 0);
    const of = await waitPod(a, 'onfailure-fail', (p) => cs(p, 'main').restartCount >= 1, 'restarted');
    t.equal(of.status?.phase, 'Running');
    const term = await waitPod(a, 'term-message', (p) => p.status?.phase === 'Failed', 'Failed');
    t.equal(cs(term, 'file').state.terminated?.exitCode, 3);
    t.equal(cs(term, 'file').state.terminated?.message, 'config missing', 'termination message from /dev/termination-log (written as uid 1000)');
    t.equal(cs(term, 'custom').state.terminated?.message, 'done', 'from a custom terminationMessagePath, on success too');
    t.equal(cs(term, 'fallback').state.terminated?.message, 'booting\npanic: no db\n', 'FallbackToLogsOnError: the log tail (one stream: containerd does not order stdout against stderr)');
    const never = await waitPod(a, 'never-fail', (p) => p.status?.phase === 'Failed', 'Failed');
    t.equal(cs(never, 'main').state.terminated?.exitCode, 1);
    t.equal(cs(never, 'main').state.terminated?.reason, 'Error');
    t.equal(cs(never, 'main').restartCount, 0);
    // A pod that completed has its sandbox stopped.
    const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 10_000 });
    t.teardown(() => cri.close());
    await waitFor(async () => (await cri.listPodSandbox({ labelSelector: { [LABEL_POD_UID]: never.metadata.uid } })).every((s) => s.state === 'notready'), { timeoutMs: 15_000, what: 'completed pod sandbox stopped' });
  });

  await t.test('emptyDir shared by two containers; medium Memory is a tmpfs', async (t) => {
    const p = await waitPod(a, 'shared', (p) => p.status?.phase === 'Running' && ready(p), 'running');
    await waitFor(async () => /shared-data\ntmpfs \/cache tmpfs\n/.test(await logsOf(a, 'shared', 'reader')), { timeoutMs: 15_000, what: 'reader output' });
    const memoryVolume = `${a.dirs.root}/pods/${p.metadata.uid}/volumes/kubernetes.io~empty-dir/cache`;
    t.ok((await listMountPoints()).includes(memoryVolume), 'tmpfs mounted on the node');
  });

  await t.test('env from fieldRef and $(VAR) references', async (t) => {
    const p = await waitPod(a, 'env', (p) => p.status?.phase === 'Running', 'running');
    const ip = p.status!.podIP!;
    t.match(ip, new RegExp(`^${rig.podSubnet.split('.').slice(0, 3).join('\\.')}\\.`), 'pod IP on the rig network');
    await waitFor(async () => (await logsOf(a, 'env', 'main')) === `name=env-${NODE} ns=default ip=${ip} node=${NODE} url=http://${ip}:80\n`, { timeoutMs: 10_000, what: 'env output' });
    const withTs = await logsOf(a, 'env', 'main', '?timestamps=true&tailLines=1');
    t.match(withTs, /^\d{4}-\d\d-\d\dT\S+Z name=env-/);
  });

  await t.test('resources, securityContext and QoS: limits land in the cgroup; OOMKilled is reported', async (t) => {
    const p = await waitPod(a, 'limits', (p) => p.status?.phase === 'Running', 'running');
    t.equal(p.status?.qosClass, 'Guaranteed');
    await waitFor(async () => (await logsOf(a, 'limits', 'main')) === '1000\nro\n67108864\n50000\n512\n', { timeoutMs: 10_000, what: 'uid, read-only root, memory limit, cpu quota and shares seen from inside' });
    const cgroup = `/sys/fs/cgroup/memory${a.dirs.cgroupRoot}/kubepods/pod${p.metadata.uid}`;
    t.ok(await stat(cgroup).then((s) => s.isDirectory()), 'pod cgroup under the Guaranteed QoS parent');
    const oom = await waitPod(a, 'oom', (p) => p.status?.phase === 'Failed', 'Failed');
    t.equal(cs(oom, 'main').state.terminated?.reason, 'OOMKilled');
    t.equal(cs(oom, 'main').state.terminated?.exitCode, 137);
  });

  await t.test('a host-network pod: the node IP is its IP, it sees the node network', async (t) => {
    const p = await waitPod(a, 'hostnet', (p) => p.status?.phase === 'Running', 'running');
    t.equal(p.status?.podIP, '127.0.0.1', 'pod IP is the node IP (--node-ip)');
    t.equal(p.status?.hostIP, '127.0.0.1');
    await waitFor(async () => (await logsOf(a, 'hostnet', 'main')) === '1\n', { timeoutMs: 10_000, what: 'the rig bridge (only in the node network namespace) seen from inside' });
  });

  await t.test('image pull errors: ErrImagePull, then ImagePullBackOff', async (t) => {
    const seen = new Set<string>();
    await waitPod(a, 'bad-image', (p) => {
      const r = cs(p, 'main').state.waiting?.reason;
      if (r) seen.add(r);
      return seen.has('ErrImagePull') && seen.has('ImagePullBackOff');
    }, 'both reasons seen');
    const p = (await a.pods()).find((x) => x.metadata.name === `bad-image-${NODE}`)!;
    t.equal(p.status?.phase, 'Pending');
  });

  await t.test('the HTTP API: PodList, invalid manifests, metrics, healthz', async (t) => {
    const list = (await (await fetch(`${a.url}/pods`)).json()) as { kind: string; apiVersion: string; items: Pod[] };
    t.equal(list.kind, 'PodList');
    t.equal(list.apiVersion, 'v1');
    t.ok(list.items.length >= 18);
    t.notOk(list.items.some((p) => p.metadata.name.startsWith('bad-')  && p.metadata.name !== `bad-image-${NODE}`), 'the invalid manifest runs nothing');
    const manifests = (await (await fetch(`${a.url}/manifests`)).json()) as { items: { path: string; problems: { errors: string[] }[] }[] };
    const bad = manifests.items.find((m) => m.path.endsWith('/bad.yaml'));
    t.same(bad?.problems, [{ document: 1, errors: ['spec.containers[0].image: Required value'] }]);
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    t.match(metrics, /moor_agent_manifest_errors 1/);
    t.match(metrics, /moor_agent_pod_worker_duration_seconds_count\{operation="sync"\} \d+/);
    t.match(metrics, /moor_agent_pod_start_duration_seconds_count [1-9]/);
    t.match(metrics, /moor_agent_pleg_relist_duration_seconds_count [1-9]/);
    t.match(metrics, /moor_agent_running_pods [1-9]/);
    t.match(metrics, /moor_agent_container_restarts_total [1-9]/);
    t.equal((await fetch(`${a.url}/healthz`)).status, 200);
    t.equal((await fetch(`${a.url}/containerLogs/default/nope/main`)).status, 404);
  });

  await t.test('a changed manifest replaces the pod; an explicit uid restarts only the changed container', async (t) => {
    const before = await waitPod(a, 'edit-me', (p) => p.status?.phase === 'Running', 'running');
    await writeManifest(a.dirs, 'edit-me.yaml', podManifest('edit-me', { containers: [{ name: 'main', image: IMAGES.busyboxV2, command: sleeper() }] }));
    const after = await waitPod(a, 'edit-me', (p) => p.metadata.uid !== before.metadata.uid && p.status?.phase === 'Running', 'replaced and running');
    t.equal(cs(after, 'main').image, IMAGES.busyboxV2);
    const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 10_000 });
    t.teardown(() => cri.close());
    await waitFor(async () => (await cri.listPodSandbox({ labelSelector: { [LABEL_POD_UID]: before.metadata.uid } })).length === 0, { timeoutMs: 30_000, what: 'old pod removed from the runtime' });

    const v1 = await waitPod(a, 'fixed-uid', (p) => p.status?.phase === 'Running', 'running');
    await writeManifest(a.dirs, 'fixed-uid.yaml', podManifest('fixed-uid', { containers: [{ name: 'main', image: BB, command: sleeper('echo v2') }] }, { uid: 'fixed-uid-0001' }));
    const v2 = await waitPod(a, 'fixed-uid', (p) => cs(p, 'main').restartCount === 1 && cs(p, 'main').state.running !== undefined, 'container replaced');
    t.equal(v2.metadata.uid, v1.metadata.uid);
    t.equal(v2.status?.podIP, v1.status?.podIP, 'same sandbox');
    await waitFor(async () => (await logsOf(a, 'fixed-uid', 'main')) === 'v2\n', { timeoutMs: 10_000, what: 'new command runs' });
    t.equal(await logsOf(a, 'fixed-uid', 'main', '?previous=true'), 'v1\n', 'previous logs');
  });

  await t.test('removing manifests terminates the pods: PreStop, then the stop signal within the grace period; nothing left', async (t) => {
    await waitPod(a, 'graceful', (p) => p.status?.phase === 'Running', 'graceful running');
    await waitPod(a, 'stubborn', (p) => p.status?.phase === 'Running', 'stubborn running');
    await waitPod(a, 'http-hook', ready, 'http-hook ready');
    const shared = (await a.pods()).find((p) => p.metadata.name === `shared-${NODE}`)!;
    const started = Date.now();
    for (const f of await readdir(a.dirs.manifests)) await rm(`${a.dirs.manifests}/${f}`);
    const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 10_000 });
    t.teardown(() => cri.close());
    await waitFor(async () => (await cri.listPodSandbox()).length === 0 && (await cri.listContainers()).length === 0, { timeoutMs: 60_000, what: 'every sandbox and container removed' });
    const elapsed = Date.now() - started;
    t.equal(await readFile(`${hostDir}/events`, 'utf8'), 'prestop\nterm\n', 'PreStop ran, then the container got SIGTERM');
    t.equal(await readFile(`${hostDir}/http-events`, 'utf8'), 'http-prestop\n', 'an httpGet PreStop reached the container');
    t.ok(elapsed >= 2500, `the container ignoring SIGTERM was killed after its grace period (${elapsed} ms)`);
    t.ok(elapsed < 20_000, `within the grace periods (${elapsed} ms)`);
    t.same(await a.pods(), []);
    await waitFor(async () => (await readdir(`${a.dirs.root}/pods`)).length === 0, { timeoutMs: 10_000, what: 'pod directories removed' });
    t.notOk((await listMountPoints()).some((m) => m.startsWith(a.dirs.root)), 'no tmpfs left');
    await t.rejects(stat(`${a.dirs.logs}/default_shared-${NODE}_${shared.metadata.uid}`), { code: 'ENOENT' }, 'pod log directory removed');
    t.same(await readdir(a.dirs.logs), []);
  });
});
