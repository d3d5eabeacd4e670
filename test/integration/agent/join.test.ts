// `moor agent --kubeconfig` joined to a real `moor server` (scheduler and controllers on), on the
// containerd rig: the Node is registered and Ready as kubectl shows it, its Lease is renewed, a
// pod applied with kubectl is scheduled here and reported Running with an IP of the rig's subnet,
// and `kubectl delete pod` finishes: the object disappears and its containers leave the runtime.

import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import t from 'tap';
import { parse as parseYaml, stringify } from 'yaml';
import { createCriClient } from '../../../agent/cri/client.ts';
import { waitFor } from '../../../common/wait.ts';
import { startContainerdRig, IMAGES } from '../../helpers/containerd-rig.ts';
import { ServerProcess } from '../controlplane/apiserver/harness.ts';
import { flagsFor, makeDirs, NODE, podManifest, sleeper, startAgentProcess, writeManifest } from './harness.ts';

const run = promisify(execFile);
const skip = process.getuid?.() === 0 ? false : 'needs root (containerd)';

/** Status of a GET on the agent's HTTPS API, presenting no client certificate. */
function httpsStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function inSubnet(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = (a: string): number => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

t.test('the agent joins the server and runs the pods bound to its node', { skip, timeout: 120_000 }, async (t) => {
  const rig = await startContainerdRig();
  t.teardown(() => rig.stop());
  const dirs = await makeDirs(t, rig);
  const server = new ServerProcess({ env: { MOOR_CONTROLPLANE_ARGS: '' } });
  t.teardown(() => server.dispose());
  await server.start();

  // A kubeconfig for the node: the admin one with the node's token instead.
  const kc = parseYaml(await readFile(server.kubeconfig, 'utf8')) as { users: { user: { token: string } }[] };
  kc.users[0].user.token = server.createNodeToken(NODE);
  const nodeKubeconfig = `${dirs.base}/node.kubeconfig`;
  await writeFile(nodeKubeconfig, stringify(kc), { mode: 0o600 });

  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const p = run('kubectl', ['--kubeconfig', server.kubeconfig, ...args], { timeout: 20_000 });
    if (input !== undefined) p.child.stdin!.end(input);
    return (await p).stdout;
  };

  // A static pod keeps running from the manifest directory next to the pods from the server.
  await writeManifest(dirs, 'static.yaml', podManifest('static', { containers: [{ name: 'main', image: IMAGES.busybox, command: sleeper() }] }));
  const flags = flagsFor(rig, dirs, { kubeconfig: nodeKubeconfig, 'node-status-update-frequency': '2s', 'cni-conf-dir': `${dirs.base}/cni-conf` });
  let agent = await startAgentProcess(t, flags, { logFile: `${dirs.base}/agent.log` });

  // The Node, Ready, as kubectl shows it.
  const node = await waitFor(async () => {
    const out = await kubectl(['get', 'node', NODE, '-o', 'json']).catch(() => '');
    if (out === '') return undefined;
    const n = JSON.parse(out) as { status?: { conditions?: { type: string; status: string }[] } };
    return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? n : undefined;
  }, { timeoutMs: 30_000, intervalMs: 250, what: 'node Ready' }) as any;
  t.same(node.status.addresses, [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: NODE }], 'addresses');
  t.equal(node.status.allocatable.pods, '110', 'allocatable pods = max-pods');
  t.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//, 'nodeInfo names the runtime');
  t.equal(node.status.daemonEndpoints.kubeletEndpoint.Port, Number(new URL(agent.url).port), 'daemon endpoint is the agent port');
  for (const type of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) t.equal(node.status.conditions.find((c: any) => c.type === type)?.status, 'False', `${type} False`);
  t.match(await kubectl(['get', 'nodes']), new RegExp(`${NODE}\\s+Ready\\s`), 'kubectl get nodes shows it Ready');
  // The pod CIDR the server's node IPAM gave the node, as a moor-bridge conflist in --cni-conf-dir.
  const podCidr = await waitFor(async () => (JSON.parse(await kubectl(['get', 'node', NODE, '-o', 'json'])) as any).spec?.podCIDR as string | undefined,
    { timeoutMs: 15_000, intervalMs: 250, what: 'node podCIDR' });
  t.match(podCidr, /^10\.244\.\d+\.0\/24$/, 'pod CIDR from 10.244.0.0/16');
  const conflist = await waitFor(async () => {
    const text = await readFile(`${dirs.base}/cni-conf/10-moor.conflist`, 'utf8').catch(() => '');
    return text.includes(podCidr) ? JSON.parse(text) : undefined;
  }, { timeoutMs: 15_000, intervalMs: 250, what: 'conflist for the pod CIDR' }) as any;
  t.equal(conflist.plugins[0].type, 'moor-bridge', 'conflist runs moor-bridge');
  t.same(conflist.plugins[0].ipam.ranges, [[{ subnet: podCidr }]], 'on the node pod CIDR');
  const firstLease = JSON.parse(await kubectl(['get', 'lease', '-n', 'kube-node-lease', NODE, '-o', 'json'])) as any;
  t.equal(firstLease.spec.holderIdentity, NODE, 'lease held by the node');
  t.equal(firstLease.spec.leaseDurationSeconds, 40, 'lease duration');

  // A pod applied with kubectl: scheduled here, Running, with an IP of the rig's network.
  const manifest = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' },
    // It ignores SIGTERM, so only the delete's short grace period ends it quickly.
    spec: { terminationGracePeriodSeconds: 60, containers: [{ name: 'main', image: IMAGES.busybox, command: ['sh', '-c', "echo hello from web; trap '' TERM; sleep 3600 & wait"] }] },
  };
  const applied = Date.now();
  await kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
  const running = await waitFor(async () => {
    const p = JSON.parse(await kubectl(['get', 'pod', 'web', '-o', 'json'])) as any;
    return p.status?.phase === 'Running' && p.status?.podIP ? p : undefined;
  }, { timeoutMs: 45_000, intervalMs: 250, what: 'pod web Running' }) as any;
  t.comment(`kubectl apply to Running with a pod IP (as kubectl sees it): ${Date.now() - applied} ms`);
  t.equal(running.spec.nodeName, NODE, 'bound to the node');
  t.ok(inSubnet(running.status.podIP, rig.podSubnet), `pod IP ${running.status.podIP} in ${rig.podSubnet}`);
  t.equal(running.status.hostIP, '127.0.0.1', 'host IP is the node IP');
  t.equal(running.status.conditions.find((c: any) => c.type === 'Ready')?.status, 'True', 'Ready condition');
  const uid = running.metadata.uid as string;

  // Logs through the server's proxy (HTTPS, client certificate); without a certificate only /healthz answers.
  t.match(await waitFor(async () => {
    const out = await kubectl(['logs', 'web']).catch(() => '');
    return out.includes('hello') ? out : undefined;
  }, { timeoutMs: 10_000, intervalMs: 250, what: 'kubectl logs web' }), 'hello from web', 'kubectl logs through the server');
  const port = Number(new URL(agent.url).port);
  t.equal(await httpsStatus(port, '/healthz'), 200, '/healthz without a client certificate');
  t.equal(await httpsStatus(port, '/pods'), 401, '/pods without a client certificate is refused');

  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 10_000 });
  t.teardown(() => cri.close());
  const runningContainers = async (podName: string): Promise<number> =>
    (await cri.listContainers({ state: 'running', labelSelector: { 'io.kubernetes.pod.name': podName } })).length;
  t.equal(await waitFor(async () => (await runningContainers(`static-${NODE}`)) || undefined, { timeoutMs: 20_000, intervalMs: 250, what: 'static pod running' }), 1, 'the static pod runs');
  const podNames = async (selector?: string): Promise<string[]> =>
    (JSON.parse(await kubectl(['get', 'pods', '-o', 'json', ...(selector ? ['-l', selector] : [])])) as { items: { metadata: { name: string } }[] }).items.map((p) => p.metadata.name);
  await waitFor(async () => (await podNames()).includes(`static-${NODE}`), { timeoutMs: 20_000, intervalMs: 250, what: 'mirror pod of the static pod' });
  t.pass('the static pod shows as a mirror pod (mirror-pods.test.ts has the details)');

  // A Deployment: the controllers make the pods, the scheduler binds them here, the agent runs them.
  const app = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'app' } }, template: { metadata: { labels: { app: 'app' } }, spec: { terminationGracePeriodSeconds: 5, containers: [{ name: 'main', image: IMAGES.busybox, command: sleeper() }] } } },
  };
  await kubectl(['apply', '-f', '-'], JSON.stringify(app));
  const appPods = await waitFor(async () => {
    const items = (JSON.parse(await kubectl(['get', 'pods', '-l', 'app=app', '-o', 'json'])) as { items: any[] }).items;
    return items.length === 2 && items.every((p) => p.status?.phase === 'Running' && p.status?.podIP) ? items : undefined;
  }, { timeoutMs: 30_000, intervalMs: 250, what: 'deployment pods Running' });
  for (const p of appPods) t.ok(inSubnet(p.status.podIP, rig.podSubnet), `${p.metadata.name}: IP ${p.status.podIP} in the rig subnet`);

  // A restarted agent adopts what runs: same containers, no restart, status still written.
  const webContainer = running.status.containerStatuses[0].containerID as string;
  agent.child.kill('SIGTERM');
  t.same(await agent.exited, { code: 0, signal: null }, 'agent stopped');
  agent = await startAgentProcess(t, flags, { logFile: `${dirs.base}/agent.log` });
  const after = JSON.parse(await kubectl(['get', 'pod', 'web', '-o', 'json'])) as any;
  t.equal(after.status.containerStatuses[0].containerID, webContainer, 'web keeps its container');
  t.equal(after.status.containerStatuses[0].restartCount, 0, 'and was not restarted');
  t.equal(await runningContainers('web'), 1, 'one container of web in the runtime');

  // Deletion finishes: the object goes and the runtime has nothing of the pod left.
  const selector = { labelSelector: { 'io.kubernetes.pod.uid': uid } };
  t.ok((await cri.listContainers(selector)).length > 0, 'containers in the runtime before the delete');
  const deleted = Date.now();
  await kubectl(['delete', 'pod', 'web', '--grace-period=2', '--wait=false']);
  await waitFor(async () => !(await podNames()).includes('web'), { timeoutMs: 20_000, intervalMs: 250, what: 'pod web gone' });
  const deleteMs = Date.now() - deleted;
  t.ok(deleteMs >= 2000 && deleteMs < 15_000, `deletion took ${deleteMs} ms: the 2 s grace period, not the spec's 60 s`);
  t.same(await cri.listContainers(selector), [], 'no container of the pod left');
  t.same(await cri.listPodSandbox(selector), [], 'no sandbox of the pod left');

  // Deleting the Deployment: its pods go through the same graceful deletion.
  await kubectl(['delete', 'deployment', 'app', '--wait=false']);
  await waitFor(async () => (await podNames('app=app')).length === 0, { timeoutMs: 30_000, intervalMs: 250, what: 'deployment pods gone' });
  for (const p of appPods) t.same(await cri.listContainers({ labelSelector: { 'io.kubernetes.pod.uid': p.metadata.uid } }), [], `${p.metadata.name}: no container left`);
  t.equal(await runningContainers(`static-${NODE}`), 1, 'the static pod still runs');

  // The lease was renewed meanwhile (every 10 s).
  const renewed = await waitFor(async () => {
    const l = JSON.parse(await kubectl(['get', 'lease', '-n', 'kube-node-lease', NODE, '-o', 'json'])) as any;
    return l.spec.renewTime !== firstLease.spec.renewTime ? l : undefined;
  }, { timeoutMs: 15_000, intervalMs: 500, what: 'lease renewed' }) as any;
  t.ok(Date.parse(renewed.spec.renewTime) > Date.parse(firstLease.spec.renewTime), 'renewTime moved forward');
});

