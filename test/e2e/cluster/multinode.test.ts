// Three nodes, each a network namespace with its own containerd and `moor agent`, joined to one
// `moor server` (test/helpers/multinode.ts), driven with kubectl: nodes Ready with distinct pod
// CIDRs; a Deployment spread over the nodes; a pod on one node reaches a pod on another by pod IP and
// the server side sees the client's pod IP; the test runner reaches pods on every node; a node's agent
// SIGKILLed -> Ready=Unknown, its pods deleted after the (short) default toleration and replaced on the
// other nodes; the agent back -> Ready, the deleted pods gone. The server runs with a 10 s grace
// period and 5 s default tolerations (--node-monitor-grace-period, --default-*-toleration-seconds).
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '../../../common/wait.ts';
import { IMAGES } from '../../../common/images.ts';
import { REPO, SIM, startMultiNodeCluster, type MultiNodeCluster } from '../../helpers/multinode.ts';

const run = promisify(execFile);
const skip = process.getuid?.() === 0 ? false : 'needs root';
const NODES = 3;
const REPLICAS = 2 * NODES;
const GRACE_S = 10;
const TOLERATION_S = 5;

interface PodView {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string; tolerations?: { key?: string; effect?: string; tolerationSeconds?: number }[] };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}
interface NodeView {
  metadata: { name: string };
  spec: { podCIDR?: string; taints?: { key: string; effect: string }[] };
  status: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] };
}

const isReady = (p: PodView): boolean =>
  p.metadata.deletionTimestamp === undefined && p.status.phase === 'Running' && p.status.podIP !== undefined &&
  (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** busybox httpd listens on an IPv6 socket: REMOTE_ADDR reads [::ffff:10.240.1.5]. */
const unmap = (addr: string): string => addr.trim().replace(/^\[?(?:::ffff:)?([^\]]+)\]?$/, '$1');

/** Is ip inside cidr (IPv4)? */
function inCidr(ip: string, cidr: string): boolean {
  const toInt = (a: string): number => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const [net, bits] = cidr.split('/');
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(net!) & mask) >>> 0);
}

