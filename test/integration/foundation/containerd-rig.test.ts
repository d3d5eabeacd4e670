// The containerd rig leaves nothing behind: not after a normal stop with a pod running, and not
// after containerd was SIGKILLed under a running pod (the forceful path: runc root, shims, mounts).
import t from 'tap';
import { readFile, readdir, access } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { startContainerdRig, IMAGES, type ContainerdRig } from '../../helpers/containerd-rig.ts';
import { createCriClient } from '../../../agent/cri/client.ts';

const run = promisify(execFile);
const skip = process.getuid?.() === 0 ? false : 'needs root';

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Everything of the rig's that could outlive it, counted. */
async function leftovers(rig: ContainerdRig): Promise<Record<string, number>> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(rig.stateDir) || l.includes(`/moor-test/${rig.name}/`)).length;
  let shims = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0').includes(rig.socketPath)) shims++;
  }
  const bridge = (await run('ip', ['-o', 'link', 'show', 'dev', rig.bridgeName]).then(() => 1, () => 0));
  const dirs = Number(await exists(rig.stateDir)) + Number(await exists(rig.rootDir));
  return { mounts, processes: shims, bridge, dirs };
}

async function runPod(rig: ContainerdRig, name: string): Promise<{ ip: string; containerPid: number; shimSocket: string }> {
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 30000 });
  try {
    await cri.pullImage(IMAGES.busybox);
    const sandboxConfig = { metadata: { name, uid: `uid-${name}`, namespace: 'rig-test', attempt: 0 }, hostname: name };
    const sandboxId = await cri.runPodSandbox(sandboxConfig);
    const containerId = await cri.createContainer(sandboxId, { metadata: { name: 'sleep', attempt: 0 }, image: { image: IMAGES.busybox }, command: ['sleep', '3600'] }, sandboxConfig);
    await cri.startContainer(containerId);
    const status = await cri.podSandboxStatus(sandboxId);
    const info = await cri.containerStatus(containerId, { verbose: true });
    const pid = Number(JSON.parse(info.info.info ?? '{}').pid ?? 0);
    // The runc v2 shim of a sandbox listens on /run/containerd/s/sha256("<address>/<namespace>/<sandbox id>").
    const shimSocket = `/run/containerd/s/${createHash('sha256').update(`${rig.socketPath}/k8s.io/${sandboxId}`).digest('hex')}`;
    return { ip: status.ip, containerPid: pid, shimSocket };
  } finally {
    cri.close();
  }
}

t.test('stop with a pod running removes the pod, its network and every directory', { skip, timeout: 120000 }, async (t) => {
  const rig = await startContainerdRig();
  t.teardown(() => rig.stop());
  const pod = await runPod(rig, 'graceful');
  t.ok(pod.ip.startsWith(rig.podSubnet.split('.').slice(0, 3).join('.') + '.'), `pod ip ${pod.ip} in ${rig.podSubnet}`);
  t.equal((await leftovers(rig)).bridge, 1, 'the rig network bridge exists while a pod runs');
  await rig.stop();
  t.same(await leftovers(rig), { mounts: 0, processes: 0, bridge: 0, dirs: 0 });
  if (pod.containerPid > 0) t.notOk(await exists(`/proc/${pod.containerPid}`), 'the container process is gone');
  t.notOk(await exists(pod.shimSocket), 'the killed shim left no socket in /run/containerd/s');
});

t.test('stop after containerd was SIGKILLed under a running pod still cleans everything', { skip, timeout: 120000 }, async (t) => {
  const rig = await startContainerdRig();
  t.teardown(() => rig.stop());
  const pod = await runPod(rig, 'forceful');
  await rig.kill();
  t.ok((await leftovers(rig)).processes > 0, 'the shim outlives containerd');
  t.ok(await exists(pod.shimSocket), 'the shim socket exists while the shim runs');
  await rig.stop();
  t.same(await leftovers(rig), { mounts: 0, processes: 0, bridge: 0, dirs: 0 });
  if (pod.containerPid > 0) t.notOk(await exists(`/proc/${pod.containerPid}`), 'the container process is gone');
  t.notOk(await exists(pod.shimSocket), 'the killed shim left no socket in /run/containerd/s');
});
