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
import { flagsFor, makeDirs, NODE, startAgentProcess } from './harness.ts';

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

  const agent = await startAgentProcess(t, flagsFor(rig, dirs, { kubeconfig: nodeKubeconfig, 'node-status-update-frequency': '2s', 'cni-conf-dir': `${dirs.base}/cni-conf` }), { logFile: `${dirs.base}/agent.log` });
  t.teardown(() => {
    if (agent.child.exitCode === null) agent.child.kill('SIGTERM');
  });

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
  await kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
  const running = await waitFor(async () => {
    const p = JSON.parse(await kubectl(['get', 'pod', 'web', '-o', 'json'])) as any;
    return p.status?.phase === 'Running' && p.status?.podIP ? p : undefined;
  }, { timeoutMs: 45_000, intervalMs: 250, what: 'pod web Running' }) as any;
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

  // Deletion finishes: the object goes and the runtime has nothing of the pod left.
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 10_000 });
  t.teardown(() => cri.close());
  const selector = { labelSelector: { 'io.kubernetes.pod.uid': uid } };
  t.ok((await cri.listContainers(selector)).length > 0, 'containers in the runtime before the delete');
  const deleted = Date.now();
  await kubectl(['delete', 'pod', 'web', '--grace-period=2', '--wait=false']);
  await waitFor(async () => {
    const out = await kubectl(['get', 'pods', '-o', 'json']);
    return (JSON.parse(out) as { items: unknown[] }).items.length === 0 ? true : undefined;
  }, { timeoutMs: 20_000, intervalMs: 250, what: 'pod web gone' });
  const deleteMs = Date.now() - deleted;
  t.ok(deleteMs >= 2000 && deleteMs < 15_000, `deletion took ${deleteMs} ms: the 2 s grace period, not the spec's 60 s`);
  t.same(await cri.listContainers(selector), [], 'no container of the pod left');
  t.same(await cri.listPodSandbox(selector), [], 'no sandbox of the pod left');

  // The lease was renewed meanwhile (every 10 s).
  const renewed = await waitFor(async () => {
    const l = JSON.parse(await kubectl(['get', 'lease', '-n', 'kube-node-lease', NODE, '-o', 'json'])) as any;
    return l.spec.renewTime !== firstLease.spec.renewTime ? l : undefined;
  }, { timeoutMs: 15_000, intervalMs: 500, what: 'lease renewed' }) as any;
  t.ok(Date.parse(renewed.spec.renewTime) > Date.parse(firstLease.spec.renewTime), 'renewTime moved forward');
});