t.test('with the server unreachable the agent starts and runs its static pods', { skip, timeout: 60_000 }, async (t) => {
  const rig = await startContainerdRig();
  t.teardown(() => rig.stop());
  const dirs = await makeDirs(t, rig);
  // Nothing listens on port 1: every request is refused.
  const kubeconfig = { apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: { token: 'x' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }], 'current-context': 'c' };
  await writeFile(`${dirs.base}/node.kubeconfig`, stringify(kubeconfig));
  await writeManifest(dirs, 'static.yaml', podManifest('static', { containers: [{ name: 'main', image: IMAGES.busybox, command: sleeper() }] }));
  const agent = await startAgentProcess(t, flagsFor(rig, dirs, { kubeconfig: `${dirs.base}/node.kubeconfig` }), { logFile: `${dirs.base}/agent.log` });
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 10_000 });
  t.teardown(() => cri.close());
  await waitFor(async () => (await cri.listContainers({ state: 'running', labelSelector: { 'io.kubernetes.pod.name': `static-${NODE}` } })).length === 1, { timeoutMs: 20_000, intervalMs: 250, what: 'static pod running' });
  t.pass('the static pod runs');
  await waitFor(async () => (await agent.logLines()).some((l) => l.msg === 'register node failed; retrying with the node status updates'), { timeoutMs: 30_000, intervalMs: 250, what: 'registration failure logged' });
  t.pass('the failed registration is logged');
  t.notOk((await agent.logLines()).some((l) => l.msg === 'joined the control plane'), 'not joined');
});
