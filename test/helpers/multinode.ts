// A multi-node Moor cluster on one machine, for end-to-end tests (shared/reference/multinode-sim.md).
// Each node is a network namespace with a veth "NIC" on the underlay bridge mnul0 (172.31.250.0/24,
// fixed MACs), its own containerd and its own `moor agent`, both launched with
// `nsenter --net=/run/netns/<node>` (never `ip netns exec`: it hides the cgroup mounts from runc).
// One `moor server` (scheduler and controllers on) runs in the root netns on the underlay address;
// the nodes join it with a node token each. Pod CIDRs come from the server's node IPAM (cluster CIDR
// 10.240.0.0/16); this helper plays the network fabric: host-gw routes between nodes' pod CIDRs and
// from the root (the test runner reaches every pod), and a TCP relay from the underlay to the local
// registry. Everything is attributable by name or by the PIDs it started; teardown() removes it all
// and then scans for leftovers, failing loudly if any remain. One cluster at a time on a machine.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, closeSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, rmdir, stat, symlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { renderContainerdConfig, renderRegistryHosts } from '../../common/containerd-config.ts';
import { CommandError, errorMessage } from '../../common/errors.ts';
import { IMAGES, IMAGE_REGISTRY } from '../../common/images.ts';
import { UndoStack } from '../../common/undo.ts';
import { waitFor } from '../../common/wait.ts';
import { createCriClient } from '../../agent/cri/client.ts';
import { ApiClient } from '../../controlplane/client/client.ts';
import { NODES } from '../../controlplane/client/resources.ts';
import type { Node } from '../../controlplane/client/types.ts';
import { buildKubeconfig } from '../../controlplane/pki.ts';

const execFileP = promisify(execFile);

export const REPO = resolve(import.meta.dirname, '../..');
const MOOR = join(REPO, 'dist/moor.mjs');
const MOOR_BRIDGE = join(REPO, 'dist/moor-bridge');

/** Names and addresses of the simulation: checked unused before anything is made. */
export const SIM = Object.freeze({
  underlayBridge: 'mnul0',
  underlayCidr: '172.31.250.0/24',
  underlayPrefix: '172.31.250',
  gateway: '172.31.250.1',
  gatewayMac: '02:6d:6e:00:ff:01',
  clusterCidr: '10.240.0.0/16',
  nodePrefix: 'mn-n',
  baseDir: '/var/lib/moor-mn',
  runDir: '/run/moor-mn',
});

export interface SimNode {
  readonly index: number;
  /** Node name, netns name and agent --hostname-override: mn-n<index>. */
  readonly name: string;
  readonly ip: string;
  readonly netnsPath: string;
  readonly criEndpoint: string;
  /** The pod bridge inside the node (one per node so each network's IPAM state is its own). */
  readonly podBridge: string;
  readonly cgroupRoot: string;
  readonly agentLog: string;
  /** The pod CIDR the server allocated (set once the node is Ready). */
  podCidr: string;
  agentPid(): number | undefined;
  containerdPid(): number | undefined;
  /** Signal the agent (default SIGKILL) and wait until it is gone. */
  killAgent(signal?: NodeJS.Signals): Promise<void>;
  /** Start the agent again with the same flags. */
  startAgent(): Promise<void>;
  /** Run argv inside the node's network namespace. */
  exec(argv: readonly string[], timeoutMs?: number): Promise<string>;
}