t.test('multi-node cluster: spread, pod to pod across nodes, node loss and return', { skip, timeout: 300_000 }, async (t) => {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (name: string): void => {
    timings[name] = Date.now() - mark;
    mark = Date.now();
  };
  // Moor's images in the local registry (the suite has it up already; images.sh is idempotent).
  const reg = await run('bash', ['scripts/registry.sh', 'start'], { cwd: REPO });
  if (reg.stdout.trim() === 'started') t.teardown(() => run('bash', ['scripts/registry.sh', 'stop'], { cwd: REPO }).then(() => undefined));
  await run('bash', ['scripts/images.sh'], { cwd: REPO, timeout: 120_000 });
  lap('images');

  const cluster: MultiNodeCluster = await startMultiNodeCluster({
    nodes: NODES,
    serverArgs: ['--node-monitor-grace-period', `${GRACE_S}s`, '--node-monitor-period', '1s',
      '--default-not-ready-toleration-seconds', String(TOLERATION_S), '--default-unreachable-toleration-seconds', String(TOLERATION_S)],
    log: (l) => t.comment(l),
    // MOOR_MULTINODE_LOGS=DIR keeps every component's log for a look after the run.
    ...(process.env.MOOR_MULTINODE_LOGS !== undefined ? { keepLogsDir: process.env.MOOR_MULTINODE_LOGS } : {}),
  });
  t.teardown(() => cluster.teardown().then(() => undefined));
  lap('bringUp');
  t.comment(`bring-up phases (ms): ${JSON.stringify(cluster.timings)}`);
  const kubectl = (...args: string[]): Promise<string> => cluster.kubectl(args);
  const nodeViews = async (): Promise<NodeView[]> => (JSON.parse(await kubectl('get', 'nodes', '-o', 'json')) as { items: NodeView[] }).items;
  const readyOf = (n: NodeView | undefined): string => (n?.status.conditions ?? []).find((c) => c.type === 'Ready')?.status ?? 'missing';
  const pods = async (selector = 'app=mn-web'): Promise<PodView[]> =>
    (JSON.parse(await kubectl('get', 'pods', '-l', selector, '-o', 'json')) as { items: PodView[] }).items;

  await t.test('nodes Ready with distinct pod CIDRs in the cluster CIDR and their own InternalIP', async (t) => {
    const nodes = await nodeViews();
    t.equal(nodes.length, NODES, `${NODES} nodes`);
    for (const sim of cluster.nodes) {
      const n = nodes.find((x) => x.metadata.name === sim.name);
      t.equal(readyOf(n), 'True', `${sim.name} Ready`);
      t.ok(n?.spec.podCIDR !== undefined && inCidr(n.spec.podCIDR.split('/')[0]!, SIM.clusterCidr) && n.spec.podCIDR.endsWith('/24'), `${sim.name} pod CIDR ${n?.spec.podCIDR} is a /24 of ${SIM.clusterCidr}`);
      t.same(n?.status.addresses?.find((a) => a.type === 'InternalIP')?.address, sim.ip, `${sim.name} InternalIP ${sim.ip}`);
    }
    t.equal(new Set(nodes.map((n) => n.spec.podCIDR)).size, NODES, 'pod CIDRs are distinct');
  });

  const serverPods = new Map<string, PodView>();
  await t.test(`a Deployment of ${REPLICAS} replicas spreads over the nodes`, async (t) => {
    await cluster.kubectl(['apply', '-f', '-'], { stdin: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: mn-web
  namespace: default
spec:
  replicas: ${REPLICAS}
  selector:
    matchLabels: { app: mn-web }
  template:
    metadata:
      labels: { app: mn-web }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: ${IMAGES.busybox}
        # /cgi-bin/ip answers with the client's address as this server sees it (REMOTE_ADDR).
        command: ["sh", "-c"]
        args:
        - |
          mkdir -p /www/cgi-bin
          hostname > /www/index.html
          cat > /www/cgi-bin/ip <<'EOS'
          #!/bin/sh
          printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$REMOTE_ADDR"
          EOS
          chmod +x /www/cgi-bin/ip
          exec httpd -f -p 8080 -h /www
        readinessProbe:
          httpGet: { path: /index.html, port: 8080 }
          periodSeconds: 1
` });
    const ready = await waitFor(async () => {
      const all = await pods();
      const r = all.filter(isReady);
      return all.length === REPLICAS && r.length === REPLICAS ? r : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500, what: `${REPLICAS} pods Running and Ready` });
    lap('deploy');
    if (timings.deploy! > 30_000) t.comment(`slow start (${timings.deploy} ms); events:\n${await kubectl('get', 'events', '--sort-by=.lastTimestamp')}`);
    const perNode = new Map(cluster.nodes.map((n) => [n.name, 0]));
    for (const p of ready) {
      const node = cluster.nodes.find((n) => n.name === p.spec.nodeName);
      t.ok(node !== undefined, `pod ${p.metadata.name} on a cluster node (${p.spec.nodeName})`);
      if (node === undefined) continue;
      perNode.set(node.name, (perNode.get(node.name) ?? 0) + 1);
      t.ok(inCidr(p.status.podIP!, node.podCidr), `pod ${p.metadata.name} IP ${p.status.podIP} in ${node.name}'s ${node.podCidr}`);
      if (!serverPods.has(node.name)) serverPods.set(node.name, p);
    }
    const counts = [...perNode.values()];
    t.comment(`pods per node: ${JSON.stringify(Object.fromEntries(perNode))}`);
    t.ok(counts.every((c) => c > 0), 'every node runs some of them');
    t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `spread evenly (counts ${counts.join(', ')})`);
    const tolerations = ready[0]!.spec.tolerations ?? [];
    t.equal(tolerations.find((x) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoExecute')?.tolerationSeconds, TOLERATION_S,
      `default unreachable toleration is the server flag's ${TOLERATION_S} s`);
  });

  await t.test('the test runner reaches pods on every node by pod IP', async (t) => {
    for (const [node, p] of serverPods) {
      const base = `http://${p.status.podIP}:8080`;
      const body = await (await fetch(`${base}/index.html`, { signal: AbortSignal.timeout(5000) })).text();
      t.equal(body.trim(), p.metadata.name, `${node}: pod ${p.metadata.name} answers`);
      const seen = await (await fetch(`${base}/cgi-bin/ip`, { signal: AbortSignal.timeout(5000) })).text();
      t.equal(unmap(seen), SIM.gateway, `${node}: the pod sees the runner as ${SIM.gateway}`);
    }
    lap('runnerToPods');
  });

  const [clientNode, serverNode, victimNode] = cluster.nodes;
  await t.test('a pod on one node reaches a pod on another by pod IP, which sees the client\'s pod IP', async (t) => {
    const target = serverPods.get(serverNode!.name)!;
    await cluster.kubectl(['apply', '-f', '-'], { stdin: `apiVersion: v1
kind: Pod
metadata:
  name: mn-client
  namespace: default
  labels: { app: mn-client }
spec:
  nodeName: ${clientNode!.name}
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ${IMAGES.busybox}
    # busybox-static's wget crashes here (static getaddrinfo): plain HTTP/1.0 through nc.
    command: ["sh", "-c"]
    args:
    - |
      for i in $(seq 1 40); do
        if printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${target.status.podIP} 8080 > /tmp/reply && grep -q '200 OK' /tmp/reply; then
          echo "seen=$(tail -n 1 /tmp/reply)"
          break
        fi
        sleep 0.5
      done
      exec sleep 3600
` });
    const logs = await waitFor(async () => {
      const out = await kubectl('logs', 'mn-client');
      return /seen=\S+/.test(out) ? out : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'mn-client to print what the server saw' });
    const client = (await pods('app=mn-client'))[0]!;
    const seen = unmap(/seen=(\S+)/.exec(logs)![1]!);
    t.ok(client.status.podIP !== undefined && inCidr(client.status.podIP, clientNode!.podCidr), `client pod IP ${client.status.podIP} in ${clientNode!.name}'s ${clientNode!.podCidr}`);
    t.equal(seen, client.status.podIP, `the pod on ${serverNode!.name} saw the client's pod IP (${seen}), not the node IP ${clientNode!.ip}`);
    await kubectl('delete', 'pod', 'mn-client', '--wait=false');
    lap('podToPod');
  });

  await t.test(`${victimNode!.name}'s agent killed: Ready=Unknown, its pods deleted and replaced elsewhere; back: Ready`, async (t) => {
    const before = (await pods()).filter((p) => p.spec.nodeName === victimNode!.name).map((p) => p.metadata.name);
    t.ok(before.length > 0, `${victimNode!.name} runs ${before.length} pods`);
    const killedAt = Date.now();
    await victimNode!.killAgent('SIGKILL');
    const status = await waitFor(async () => {
      const s = readyOf((await nodeViews()).find((n) => n.metadata.name === victimNode!.name));
      return s !== 'True' ? s : undefined;
    }, { timeoutMs: (GRACE_S + 30) * 1000, intervalMs: 500, what: `${victimNode!.name} not Ready` });
    timings.unknownAfterKill = Date.now() - killedAt;
    t.equal(status, 'Unknown', `Ready=Unknown after ${timings.unknownAfterKill} ms (grace ${GRACE_S} s)`);
    // The grace counts from the last heartbeat the server saw: up to one status period (2 s) before the kill.
    t.ok(timings.unknownAfterKill >= GRACE_S * 1000 - 3000, 'not before the grace period');

    const replaced = await waitFor(async () => {
      const all = await pods();
      const victims = all.filter((p) => before.includes(p.metadata.name));
      if (!victims.every((p) => p.metadata.deletionTimestamp !== undefined)) return undefined;
      const live = all.filter(isReady);
      return live.length === REPLICAS && live.every((p) => p.spec.nodeName !== victimNode!.name) ? live : undefined;
    }, { timeoutMs: (TOLERATION_S + 60) * 1000, intervalMs: 500, what: `${victimNode!.name}'s pods deleted and ${REPLICAS} Ready elsewhere` });
    timings.replacedAfterKill = Date.now() - killedAt;
    t.pass(`its ${before.length} pods deleted and ${REPLICAS} Ready on the other nodes ${timings.replacedAfterKill} ms after the kill`);
    t.same([...new Set(replaced.map((p) => p.spec.nodeName))].sort(), cluster.nodes.filter((n) => n !== victimNode).map((n) => n.name).sort(), 'replacements on the remaining nodes');
    const node = (await nodeViews()).find((n) => n.metadata.name === victimNode!.name);
    t.ok((node?.spec.taints ?? []).some((x) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoExecute'), 'the node carries the unreachable NoExecute taint');

    const restartedAt = Date.now();
    await victimNode!.startAgent();
    await waitFor(async () => readyOf((await nodeViews()).find((n) => n.metadata.name === victimNode!.name)) === 'True',
      { timeoutMs: 60_000, intervalMs: 500, what: `${victimNode!.name} Ready again` });
    timings.readyAgain = Date.now() - restartedAt;
    t.pass(`${victimNode!.name} Ready again ${timings.readyAgain} ms after the agent started`);
    // The returned agent finishes the graceful deletions of its evicted pods.
    await waitFor(async () => (await pods()).every((p) => !before.includes(p.metadata.name)), { timeoutMs: 60_000, intervalMs: 500, what: `${victimNode!.name}'s deleted pods gone` });
    t.pass('the deleted pods are gone');
    const untainted = await waitFor(async () => {
      const n = (await nodeViews()).find((x) => x.metadata.name === victimNode!.name);
      return (n?.spec.taints ?? []).every((x) => !x.key.startsWith('node.kubernetes.io/unreachable')) ? n : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500, what: `${victimNode!.name} untainted` });
    t.ok(untainted, 'the unreachable taint is gone');
    lap('nodeLoss');
  });

  await t.test('teardown leaves nothing behind', async (t) => {
    const { ms } = await cluster.teardown();
    timings.teardown = ms;
    t.pass(`torn down in ${ms} ms, leftover scan clean`);
  });
  timings.total = Date.now() - t0;
  t.comment(`timings (ms): ${JSON.stringify(timings)}`);
});
