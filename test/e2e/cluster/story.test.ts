// The user's story on one node, kubectl as the user would drive it: a Deployment of busybox httpd with
// a readiness probe, scaled, rolled to a second image and back, behind a Service, its logs; a pod
// nobody can schedule; the agent killed (node NotReady within 50 s) and started again (no container
// restarted); the Deployment deleted (ReplicaSets, pods and the node's reserved IPs gone).
// The node runs in directories, a bridge, a subnet and ports of this test's own (MOOR_* variables).
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, writeFile, rm, readFile, readdir, open } from 'node:fs/promises';
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

interface ContainerStatus { name: string; containerID?: string; restartCount: number; image?: string }
interface PodView {
  metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { containers: { image: string }[] };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: ContainerStatus[] };
}
interface NodeView { status: { conditions?: { type: string; status: string; reason?: string }[] } }

const isReady = (p: PodView): boolean =>
  p.metadata.deletionTimestamp === undefined && p.status.phase === 'Running' && p.status.podIP !== undefined &&
  (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

t.test('deployment story on one node: scale, rollout and undo, service, logs, scheduling, agent loss, deletion', { skip, timeout: 420000 }, async (t) => {
  const id = randomBytes(2).toString('hex');
  const base = await mkdtemp(join(tmpdir(), 'moor-e2e-story-'));
  const third = 100 + (randomBytes(1)[0] % 100);
  const podCidr = `10.197.${third}.0/24`;
  const inCidr = new RegExp(`^10\\.197\\.${third}\\.\\d+$`);
  const agentPort = await freePort();
  const serverPort = await freePort();
  const nodeName = `moor-story-${id}`;
  const bridge = `mst-${id}`;
  const runDir = `/run/moor-story-${id}`;
  const env = {
    ...process.env,
    MOOR_STATE_DIR: `${base}/state`,
    MOOR_RUN_DIR: runDir,
    MOOR_ETC_DIR: `${base}/etc`,
    MOOR_CNI_BIN_DIR: `${base}/cni-bin`,
    MOOR_LOG_DIR: `${base}/log`,
    MOOR_POD_LOGS_DIR: `${base}/pod-logs`,
    MOOR_BRIDGE: bridge,
    // A cluster CIDR of one /24: the node IPAM controller gives the node exactly podCidr.
    MOOR_CLUSTER_CIDR: podCidr,
    MOOR_AGENT_PORT: String(agentPort),
    MOOR_SERVER_PORT: String(serverPort),
    MOOR_NODE_NAME: nodeName,
    MOOR_LINK_CLI: '0',
  };
  t.teardown(async () => {
    await run('bash', ['scripts/down.sh', '--purge'], { cwd: repo, env, timeout: 120000 }).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (name: string): void => {
    const now = Date.now();
    timings[name] = now - mark;
    mark = now;
  };

  await run('bash', ['scripts/up.sh'], { cwd: repo, env, timeout: 300000 });
  lap('up');
  const kubeconfig = `${env.MOOR_STATE_DIR}/server/admin.kubeconfig`;
  const kubectl = async (...args: string[]): Promise<string> =>
    (await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 150000 })).stdout;
  const kubectlIn = async (stdin: string, ...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 60000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout));
      child.stdin?.end(stdin);
    });
  const pods = async (): Promise<PodView[]> =>
    (JSON.parse(await kubectl('get', 'pods', '-l', 'app=story', '-o', 'json')) as { items: PodView[] }).items;
  const readyPods = async (n: number, image?: string): Promise<PodView[] | undefined> => {
    const all = await pods();
    const live = all.filter((p) => p.metadata.deletionTimestamp === undefined);
    const ready = live.filter(isReady);
    if (all.length !== n || ready.length !== n) return undefined;
    if (image !== undefined && !ready.every((p) => p.spec.containers[0].image === image)) return undefined;
    return ready;
  };
  const logLine = `story-started-${id}`;

  await t.test('a 3-replica Deployment: Running and Ready, IPs in the pod CIDR, HTTP from the host', async (t) => {
    await kubectlIn(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: story
  namespace: default
spec:
  replicas: 3
  selector:
    matchLabels: { app: story }
  template:
    metadata:
      labels: { app: story }
    spec:
      # httpd as PID 1 ignores SIGTERM: a short grace keeps scale-down, rollout and deletion quick.
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: ${IMAGES.busybox}
        command: ["sh", "-c", "echo ${logLine}; mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe:
          httpGet: { path: /index.html, port: 8080 }
          periodSeconds: 1
`, 'apply', '-f', '-');
    const ready = await waitFor(() => readyPods(3), { timeoutMs: 90000, intervalMs: 500, what: '3 pods Running and Ready' });
    for (const p of ready) {
      const ip = p.status.podIP ?? '';
      t.match(ip, inCidr, `pod ${p.metadata.name} IP ${ip} in ${podCidr}`);
      const body = await (await fetch(`http://${ip}:8080/index.html`, { signal: AbortSignal.timeout(5000) })).text();
      t.equal(body.trim(), p.metadata.name, `pod ${p.metadata.name} answers HTTP from the host`);
    }
    lap('deploy3');
  });

  await t.test('kubectl scale to 5 and back to 3', async (t) => {
    await kubectl('scale', 'deployment/story', '--replicas=5');
    t.equal((await waitFor(() => readyPods(5), { timeoutMs: 60000, intervalMs: 500, what: '5 pods Ready' })).length, 5, '5 pods Running');
    await kubectl('scale', 'deployment/story', '--replicas=3');
    t.equal((await waitFor(() => readyPods(3), { timeoutMs: 60000, intervalMs: 500, what: 'back to 3 pods' })).length, 3, 'back to 3 pods');
    lap('scale');
  });

  await t.test('set image, rollout status, history, undo', async (t) => {
    await kubectl('set', 'image', 'deployment/story', `httpd=${IMAGES.busyboxV2}`);
    const status = await kubectl('rollout', 'status', 'deployment/story', '--timeout=120s');
    t.match(status, /successfully rolled out/, 'rollout status completes');
    const v2 = await waitFor(() => readyPods(3, IMAGES.busyboxV2), { timeoutMs: 60000, intervalMs: 500, what: '3 pods on busybox 2.0' });
    t.equal(v2.length, 3, '3 pods on busybox 2.0');
    const history = await kubectl('rollout', 'history', 'deployment/story');
    const revisions = history.split('\n').filter((l) => /^\s*\d+\s/.test(l));
    t.equal(revisions.length, 2, `rollout history shows 2 revisions:\n${history}`);
    await kubectl('rollout', 'undo', 'deployment/story');
    await kubectl('rollout', 'status', 'deployment/story', '--timeout=120s');
    const v1 = await waitFor(() => readyPods(3, IMAGES.busybox), { timeoutMs: 90000, intervalMs: 500, what: '3 pods back on busybox 1.0' });
    t.ok(v1.every((p) => p.spec.containers[0].image === IMAGES.busybox), 'pods back on busybox 1.0');
    const statusImages = v1.map((p) => p.status.containerStatuses?.[0]?.image ?? '');
    t.ok(statusImages.every((i) => i.includes('busybox:1.0')), `containers run busybox 1.0: ${statusImages.join(', ')}`);
    lap('rollout');
  });

  await t.test('a Service lists the ready pods as endpoints', async (t) => {
    await kubectlIn(`apiVersion: v1
kind: Service
metadata:
  name: story
  namespace: default
spec:
  selector: { app: story }
  ports:
  - port: 80
    targetPort: 8080
`, 'apply', '-f', '-');
    const want = (await waitFor(() => readyPods(3), { timeoutMs: 30000, intervalMs: 500, what: '3 pods Ready' })).map((p) => p.status.podIP ?? '').sort();
    const got = await waitFor(async () => {
      const ep = JSON.parse(await kubectl('get', 'endpoints', 'story', '-o', 'json')) as { subsets?: { addresses?: { ip: string }[] }[] };
      const ips = (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
      return JSON.stringify(ips) === JSON.stringify(want) ? ips : undefined;
    }, { timeoutMs: 30000, intervalMs: 500, what: `endpoints story = ${want.join(',')}` });
    t.same(got, want, 'endpoints list the ready pod IPs');
    t.match(await kubectl('get', 'endpoints', 'story'), new RegExp(`${want[0].replace(/\./g, '\\.')}:8080`), 'kubectl get endpoints prints them');
    lap('service');
  });

  await t.test('kubectl logs of a pod', async (t) => {
    const [p] = await pods();
    const logs = await kubectl('logs', p.metadata.name);
    t.match(logs, logLine, 'the container\'s output');
    lap('logs');
  });

  await t.test('an unschedulable pod shows FailedScheduling', async (t) => {
    await kubectlIn(`apiVersion: v1
kind: Pod
metadata:
  name: nowhere
  namespace: default
spec:
  nodeSelector: { story: nowhere-${id} }
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ${IMAGES.busybox}
    command: ["sleep", "3600"]
`, 'apply', '-f', '-');
    const events = await waitFor(async () => {
      const out = await kubectl('get', 'events', '--field-selector', 'involvedObject.name=nowhere');
      return /FailedScheduling/.test(out) ? out : undefined;
    }, { timeoutMs: 30000, intervalMs: 500, what: 'FailedScheduling event for pod nowhere' });
    t.match(events, /FailedScheduling/, 'the event is there');
    const pod = JSON.parse(await kubectl('get', 'pod', 'nowhere', '-o', 'json')) as PodView & { spec: { nodeName?: string } };
    t.equal(pod.spec.nodeName, undefined, 'not bound');
    t.equal(pod.status.phase, 'Pending', 'Pending');
    await kubectl('delete', 'pod', 'nowhere', '--wait=false');
    lap('unschedulable');
  });

  await t.test('agent killed: node NotReady within 50 s; started again: Ready, no container restarted', async (t) => {
    const nodeReady = async (): Promise<string> => {
      const n = JSON.parse(await kubectl('get', 'node', nodeName, '-o', 'json')) as NodeView;
      return (n.status.conditions ?? []).find((c) => c.type === 'Ready')?.status ?? 'missing';
    };
    const containers = async (): Promise<string[]> =>
      (await pods()).flatMap((p) => (p.status.containerStatuses ?? []).map((c) => `${p.metadata.name}/${c.containerID}/${c.restartCount}`)).sort();
    const before = await containers();
    t.equal(before.length, 3, '3 containers before');

    const pidFile = `${runDir}/agent.pid`;
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
    t.ok(argv.includes('agent'), `pid ${pid} is the agent: ${argv.join(' ')}`);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await readFile(`/proc/${pid}/stat`, 'utf8').then(() => false, () => true)), { timeoutMs: 10000, what: `agent ${pid} gone` });
    const status = await waitFor(async () => {
      const s = await nodeReady();
      return s !== 'True' ? s : undefined;
    }, { timeoutMs: 70000, intervalMs: 500, what: `node ${nodeName} NotReady` });
    const notReadyMs = Date.now() - killedAt;
    timings.notReady = notReadyMs;
    t.equal(status, 'Unknown', 'Ready=Unknown');
    t.match(await kubectl('get', 'node', nodeName), new RegExp(`${nodeName}\\s+NotReady\\s`), 'kubectl get node prints NotReady');
    t.ok(notReadyMs <= 50000, `node NotReady after ${notReadyMs} ms (≤ 50000)`);

    const logFd = await open(join(base, 'agent-again.log'), 'a');
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', logFd.fd, logFd.fd], env });
    await logFd.close();
    child.unref();
    if (child.pid === undefined) throw new Error('start agent again: no pid');
    // down.sh stops the agent its pid file names.
    await writeFile(pidFile, `${child.pid}\n`);
    const restartedAt = Date.now();
    await waitFor(async () => (await nodeReady()) === 'True', { timeoutMs: 60000, intervalMs: 500, what: `node ${nodeName} Ready again` });
    timings.readyAgain = Date.now() - restartedAt;
    t.pass(`node Ready again after ${timings.readyAgain} ms`);
    const after = await waitFor(async () => {
      const ready = await readyPods(3);
      return ready === undefined ? undefined : containers();
    }, { timeoutMs: 30000, intervalMs: 500, what: '3 pods Ready after the agent returned' });
    t.same(after, before, 'same containers, no restart');
    lap('agent');
  });

  await t.test('delete the Deployment: ReplicaSets, pods and reserved IPs gone', async (t) => {
    await kubectl('delete', 'deployment', 'story');
    await waitFor(async () => (await kubectl('get', 'replicasets', '-l', 'app=story', '-o', 'name')).trim() === '', { timeoutMs: 60000, intervalMs: 500, what: 'replicasets gone' });
    t.pass('replicasets gone');
    await waitFor(async () => (await kubectl('get', 'pods', '-l', 'app=story', '-o', 'name')).trim() === '', { timeoutMs: 60000, intervalMs: 500, what: 'pods gone' });
    t.pass('pods gone');
    const ipamDir = `/var/lib/cni/networks/moor-${bridge}`;
    const isReservation = (f: string): boolean => f !== 'lock' && !f.startsWith('last_reserved_ip');
    const left = await waitFor(async () => {
      const files = (await readdir(ipamDir)).filter(isReservation);
      return files.length === 0 ? files : undefined;
    }, { timeoutMs: 30000, intervalMs: 500, what: `no reserved IP in ${ipamDir}` }).catch(async () => (await readdir(ipamDir)).filter(isReservation));
    t.same(left, [], `no reserved IP left in ${ipamDir}`);
    lap('delete');
  });

  t.comment(`timings (ms): ${JSON.stringify(timings)}`);
});