export interface MultiNodeCluster {
  readonly nodes: readonly SimNode[];
  readonly serverUrl: string;
  readonly kubeconfig: string;
  readonly client: ApiClient;
  /** Milliseconds of each bring-up phase. */
  readonly timings: Readonly<Record<string, number>>;
  /** Whether pod traffic inside the cluster keeps its source IP through the agent's conflist (else a node rule does it). */
  kubectl(args: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<string>;
  /** Remove everything; throws when something could not be removed. Safe to call twice. */
  teardown(): Promise<{ ms: number }>;
}

export interface MultiNodeOptions {
  /** Default 3 (at most 9). */
  readonly nodes?: number;
  /** Extra `moor server` flags (grace periods, tolerations). */
  readonly serverArgs?: readonly string[];
  /** Extra `moor agent` flags for every node. */
  readonly agentArgs?: readonly string[];
  readonly log?: (line: string) => void;
  /** Copy the server's, agents', containerds' and moor-bridge's logs here before the teardown removes them. */
  readonly keepLogsDir?: string;
}

async function run(argv: readonly string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await execFileP(argv[0]!, argv.slice(1), { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { code?: number | string; stderr?: string };
    throw new CommandError({
      message: `run ${argv.join(' ')}: ${(e.stderr ?? '').trim() || errorMessage(err)}`,
      argv, exitCode: typeof e.code === 'number' ? e.code : undefined, stderr: e.stderr ?? '', cause: err,
    });
  }
}

function inNetns(name: string, argv: readonly string[]): string[] {
  return ['nsenter', `--net=/run/netns/${name}`, '--', ...argv];
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A child we started: its PID and a promise of its exit. */
interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

function startProc(argv: readonly string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Proc {
  const fd = openSync(logFile, 'a');
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const exited = new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res();
    child.once('exit', () => res());
    child.once('error', () => res());
  });
  return { child, exited };
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
async function stopProc(p: Proc | undefined, graceMs: number, first: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p === undefined || p.child.pid === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
  try {
    p.child.kill(first);
  } catch {
    return;
  }
  const timer = new Promise<'late'>((res) => setTimeout(() => res('late'), graceMs).unref());
  if ((await Promise.race([p.exited.then(() => 'done' as const), timer])) === 'late') {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

async function tail(file: string, lines = 20): Promise<string> {
  return readFile(file, 'utf8').then((t) => t.split('\n').slice(-lines).join('\n'), () => '');
}

/** The things of a previous or concurrent cluster that would collide with a new one. */
async function findCollisions(n: number): Promise<string[]> {
  const found: string[] = [];
  const addrs = await run(['ip', '-4', '-o', 'addr']);
  for (const l of addrs.split('\n')) {
    if (l.includes(` ${SIM.underlayPrefix}.`) || l.includes(' 10.240.')) found.push(`address in use: ${l.replace(/\s+/g, ' ').trim()}`);
  }
  for (const cidr of [SIM.underlayCidr, SIM.clusterCidr]) {
    const probe = cidr === SIM.clusterCidr ? '10.240.0.1' : `${SIM.underlayPrefix}.1`;
    const routes = [...(await run(['ip', '-4', 'route', 'show', 'root', cidr])).split('\n'), ...(await run(['ip', '-4', 'route', 'show', 'match', probe])).split('\n')];
    for (const r of routes) if (r.trim() !== '' && !r.startsWith('default')) found.push(`route overlaps ${cidr}: ${r.trim()}`);
  }
  const links = JSON.parse(await run(['ip', '-j', 'link'])) as { ifname: string }[];
  for (const l of links) if (l.ifname === SIM.underlayBridge || l.ifname.startsWith(SIM.nodePrefix)) found.push(`link exists: ${l.ifname}`);
  const netns = (await readdir('/run/netns').catch(() => [] as string[])).filter((x) => x.startsWith(SIM.nodePrefix));
  for (const x of netns) found.push(`netns exists: ${x}`);
  for (const d of [SIM.baseDir, SIM.runDir]) if (existsSync(d)) found.push(`directory exists: ${d}`);
  for (let i = 1; i <= n; i++) if (await cgroupDirs(`${SIM.nodePrefix}${i}`).then((x) => x.length > 0)) found.push(`cgroup exists: /${SIM.nodePrefix}${i}`);
  return found;
}

async function cgroupDirs(name: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const p = `/sys/fs/cgroup/${h}/${name}`;
    if (await stat(p).then((s) => s.isDirectory(), () => false)) out.push(p);
  }
  return out;
}

/** rmdir a cgroup tree deepest first (cgroup directories hold only pseudo files). */
async function removeCgroupTree(path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(path, e.name));
  await rmdir(path).catch(() => undefined);
}

/** The registry relay: underlay address -> the local registry, half-open and no-delay (recipe §5). */
async function startRelay(listenHost: string, target: { host: string; port: number }): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = createConnection({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(target.port, listenHost, () => { server.off('error', rej); res(); });
  });
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

async function criReady(endpoint: string): Promise<boolean> {
  const cri = createCriClient({ endpoint, timeoutMs: 2000 });
  try {
    await cri.version();
    return (await cri.status()).conditions.some((c) => c.type === 'RuntimeReady' && c.status);
  } finally {
    cri.close();
  }
}

/**
 * Ready, and schedulable: the node lifecycle controller has removed the not-ready taint it put on
 * while the node reported Ready=False (pod network not configured yet). A pod created meanwhile
 * would find no node and wait for the scheduler's retry.
 */
function nodeReady(n: Node | undefined): boolean {
  return (n?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
    (n?.spec?.taints ?? []).every((t) => !t.key.startsWith('node.kubernetes.io/'));
}

/** Bring up the cluster: throws (after removing what it made) when any part does not come up. */
export async function startMultiNodeCluster(opts: MultiNodeOptions = {}): Promise<MultiNodeCluster> {
  if (process.getuid?.() !== 0) throw new Error('start multi-node cluster: needs root');
  const count = opts.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new Error(`start multi-node cluster: nodes must be 1 to 9, got ${count}`);
  for (const f of [MOOR, MOOR_BRIDGE]) if (!existsSync(f)) throw new Error(`start multi-node cluster: ${f} is missing (run: node scripts/build.mjs)`);
  const log = opts.log ?? (() => undefined);
  const collisions = await findCollisions(count);
  if (collisions.length > 0) {
    throw new Error(`start multi-node cluster: names or ranges already in use (another multi-node cluster, or one left behind):\n  ${collisions.join('\n  ')}`);
  }

  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (what: string): void => {
    const now = Date.now();
    timings[what] = now - mark;
    mark = now;
  };
  const started = Date.now();
  const procs = new Map<string, Proc>();
  const undo = new UndoStack({ warn: (o, msg) => log(`${msg}: ${JSON.stringify(o)}`) });
  let relay: { close(): Promise<void> } | undefined;

  // Teardown removes by name whatever exists, so it also serves as the undo of a failed bring-up.
  const nodes: SimNode[] = [];
  const names = Array.from({ length: count }, (_, i) => `${SIM.nodePrefix}${i + 1}`);
  const teardownAll = async (): Promise<void> => {
    const problems: string[] = [];
    const steps: Record<string, number> = {};
    let stepMark = Date.now();
    const stepDone = (what: string): void => {
      steps[what] = Date.now() - stepMark;
      stepMark = Date.now();
    };
    // step 1: agents and server (nothing recreates pods any more)
    await Promise.all(names.map((n) => stopProc(procs.get(`agent/${n}`), 3000)));
    await stopProc(procs.get('server'), 5000);
    stepDone('processes');
    // step 2: every sandbox through CRI while containerd lives (CNI DEL releases IPs, rules, veths)
    await Promise.all(names.map(async (n) => {
      if (!isAlive(procs.get(`containerd/${n}`)?.child.pid)) return;
      const cri = createCriClient({ endpoint: `unix://${SIM.runDir}/${n}/containerd.sock`, timeoutMs: 20_000 });
      try {
        for (const s of await cri.listPodSandbox()) await cri.removePodSandbox(s.id).catch((err: unknown) => log(`remove sandbox ${s.id} on ${n}: ${errorMessage(err)}`));
      } catch (err) {
        log(`list sandboxes on ${n}: ${errorMessage(err)}`);
      } finally {
        cri.close();
      }
    }));
    stepDone('sandboxes');
    // step 3: containerds, then what a killed containerd leaves (containers, shims, mounts)
    await Promise.all(names.map((n) => stopProc(procs.get(`containerd/${n}`), 5000)));
    await relay?.close();
    for (const n of names) await forceCleanupNode(n, log);
    stepDone('containerd');
    // step 4: the network: netns (takes the node's veths and iptables rules), root veth ends, routes, bridge
    for (const n of names) {
      if (existsSync(`/run/netns/${n}`)) await run(['ip', 'netns', 'del', n]).catch((err: unknown) => problems.push(errorMessage(err)));
      await run(['ip', 'link', 'del', `${n}-ul`]).catch(() => undefined);
    }
    for (const r of (await run(['ip', '-4', 'route', 'show', 'root', SIM.clusterCidr]).catch(() => '')).split('\n').filter((l) => l.trim() !== '')) {
      await run(['ip', 'route', 'del', ...r.trim().split(/\s+/)]).catch((err: unknown) => problems.push(errorMessage(err)));
    }
    await run(['ip', 'link', 'del', SIM.underlayBridge]).catch(() => undefined);
    stepDone('network');
    // step 5: directories (CNI state of our networks included); logs first copied out when asked
    if (opts.keepLogsDir !== undefined) await copyLogs(names, opts.keepLogsDir).catch((err: unknown) => log(`copy logs to ${opts.keepLogsDir}: ${errorMessage(err)}`));
    for (const n of names) {
      await rm(`/var/lib/cni/networks/moor-${podBridgeOf(n)}`, { recursive: true, force: true });
      for (const f of await readdir('/var/lib/cni/results').catch(() => [] as string[])) {
        if (f.startsWith(`moor-${podBridgeOf(n)}-`)) await rm(`/var/lib/cni/results/${f}`, { force: true });
      }
    }
    await rm(SIM.runDir, { recursive: true, force: true });
    await rm(SIM.baseDir, { recursive: true, force: true });
    stepDone('dirs');
    // step 6: the leftover scan
    for (const [what, p] of procs) if (isAlive(p.child.pid) && p.child.exitCode === null && p.child.signalCode === null) problems.push(`process still running: ${what} pid ${p.child.pid}`);
    problems.push(...await findCollisions(count));
    problems.push(...await findShims(names));
    stepDone('scan');
    log(`teardown steps (ms): ${JSON.stringify(steps)}`);
    if (problems.length > 0) throw new Error(`tear down multi-node cluster: left behind:\n  ${problems.join('\n  ')}`);
  };
  undo.push('tear down', teardownAll);

  try {
    // step 1: underlay bridge with a fixed MAC, unreachable cluster CIDR in the root
    await run(['ip', 'link', 'add', SIM.underlayBridge, 'address', SIM.gatewayMac, 'type', 'bridge']);
    await run(['ip', 'addr', 'add', `${SIM.gateway}/24`, 'dev', SIM.underlayBridge]);
    await run(['ip', 'link', 'set', SIM.underlayBridge, 'up']);
    await run(['ip', 'route', 'add', 'unreachable', SIM.clusterCidr]);
    const [regHost, regPort] = IMAGE_REGISTRY.split(':');
    relay = await startRelay(SIM.gateway, { host: regHost!, port: Number(regPort ?? '5000') });
    const underlayRegistry = `${SIM.gateway}:${regPort ?? '5000'}`;
    lap('underlay');

    // step 2: shared CNI binaries, the server
    const cniBin = `${SIM.baseDir}/cni-bin`;
    await mkdir(cniBin, { recursive: true });
    await copyFile(MOOR_BRIDGE, `${cniBin}/moor-bridge`);
    for (const p of ['loopback', 'portmap']) await symlink(`/usr/lib/cni/${p}`, `${cniBin}/${p}`);
    const serverDir = `${SIM.baseDir}/server`;
    await mkdir(serverDir, { recursive: true, mode: 0o700 });
    const serverLog = `${SIM.baseDir}/server.log`;
    const env = { ...process.env };
    delete env.MOOR_CONTROLPLANE_ARGS;
    const server = startProc([process.execPath, MOOR, 'server', '--data-dir', serverDir, '--bind-address', SIM.gateway, '--secure-port', '0',
      '--cluster-cidr', SIM.clusterCidr, '--node-cidr-mask-size', '24', ...(opts.serverArgs ?? [])], serverLog, env);
    procs.set('server', server);
    const serverUrl = await waitFor(async () => {
      if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`moor server exited:\n${await tail(serverLog)}`);
      const line = (await readFile(serverLog, 'utf8')).split('\n').find((l) => l.startsWith('{"url"'));
      return line === undefined ? undefined : (JSON.parse(line) as { url: string }).url;
    }, { timeoutMs: 30_000, intervalMs: 100, what: `moor server listening (log ${serverLog})` });
    const kubeconfig = join(serverDir, 'admin.kubeconfig');
    const client = ApiClient.fromKubeconfig(kubeconfig);
    const caPem = await readFile(join(serverDir, 'pki/ca.crt'), 'utf8');
    lap('server');

    // step 3: per node: netns, veth with fixed MACs, addresses, containerd config
    // Nodes are independent: set them up in parallel (the token minting spawns a process each).
    nodes.push(...await Promise.all(names.map(async (name, i): Promise<SimNode> => {
      const index = i + 1;
      const host = 10 + index;
      const ip = `${SIM.underlayPrefix}.${host}`;
      const base = `${SIM.baseDir}/${name}`;
      const state = `${SIM.runDir}/${name}`;
      const socket = `${state}/containerd.sock`;
      const etc = `${base}/etc`;
      await run(['ip', 'netns', 'add', name]);
      await run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
      // The peer is made inside the netns: a transient "eth0" in the root would clash with the host's.
      await run(['ip', 'link', 'add', `${name}-ul`, 'address', `02:6d:6e:00:01:${hex2(host)}`, 'type', 'veth', 'peer', 'name', 'eth0', 'address', `02:6d:6e:00:00:${hex2(host)}`, 'netns', name]);
      await run(['ip', 'link', 'set', `${name}-ul`, 'master', SIM.underlayBridge, 'up']);
      await run(['ip', '-n', name, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await run(['ip', '-n', name, 'link', 'set', 'eth0', 'up']);
      await run(['ip', '-n', name, 'route', 'add', 'default', 'via', SIM.gateway]);
      await run(inNetns(name, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']));
      for (const d of [`${etc}/cni/net.d`, `${etc}/manifests`, `${base}/containerd`, state, `${base}/agent`, `${base}/pod-logs`]) await mkdir(d, { recursive: true });
      for (const reg of new Set([IMAGE_REGISTRY, underlayRegistry])) {
        await mkdir(`${etc}/certs.d/${reg}`, { recursive: true });
        await writeFile(`${etc}/certs.d/${reg}/hosts.toml`, renderRegistryHosts(underlayRegistry));
      }
      await writeFile(`${etc}/containerd.toml`, renderContainerdConfig({
        rootDir: `${base}/containerd`, stateDir: state, socketPath: socket, sandboxImage: IMAGES.pause,
        cniBinDir: cniBin, cniConfDir: `${etc}/cni/net.d`, registryConfigDir: `${etc}/certs.d`,
      }));
      const tokenOut = await run([process.execPath, MOOR, 'server', 'token', 'create', '--node', name, '--data-dir', serverDir]);
      await writeFile(`${etc}/agent.kubeconfig`, buildKubeconfig({ server: serverUrl, caPem, token: tokenOut.trim(), user: `system:node:${name}` }), { mode: 0o600 });

      const podBridge = podBridgeOf(name);
      const agentArgv = inNetns(name, [process.execPath, MOOR, 'agent',
        '--container-runtime-endpoint', `unix://${socket}`, '--kubeconfig', `${etc}/agent.kubeconfig`,
        '--hostname-override', name, '--node-ip', ip, '--address', '0.0.0.0', '--port', '10250',
        '--cni-conf-dir', `${etc}/cni/net.d`, '--cni-bridge', podBridge, '--cgroup-root', `/${name}`,
        '--pod-manifest-path', `${etc}/manifests`, '--root-dir', `${base}/agent`, '--pod-logs-dir', `${base}/pod-logs`,
        // moor-bridge's ipMasq exempts only the node's own pod CIDR: pod -> pod across nodes would
        // leave with the node IP without the cluster CIDR exempted too.
        '--non-masquerade-cidr', SIM.clusterCidr, '--pod-network-routes', 'host-gw',
        // Ready is reported with the next status update once the pod network is configured: 2 s, not 10 s.
        '--node-status-update-frequency', '2s',
        ...(opts.agentArgs ?? [])]);
      const agentLog = `${base}/agent.log`;
      const node: SimNode = {
        index, name, ip, netnsPath: `/run/netns/${name}`, criEndpoint: `unix://${socket}`, podBridge, cgroupRoot: `/${name}`, agentLog, podCidr: '',
        agentPid: () => procs.get(`agent/${name}`)?.child.pid,
        containerdPid: () => procs.get(`containerd/${name}`)?.child.pid,
        async killAgent(signal: NodeJS.Signals = 'SIGKILL') {
          const p = procs.get(`agent/${name}`);
          if (p === undefined) return;
          p.child.kill(signal);
          await p.exited;
        },
        async startAgent() {
          const p = procs.get(`agent/${name}`);
          if (p !== undefined && p.child.exitCode === null && p.child.signalCode === null) throw new Error(`start agent of ${name}: pid ${p.child.pid} still runs`);
          procs.set(`agent/${name}`, startProc(agentArgv, agentLog));
        },
        exec: (argv, timeoutMs) => run(inNetns(name, argv), timeoutMs),
      };
      return node;
    })));
    lap('netns');

    // step 4: containerds in parallel, each ready when its CRI says so
    await Promise.all(nodes.map(async (n) => {
      const logFile = `${SIM.baseDir}/${n.name}/containerd.log`;
      const p = startProc(inNetns(n.name, ['containerd', '--config', `${SIM.baseDir}/${n.name}/etc/containerd.toml`]), logFile,
        { ...process.env, MOOR_CNI_LOG_FILE: `${SIM.baseDir}/${n.name}/moor-bridge.log` });
      procs.set(`containerd/${n.name}`, p);
      await waitFor(async () => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`containerd of ${n.name} exited:\n${await tail(logFile)}`);
        return existsSync(`${SIM.runDir}/${n.name}/containerd.sock`) && criReady(n.criEndpoint);
      }, { timeoutMs: 30_000, intervalMs: 50, what: `containerd of ${n.name} CRI ready (log ${logFile})` });
    }));
    lap('containerd');

    // step 5: agents; nodes Ready with a pod CIDR each
    for (const n of nodes) await n.startAgent();
    await waitFor(async () => {
      for (const n of nodes) {
        const p = procs.get(`agent/${n.name}`)!;
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`agent of ${n.name} exited:\n${await tail(n.agentLog)}`);
      }
      const list = (await client.list(NODES)).items;
      const all = nodes.map((n) => list.find((x) => x.metadata.name === n.name));
      if (!all.every((x) => nodeReady(x) && (x?.spec?.podCIDR ?? '') !== '')) return false;
      all.forEach((x, i) => { nodes[i]!.podCidr = x!.spec!.podCIDR!; });
      return true;
    }, { timeoutMs: 60_000, intervalMs: 200, what: `nodes ${names.join(', ')} Ready and untainted with a pod CIDR` });
    lap('agents');

    // step 6: the fabric. Between nodes, the agents' own host-gw routes (--pod-network-routes):
    // wait until every node routes every other node's pod CIDR via its node IP. From the root (the
    // test runner, not a node), the helper's routes.
    for (const n of nodes) await run(['ip', 'route', 'replace', n.podCidr, 'via', n.ip, 'dev', SIM.underlayBridge]);
    await waitFor(async () => {
      for (const m of nodes) {
        const routes = JSON.parse(await run(['ip', '-n', m.name, '-j', '-4', 'route', 'show', 'proto', '77'])) as { dst: string; gateway?: string }[];
        for (const n of nodes) if (n !== m && !routes.some((r) => r.dst === n.podCidr && r.gateway === n.ip)) return false;
      }
      return true;
    }, { timeoutMs: 30_000, intervalMs: 100, what: "every node routing the other nodes' pod CIDRs (agent host-gw routes)" });
    lap('routes');
    timings.total = Date.now() - started;
    log(`multi-node cluster up in ${timings.total} ms: ${nodes.map((n) => `${n.name} ${n.ip} ${n.podCidr}`).join(', ')}`);

    let tornDown: Promise<{ ms: number }> | undefined;
    return {
      nodes, serverUrl, kubeconfig, client, timings,
      async kubectl(args, o = {}) {
        return new Promise((res, rej) => {
          const child = execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: o.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
            err ? rej(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || err.message}`)) : res(stdout));
          child.stdin?.end(o.stdin ?? '');
        });
      },
      teardown() {
        tornDown ??= (async () => {
          const t0 = Date.now();
          const failures = await undo.run();
          if (failures.length > 0) throw new Error(failures.map((f) => errorMessage(f.error)).join('\n'));
          return { ms: Date.now() - t0 };
        })();
        return tornDown;
      },
    };
  } catch (err) {
    const failures = await undo.run();
    const extra = failures.length > 0 ? `\nand tearing down failed: ${failures.map((f) => errorMessage(f.error)).join('; ')}` : '';
    throw new Error(`start multi-node cluster: ${errorMessage(err)}${extra}`, { cause: err });
  }
}

async function copyLogs(names: readonly string[], dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile(`${SIM.baseDir}/server.log`, join(dir, 'server.log')).catch(() => undefined);
  for (const n of names) {
    for (const f of ['agent.log', 'containerd.log', 'moor-bridge.log']) await copyFile(`${SIM.baseDir}/${n}/${f}`, join(dir, `${n}-${f}`)).catch(() => undefined);
  }
}

function podBridgeOf(name: string): string {
  return `mnbr${name.slice(SIM.nodePrefix.length)}`;
}

/** Shims whose command line names one of our nodes' sockets. */
async function findShims(names: readonly string[]): Promise<string[]> {
  const sockets = new Set(names.map((n) => `${SIM.runDir}/${n}/containerd.sock`));
  const found: string[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv[0]?.includes('containerd-shim') && argv.some((a) => sockets.has(a))) found.push(`shim still running: pid ${pid}`);
  }
  return found;
}

/**
 * What a stopped or killed containerd of a node leaves: containers in its runc root, shims naming its
 * socket (and their sockets in the shared /run/containerd/s), mounts under its dirs, its cgroup root.
 */
async function forceCleanupNode(name: string, log: (line: string) => void): Promise<void> {
  const state = `${SIM.runDir}/${name}`;
  const base = `${SIM.baseDir}/${name}`;
  const runcRoot = `${state}/runc/k8s.io`;
  if (existsSync(runcRoot)) {
    const ids = (await run(['runc', '--root', runcRoot, 'list', '-q']).catch(() => '')).split('\n').filter(Boolean);
    for (const id of ids) {
      await run(['runc', '--root', runcRoot, 'kill', id, 'KILL']).catch(() => undefined);
      await run(['runc', '--root', runcRoot, 'delete', '--force', id]).catch((err: unknown) => log(`runc delete ${id}: ${errorMessage(err)}`));
    }
  }
  const socket = `${state}/containerd.sock`;
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv[0]?.includes('containerd-shim') || !argv.includes(socket)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    const flag = (f: string): string => argv[argv.indexOf(f) + 1] ?? '';
    const digest = createHash('sha256').update(`${socket}/${flag('-namespace')}/${flag('-id')}`).digest('hex');
    await rm(`/run/containerd/s/${digest}`, { force: true });
  }
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1])
    .filter((m): m is string => m !== undefined && (m.startsWith(`${state}/`) || m.startsWith(`${base}/`)));
  for (const m of mounts.reverse()) await run(['umount', '-l', m]).catch(() => undefined);
  for (const dir of await cgroupDirs(name)) await removeCgroupTree(dir);
}
