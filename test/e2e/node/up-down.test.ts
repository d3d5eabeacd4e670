// The README's main command end to end: scripts/up.sh brings up a node (local registry, Moor's own
// containerd, moor-bridge, moor server, moor agent joined to it) that runs the pods of its manifest
// directory and the pods kubectl asks for, reachable on their pod IPs; a second up.sh changes
// nothing; scripts/down.sh --purge leaves nothing behind.
// The node runs in directories, a bridge, a subnet and a port of this test's own (MOOR_* variables).
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, writeFile, rm, access } from 'node:fs/promises';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../../common/wait.ts';
import { IMAGES } from '../../../common/images.ts';

const run = promisify(execFile);
const repo = new URL('../../..', import.meta.url).pathname;
const skip = process.getuid?.() === 0 ? false : 'needs root';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);
const alive = (pid: number): Promise<boolean> => exists(`/proc/${pid}`);

interface PodView {
  metadata: { name: string };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

t.test('up.sh runs the manifest directory\'s pods; down.sh --purge leaves nothing', { skip, timeout: 600000 }, async (t) => {
  const id = randomBytes(2).toString('hex');
  const base = await mkdtemp(join(tmpdir(), 'moor-e2e-node-'));
  const third = 100 + (randomBytes(1)[0] % 100);
  const podCidr = `10.198.${third}.0/24`;
  const agentPort = await freePort();
  const serverPort = await freePort();
  const nodeName = `moor-e2e-${id}`;
  const env = {
    ...process.env,
    MOOR_STATE_DIR: `${base}/state`,
    MOOR_RUN_DIR: `/run/moor-e2e-${id}`,
    MOOR_ETC_DIR: `${base}/etc`,
    MOOR_CNI_BIN_DIR: `${base}/cni-bin`,
    MOOR_LOG_DIR: `${base}/log`,
    MOOR_POD_LOGS_DIR: `${base}/pod-logs`,
    MOOR_BRIDGE: `mup-${id}`,
    // A cluster CIDR of one /24: the node IPAM controller gives the node exactly podCidr.
    MOOR_CLUSTER_CIDR: podCidr,
    MOOR_AGENT_PORT: String(agentPort),
    MOOR_SERVER_PORT: String(serverPort),
    MOOR_NODE_NAME: nodeName,
    MOOR_LINK_CLI: '0',
  };
  const down = () => run('bash', ['scripts/down.sh', '--purge'], { cwd: repo, env });
  t.teardown(async () => {
    await down().catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  const up = await run('bash', ['scripts/up.sh'], { cwd: repo, env, timeout: 300000 });
  t.match(up.stderr, /containerd started/);
  t.match(up.stderr, /agent started/);
  t.match(up.stderr, /server started/);
  t.match(up.stderr, new RegExp(`node ${nodeName} Ready`));
  const containerdPid = Number((await run('cat', [`${env.MOOR_RUN_DIR}/containerd.pid`])).stdout);
  const agentPid = Number((await run('cat', [`${env.MOOR_RUN_DIR}/agent.pid`])).stdout);
  const serverPid = Number((await run('cat', [`${env.MOOR_RUN_DIR}/server.pid`])).stdout);
  const serverDir = `${env.MOOR_STATE_DIR}/server`;
  const kubectl = async (...args: string[]): Promise<string> => (await run('kubectl', ['--kubeconfig', `${serverDir}/admin.kubeconfig`, ...args], { timeout: 60000 })).stdout;
  t.match(await kubectl('get', 'nodes'), new RegExp(`${nodeName}\\s+Ready`), 'kubectl sees the node Ready');
  // The agent's API is HTTPS once joined, for holders of a cluster-signed client certificate.
  const agentPods = async (): Promise<{ items: PodView[] }> =>
    JSON.parse((await run('curl', ['-fsS', '-k', '--cert', `${serverDir}/pki/apiserver-kubelet-client.crt`, '--key', `${serverDir}/pki/apiserver-kubelet-client.key`, `https://127.0.0.1:${agentPort}/pods`])).stdout) as { items: PodView[] };

  await writeFile(
    `${env.MOOR_ETC_DIR}/manifests/web.yaml`,
    `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
spec:
  containers:
  - name: httpd
    image: ${IMAGES.busybox}
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-moor > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      tcpSocket: { port: 8080 }
      periodSeconds: 1
`,
  );
  const pod = await waitFor(
    async () => {
      const list = await agentPods();
      const web = list.items.find((p) => p.metadata.name.startsWith('web'));
      const ready = web?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return web !== undefined && web.status.phase === 'Running' && ready ? web : undefined;
    },
    { timeoutMs: 90000, intervalMs: 250, what: 'pod web Running and Ready' },
  );
  const podIp = pod.status.podIP ?? '';
  t.match(podIp, new RegExp(`^10\\.198\\.${third}\\.\\d+$`), `pod IP ${podIp} in ${podCidr}`);
  const body = await (await fetch(`http://${podIp}:8080/index.html`)).text();
  t.equal(body.trim(), 'hello-from-moor', 'the pod answers on its pod IP from the host');
  const nat = (await run('iptables-save', ['-t', 'nat'])).stdout;
  t.ok(nat.includes(`net=moor-mup-${id}`), 'the pod has its masquerade rules');

  // A pod through the control plane: kubectl -> server -> scheduler -> this node's agent.
  await kubectl('create', 'deployment', 'hello', `--image=${IMAGES.busybox}`, '--replicas=2', '--', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www');
  const ips = await waitFor(
    async () => {
      const pods = JSON.parse(await kubectl('get', 'pods', '-l', 'app=hello', '-o', 'json')) as { items: PodView[] };
      const running = pods.items.filter((p) => p.status.phase === 'Running' && p.status.podIP);
      return running.length === 2 ? running.map((p) => p.status.podIP ?? '') : undefined;
    },
    { timeoutMs: 90000, intervalMs: 500, what: 'deployment hello: 2 pods Running' },
  );
  for (const ip of ips) {
    t.match(ip, new RegExp(`^10\\.198\\.${third}\\.\\d+$`), `deployment pod IP ${ip} in ${podCidr}`);
    t.match(await (await fetch(`http://${ip}:8080/index.html`)).text(), /hello-/, `pod ${ip} answers`);
  }
  await kubectl('delete', 'deployment', 'hello');
  await waitFor(async () => (await kubectl('get', 'pods', '-l', 'app=hello', '-o', 'name')).trim() === '', { timeoutMs: 90000, intervalMs: 500, what: 'deployment hello pods gone' });

  const again = await run('bash', ['scripts/up.sh'], { cwd: repo, env, timeout: 300000 });
  t.match(again.stderr, /containerd already running/);
  t.match(again.stderr, /agent already running/);
  t.match(again.stderr, /server already running/);
  t.ok(await alive(agentPid), 'the same agent still runs');

  await down();
  t.notOk(await alive(agentPid), 'agent stopped');
  t.notOk(await alive(containerdPid), 'containerd stopped');
  t.notOk(await alive(serverPid), 'server stopped');
  const bridges = (await run('ip', ['-o', 'link', 'show', 'type', 'bridge'])).stdout;
  t.notOk(bridges.includes(`mup-${id}`), 'bridge removed');
  t.notOk((await run('iptables-save', ['-t', 'nat'])).stdout.includes(`net=moor-mup-${id}`), 'no NAT rule left');
  const veths = (await run('ip', ['-o', 'link', 'show', 'type', 'veth'])).stdout;
  t.notOk(veths.includes(`mup-${id}`), 'no veth left on the bridge');
  for (const dir of [env.MOOR_RUN_DIR, env.MOOR_ETC_DIR, env.MOOR_CNI_BIN_DIR, `${env.MOOR_STATE_DIR}/containerd`, `${env.MOOR_STATE_DIR}/cni`, `${env.MOOR_STATE_DIR}/agent`, serverDir]) {
    t.notOk(await exists(dir), `${dir} removed`);
  }
  t.notOk(await exists(`/var/lib/cni/networks/moor-mup-${id}`), 'the network\'s IPAM directory removed');
  const mounts = (await run('cat', ['/proc/self/mounts'])).stdout;
  t.notOk(mounts.includes(base) || mounts.includes(env.MOOR_RUN_DIR), 'nothing mounted below the node dirs');
});
