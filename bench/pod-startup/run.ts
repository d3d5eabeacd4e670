// Pod start latency of `moor agent` against the floor: the same CRI calls made directly
// (RunPodSandbox, CreateContainer, StartContainer, then ContainerStatus until running), on the same
// isolated containerd, CNI (reference bridge) and image. Agent latency is measured from the pod's
// manifest appearing (atomic rename into the manifest directory; in a batch, each pod from its own
// manifest) to the agent's status saying the pod is Running and Ready (its "pod status" log line,
// read when inotify says the log grew: polling /pods, or the log every few ms, would load the side
// being measured). The batch also reports CPU per pod: the agent's, and the floor's own client's.
// Then the agent's RSS and CPU with 100 pods running at steady state.
// Last, the agent joined to `moor server` (scheduler and controllers on): 30 pods all at once three
// ways in one run: the floor, the manifest directory, and `kubectl apply` seen Running through a
// watch on the API server.
//
//   sudo node --import tsx bench/pod-startup/run.ts [--pods 30] [--steady 100] [--steady-seconds 60] [--out FILE]
//     [--no-cluster] [--agent-log-level debug] [--keep-agent-log FILE]
//     [--agent-bin dist/moor.mjs|cli/moor.ts] [--node-args '--max-semi-space-size=4']
//
// With --agent-log-level debug the table also gives the agent's CRI call times next to the floor's.
// Sequential runs interleave floor and agent pod by pod so that the machine's background load
// falls on both alike; the all-at-once runs go floor batch, agent batch. Results: a table on stdout
// and JSON (default bench/results/pod-startup-<timestamp>.json).

import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ServerProcess } from '../../test/integration/controlplane/apiserver/harness.ts';
import { randomBytes } from 'node:crypto';
import { startContainerdRig, IMAGES, type ContainerdRig } from '../../test/helpers/containerd-rig.ts';
import { createCriClient } from '../../agent/cri/client.ts';
import type { CriClient, PodSandboxConfig } from '../../agent/cri/types.ts';
import type { Pod } from '../../agent/pod/types.ts';
import { waitFor } from '../../common/wait.ts';

const execFileP = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
const NODE = 'bench';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
function argStr(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const PODS = arg('pods', 30);
const STEADY = arg('steady', 100);
const STEADY_SECONDS = arg('steady-seconds', 60);

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

function summary(values: number[]): { p50: number; p99: number; mean: number; n: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { p50: round(percentile(values, 50)), p99: round(percentile(values, 99)), mean: round(mean), n: values.length };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

// --- the floor -----------------------------------------------------------------------------------

/** Durations of the floor's CRI calls, by method, for the "where the time goes" table. */
const floorCalls = new Map<string, number[]>();

async function timed<T>(method: string, call: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await call();
  } finally {
    const list = floorCalls.get(method) ?? [];
    list.push(performance.now() - t0);
    floorCalls.set(method, list);
  }
}

async function floorPod(cri: CriClient, logRoot: string, name: string): Promise<{ ms: number; sandboxId: string }> {
  const started = performance.now();
  const uid = randomBytes(8).toString('hex');
  const config: PodSandboxConfig = {
    metadata: { name, namespace: 'floor', uid, attempt: 0 },
    hostname: name,
    logDirectory: `${logRoot}/floor_${name}_${uid}`,
    // No io.kubernetes.pod.uid label: the agent would take a labelled sandbox it does not know
    // for an orphan and terminate it.
  };
  const sandboxId = await timed('RunPodSandbox', () => cri.runPodSandbox(config));
  const containerId = await timed('CreateContainer', () => cri.createContainer(sandboxId, {
    metadata: { name: 'main', attempt: 0 },
    image: { image: IMAGES.busybox },
    command: ['sleep', '3600'],
    logPath: 'main/0.log',
  }, config));
  await timed('StartContainer', () => cri.startContainer(containerId));
  for (;;) {
    if ((await cri.containerStatus(containerId)).state === 'running') break;
  }
  return { ms: performance.now() - started, sandboxId };
}

async function removeAll(cri: CriClient): Promise<void> {
  const sandboxes = await cri.listPodSandbox();
  await Promise.all(sandboxes.map((s) => cri.removePodSandbox(s.id)));
}

// --- the agent -----------------------------------------------------------------------------------

interface AgentHandle {
  readonly pid: number;
  readonly log: LogTail;
  /** host:port of its HTTP API. */
  readonly api: string;
  stop(): Promise<void>;
}

/**
 * The agent's JSON log, read incrementally: its "pod status" lines say when each pod's status
 * turned Running and Ready, the moment /pods (or the API server, when joined) would show it. The
 * bench reads the log instead of polling /pods, so that measuring puts no load on the agent; and it
 * reads it when inotify says the file grew (a fallback read every 250 ms), not on a timer: polling
 * every few ms cost CPU only while the agent's pods started, the floor's starts were not taxed alike.
 */
class LogTail {
  readonly #path: string;
  #offset = 0;
  #rest = '';
  readonly #buf = Buffer.alloc(1 << 16);
  #watcher: FSWatcher | undefined;
  #wake: (() => void) | undefined;
  /** "pod status" Running+Ready: pod (ns/name) -> epoch ms, first seen. */
  readonly running = new Map<string, number>();
  /** "sync pod": pod (ns/name) -> epoch ms of its first sync that did something (the start). */
  readonly firstSync = new Map<string, number>();
  readonly lines: string[] = [];

  constructor(path: string) {
    this.#path = path;
  }

  /** Read what was appended since the last read. */
  async poll(): Promise<void> {
    if (this.#watcher === undefined) {
      this.#watcher = watch(this.#path, { persistent: false }, () => this.#wake?.());
    }
    const fh = await open(this.#path, 'r');
    try {
      for (;;) {
        const { bytesRead } = await fh.read(this.#buf, 0, this.#buf.length, this.#offset);
        if (bytesRead === 0) break;
        this.#offset += bytesRead;
        const text = this.#rest + this.#buf.toString('utf8', 0, bytesRead);
        const parts = text.split('\n');
        this.#rest = parts.pop() ?? '';
        for (const line of parts) this.#take(line);
      }
    } finally {
      await fh.close();
    }
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #take(line: string): void {
    this.lines.push(line);
    if (line.includes('"sync pod"')) {
      const l = JSON.parse(line) as { time: number; pod: string };
      if (!this.firstSync.has(l.pod)) this.firstSync.set(l.pod, l.time);
      return;
    }
    if (!line.includes('"pod status"')) return;
    const l = JSON.parse(line) as { time: number; pod: string; phase: string; ready: string };
    if (l.phase === 'Running' && l.ready === 'True' && !this.running.has(l.pod)) this.running.set(l.pod, l.time);
  }

  /** Wait until every pod (ns/name) was reported Running and Ready; their times in ms after `sinceEpochMs`. */
  async waitRunning(pods: readonly string[], sinceEpochMs: number, timeoutMs = 120_000): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Armed before reading, so a write between the read and the wait is not missed.
      const woken = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      await this.poll();
      if (pods.every((p) => (this.running.get(p) ?? 0) >= sinceEpochMs)) return pods.map((p) => this.running.get(p)! - sinceEpochMs);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pods.filter((p) => !this.running.has(p)).length} pods to run`);
      await woken;
    }
  }

  /** Forget pods that were removed, so their names can be used again. */
  forget(pods: readonly string[]): void {
    for (const p of pods) {
      this.running.delete(p);
      this.firstSync.delete(p);
    }
  }
}

async function startAgent(rig: ContainerdRig, dirs: { manifests: string; root: string; logs: string; log: string }, cgroupRoot: string, extra: Record<string, string> = {}): Promise<AgentHandle> {
  const flags = {
    'container-runtime-endpoint': rig.endpoint, 'pod-manifest-path': dirs.manifests, 'root-dir': dirs.root, 'pod-logs-dir': dirs.logs,
    'hostname-override': NODE, 'node-ip': '127.0.0.1', port: '0', 'cgroup-root': cgroupRoot, 'max-pods': String(Math.max(110, STEADY + 10)),
    'log-level': argStr('agent-log-level') ?? 'info',
    ...extra,
  };
  const entry = argStr('agent-bin') ?? `${REPO}dist/moor.mjs`;
  const nodeArgs = (argStr('node-args') ?? '').split(' ').filter(Boolean);
  const argv = [...nodeArgs, ...(entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry])];
  const { openSync } = await import('node:fs');
  await writeFile(dirs.log, '');
  const out = openSync(dirs.log, 'a');
  const child = spawn(process.execPath, [...argv, 'agent', ...Object.entries(flags).map(([k, v]) => `--${k}=${v}`)], { stdio: ['ignore', 'ignore', out] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = new LogTail(dirs.log);
  const api = await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`agent exited: ${(await readFile(dirs.log, 'utf8')).slice(-1500)}`);
    await log.poll();
    const line = log.lines.find((l) => l.includes('"agent started"'));
    return line === undefined ? undefined : (JSON.parse(line) as { api: string }).api;
  }, { timeoutMs: 60_000, what: 'agent started' });
  return {
    pid: child.pid!,
    log,
    api,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      log.close();
    },
  };
}

function manifest(name: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'main', image: IMAGES.busybox, command: ['sleep', '3600'] }] } });
}

/** Write a pod's manifest atomically; returns when it appeared (epoch ms, just before the rename). */
async function writeManifest(dir: string, name: string): Promise<number> {
  await writeFile(`${dir}/.${name}.tmp`, manifest(name));
  const appeared = Date.now();
  await rename(`${dir}/.${name}.tmp`, `${dir}/${name}.json`);
  return appeared;
}

/**
 * Write the manifests one after another and wait until all pods run; each pod's time counts from
 * its own manifest appearing (the batch takes a while to write: timing every pod from the first
 * write would charge the later ones for the bench's writing).
 */
async function startBatch(dir: string, log: LogTail, names: readonly string[], timeoutMs?: number): Promise<{ times: number[]; wallMs: number }> {
  const appeared = new Map<string, number>();
  for (const n of names) appeared.set(n, await writeManifest(dir, n));
  const first = Math.min(...appeared.values());
  const sinceFirst = await log.waitRunning(names.map(staticPod), first, timeoutMs);
  return { times: names.map((n, i) => sinceFirst[i] - (appeared.get(n)! - first)), wallMs: Math.max(...sinceFirst) };
}

/** Static pods are named <name>-<node>. */
const staticPod = (name: string): string => `default/${name}-${NODE}`;

/** The agent's CRI call durations by method, from its debug log ("cri call" lines), between two times. */
function agentCalls(lines: readonly string[], fromEpochMs: number, toEpochMs: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of lines) {
    if (!line.includes('"cri call"')) continue;
    const l = JSON.parse(line) as { time: number; method: string; durationMs: number };
    if (l.time < fromEpochMs || l.time > toEpochMs) continue;
    out.set(l.method, [...(out.get(l.method) ?? []), l.durationMs]);
  }
  return out;
}

function medians(calls: Map<string, number[]>): Record<string, { p50: number; n: number }> {
  return Object.fromEntries([...calls].map(([m, v]) => [m, { p50: round(percentile(v, 50)), n: v.length }]));
}

/** Remove every manifest and wait until the agent removed its pods (floor pods carry no pod uid label). */
async function clearManifests(dir: string, cri: CriClient): Promise<void> {
  const { readdir } = await import('node:fs/promises');
  for (const f of await readdir(dir)) await rm(`${dir}/${f}`, { force: true });
  await waitForNoAgentPods(cri);
}

async function waitForNoAgentPods(cri: CriClient): Promise<void> {
  const agentSandboxes = async () => (await cri.listPodSandbox()).filter((s) => s.labels['io.kubernetes.pod.uid'] !== undefined).length;
  await waitFor(async () => (await agentSandboxes()) === 0, { timeoutMs: 300_000, intervalMs: 200, what: 'agent pods gone' });
}

// --- through the API server ----------------------------------------------------------------------

/**
 * `moor server` (scheduler and controllers on) and the agent joined to it: pods created with
 * `kubectl apply`, seen Running through a watch on the API server, as a user would see them.
 */
async function startCluster(base: string): Promise<{ server: ServerProcess; kubeconfig: string }> {
  const server = new ServerProcess({ env: { MOOR_CONTROLPLANE_ARGS: '' }, useDist: true, dataDir: `${base}/server` });
  await mkdir(`${base}/server`, { recursive: true });
  await server.start();
  const kc = parseYaml(await readFile(server.kubeconfig, 'utf8')) as { users: { user: { token: string } }[] };
  kc.users[0].user.token = server.createNodeToken(NODE);
  const kubeconfig = `${base}/node.kubeconfig`;
  await writeFile(kubeconfig, stringifyYaml(kc), { mode: 0o600 });
  return { server, kubeconfig };
}

function allRunning(pod: Pod): boolean {
  const cs = pod.status?.containerStatuses ?? [];
  return cs.length > 0 && cs.every((c) => c.state.running !== undefined);
}

/** kubectl apply of `names` (one file), then a watch until each is Running: ms after the apply started. */
async function applyAndWatch(server: ServerProcess, base: string, names: readonly string[]): Promise<{ times: number[]; wallMs: number }> {
  const docs = names.map((n) => JSON.parse(manifest(n)) as object).map((p) => stringifyYaml(p)).join('---\n');
  await writeFile(`${base}/pods.yaml`, docs);
  const list = await server.request('/api/v1/namespaces/default/pods');
  const rv = (list.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const watch = server.watch(`/api/v1/namespaces/default/pods?watch=1&resourceVersion=${rv}`);
  try {
    await watch.headers;
    const want = new Set(names);
    const seen = new Map<string, number>();
    const started = performance.now();
    const kubectl = execFileP('kubectl', ['--kubeconfig', server.kubeconfig, 'apply', '-f', `${base}/pods.yaml`], { timeout: 60_000 });
    let read = 0;
    const deadline = Date.now() + 180_000;
    while (seen.size < want.size) {
      const events = await watch.next(read + 1, Math.max(1, deadline - Date.now()));
      for (const e of events.slice(read) as { type: string; object: Pod }[]) {
        const name = e.object.metadata.name;
        if (want.has(name) && !seen.has(name) && e.type !== 'DELETED' && allRunning(e.object)) seen.set(name, performance.now() - started);
      }
      read = events.length;
    }
    await kubectl;
    const times = names.map((n) => seen.get(n)!);
    return { times, wallMs: Math.max(...times) };
  } finally {
    watch.close();
  }
}

async function deleteApplied(server: ServerProcess, base: string, cri: CriClient): Promise<void> {
  await execFileP('kubectl', ['--kubeconfig', server.kubeconfig, 'delete', '-f', `${base}/pods.yaml`, '--wait=true', '--timeout=120s'], { timeout: 150_000 });
  await waitForNoAgentPods(cri);
}

// --- resource use ------------------------------------------------------------------------------

async function procStats(pid: number): Promise<{ rssMiB: number; cpuTicks: number; threads: Map<string, number> }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const ticks = (statText: string): number => {
    const f = statText.split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  // CPU by thread name (the main thread, V8's GC helpers, libuv's pool, ...), summed over threads of one name.
  const threads = new Map<string, number>();
  const { readdir } = await import('node:fs/promises');
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const text = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    if (text === '') continue;
    const name = tid === String(pid) ? 'main' : text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    threads.set(name, (threads.get(name) ?? 0) + ticks(text));
  }
  return { rssMiB: round(rssKb / 1024), cpuTicks: ticks(await readFile(`/proc/${pid}/stat`, 'utf8')), threads };
}

/** The agent's CRI call counters by RPC, from its /metrics. */
async function runtimeOperations(api: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${api}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^moor_agent_runtime_operations_total\{operation_type="(\w+)"\} (\d+)/gm)) out.set(m[1], Number(m[2]));
  return out;
}

// --- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/pod-startup: needs root (it runs its own containerd)');
  const results: Record<string, unknown> = { pods: PODS, date: new Date().toISOString(), loadBefore: (await readFile('/proc/loadavg', 'utf8')).trim() };
  const rig = await startContainerdRig({ name: `moor-bench-${randomBytes(3).toString('hex')}` });
  const base = await mkdtemp('/tmp/moor-bench-');
  const cgroupRoot = `/moor-bench-${randomBytes(3).toString('hex')}`;
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 120_000 });
  const dirs = { manifests: `${base}/manifests`, root: `${base}/root`, logs: `${base}/logs`, log: `${base}/agent.log` };
  let agent: AgentHandle | undefined;
  let cluster: { server: ServerProcess; kubeconfig: string } | undefined;
  const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
  try {
    await cri.pullImage(IMAGES.busybox);
    await cri.pullImage(IMAGES.pause);
    await mkdir(dirs.manifests, { recursive: true });
    agent = await startAgent(rig, dirs, cgroupRoot);
    // Warm-up: the first pod also creates the bridge; neither side should pay for it.
    await floorPod(cri, dirs.logs, 'warmup');
    await removeAll(cri);
    let since = Date.now();
    await writeManifest(dirs.manifests, 'warmup');
    await agent.log.waitRunning([staticPod('warmup')], since);
    await clearManifests(dirs.manifests, cri);

    // Sequential, interleaved pod by pod.
    const floorSeq: number[] = [];
    const agentSeq: number[] = [];
    /** Manifest written -> the agent's first "sync pod": the pod source's share of the agent's time. */
    const agentToSync: number[] = [];
    floorCalls.clear();
    const seqStartedEpoch = Date.now();
    for (let i = 0; i < PODS; i++) {
      floorSeq.push((await floorPod(cri, dirs.logs, `f${i}`)).ms);
      since = await writeManifest(dirs.manifests, `s${i}`);
      agentSeq.push(...(await agent.log.waitRunning([staticPod(`s${i}`)], since)));
      agentToSync.push(agent.log.firstSync.get(staticPod(`s${i}`))! - since);
    }
    const seqCalls = { floor: medians(floorCalls), agent: medians(agentCalls(agent.log.lines, seqStartedEpoch, Date.now())) };
    await clearManifests(dirs.manifests, cri);
    await removeAll(cri);

    // All at once: floor batch, then agent batch.
    const floorStarted = performance.now();
    const floorCpu = process.cpuUsage();
    const floorAll = await Promise.all(Array.from({ length: PODS }, (_, i) => floorPod(cri, dirs.logs, `fa${i}`).then((r) => r.ms)));
    const floorWall = performance.now() - floorStarted;
    // The floor's own CPU (its gRPC client: the bench process does nothing else meanwhile), to set
    // beside the agent's: both compete with containerd for the same two cores.
    const floorCpuUsed = process.cpuUsage(floorCpu);
    const floorCpuMsPerPod = round((floorCpuUsed.user + floorCpuUsed.system) / 1000 / PODS);
    await removeAll(cri);
    const names = Array.from({ length: PODS }, (_, i) => `a${i}`);
    const cpuBefore = (await procStats(agent.pid)).cpuTicks;
    const { times: agentAll, wallMs: agentWall } = await startBatch(dirs.manifests, agent.log, names);
    const agentCpuMsPerPod = round((((await procStats(agent.pid)).cpuTicks - cpuBefore) * 10) / PODS);
    await clearManifests(dirs.manifests, cri);

    const seq = { floor: summary(floorSeq), agent: summary(agentSeq), agentManifestToSync: summary(agentToSync) };
    const all = { floor: { ...summary(floorAll), wallMs: round(floorWall), cpuMsPerPod: floorCpuMsPerPod }, agent: { ...summary(agentAll), wallMs: round(agentWall), cpuMsPerPod: agentCpuMsPerPod } };
    results.sequential = { ...seq, calls: seqCalls, ratioP50: ratio(seq.agent.p50, seq.floor.p50), ratioP99: ratio(seq.agent.p99, seq.floor.p99) };
    results.allAtOnce = { ...all, ratioP50: ratio(all.agent.p50, all.floor.p50), ratioP99: ratio(all.agent.p99, all.floor.p99), ratioWall: ratio(all.agent.wallMs, all.floor.wallMs) };

    // Steady state with STEADY pods.
    if (STEADY > 0) {
      const steadyNames = Array.from({ length: STEADY }, (_, i) => `st${i}`);
      since = Date.now();
      for (const n of steadyNames) await writeManifest(dirs.manifests, n);
      await agent.log.waitRunning(steadyNames.map(staticPod), since, 600_000);
      await new Promise((r) => setTimeout(r, 10_000)); // let start-up work settle
      const opsBefore = await runtimeOperations(agent.api);
      const a = await procStats(agent.pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, STEADY_SECONDS * 1000));
      const b = await procStats(agent.pid);
      const seconds = (performance.now() - t0) / 1000;
      const opsAfter = await runtimeOperations(agent.api);
      const ticksPerSecond = 100;
      const criCallsPerSecond = Object.fromEntries([...opsAfter].map(([m, n]) => [m, round((n - (opsBefore.get(m) ?? 0)) / seconds)]).filter(([, r]) => (r as number) > 0));
      const cpuPercentByThread = Object.fromEntries([...b.threads].map(([n, v]) => [n, round(((v - (a.threads.get(n) ?? 0)) / ticksPerSecond / seconds) * 100)]).filter(([, v]) => (v as number) > 0));
      results.steady = { pods: STEADY, seconds: round(seconds), rssMiB: b.rssMiB, cpuPercentOfOneCore: round(((b.cpuTicks - a.cpuTicks) / ticksPerSecond / seconds) * 100), cpuPercentByThread, criCallsPerSecond };
      await clearManifests(dirs.manifests, cri);
    }
    await agent.stop();
    agent = undefined;

    // Through the API server: the same agent joined to `moor server`; all at once, three ways in
    // one run: the floor, the manifest directory, and `kubectl apply` seen through a watch.
    if (!process.argv.includes('--no-cluster')) {
      cluster = await startCluster(base);
      agent = await startAgent(rig, dirs, cgroupRoot, { kubeconfig: cluster.kubeconfig, 'cni-conf-dir': `${base}/cni-conf` });
      const server = cluster.server;
      await waitFor(async () => {
        const res = await server.request(`/api/v1/nodes/${NODE}`);
        const ready = (res.body as { status?: { conditions?: { type: string; status: string }[] } } | undefined)?.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'True';
      }, { timeoutMs: 60_000, intervalMs: 200, what: 'node Ready' });
      // Warm-up through the API (the first apply also loads kubectl's discovery cache).
      await applyAndWatch(server, base, ['kwarm']);
      await deleteApplied(server, base, cri);

      const cFloorStarted = performance.now();
      const cFloor = await Promise.all(Array.from({ length: PODS }, (_, i) => floorPod(cri, dirs.logs, `fc${i}`).then((r) => r.ms)));
      const cFloorWall = performance.now() - cFloorStarted;
      await removeAll(cri);
      const mNames = Array.from({ length: PODS }, (_, i) => `m${i}`);
      const { times: cManifest, wallMs: cManifestWall } = await startBatch(dirs.manifests, agent.log, mNames);
      await clearManifests(dirs.manifests, cri);
      const kNames = Array.from({ length: PODS }, (_, i) => `k${i}`);
      const applied = await applyAndWatch(server, base, kNames);
      await deleteApplied(server, base, cri);
      const floorS = { ...summary(cFloor), wallMs: round(cFloorWall) };
      const manifestS = { ...summary(cManifest), wallMs: round(cManifestWall) };
      const kubectlS = { ...summary(applied.times), wallMs: round(applied.wallMs) };
      results.cluster = {
        floor: floorS, manifest: manifestS, kubectlApply: kubectlS,
        ratioP50: { manifest: ratio(manifestS.p50, floorS.p50), kubectlApply: ratio(kubectlS.p50, floorS.p50), kubectlVsManifest: ratio(kubectlS.p50, manifestS.p50) },
        ratioWall: { manifest: ratio(manifestS.wallMs, floorS.wallMs), kubectlApply: ratio(kubectlS.wallMs, floorS.wallMs) },
      };
    }
  } finally {
    await agent?.stop().catch(() => undefined);
    const keepLog = argStr('keep-agent-log');
    if (keepLog !== undefined) await writeFile(keepLog, await readFile(dirs.log, 'utf8').catch(() => ''));
    await cluster?.server.stop().catch(() => undefined);
    cri.close();
    await rig.stop();
    await rm(base, { recursive: true, force: true });
    const { removeCgroupTree } = await import('../../test/integration/agent/harness.ts');
    await removeCgroupTree(cgroupRoot);
  }
  results.loadAfter = (await readFile('/proc/loadavg', 'utf8')).trim();
  const out = argStr('out') ?? `${REPO}bench/results/pod-startup-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  await mkdir(out.slice(0, out.lastIndexOf('/')), { recursive: true });
  await writeFile(out, JSON.stringify(results, null, 2) + '\n');
  type S = { p50: number; p99: number; wallMs?: number };
  const fmt = (x: S): string => `${x.p50}/${x.p99}${x.wallMs !== undefined ? ` (all ${x.wallMs})` : ''}`;
  const seqR = results.sequential as { floor: S; agent: S; agentManifestToSync: S; ratioP50: number; ratioP99: number; calls: { floor: Record<string, { p50: number }>; agent: Record<string, { p50: number; n: number }> } };
  const allR = results.allAtOnce as { floor: S & { cpuMsPerPod: number }; agent: S & { cpuMsPerPod: number }; ratioP50: number; ratioWall: number };
  process.stdout.write(`pod start, ${PODS} single-container pods, ms p50/p99 (agent: when its status said Running and Ready)\n`);
  process.stdout.write(`sequential   floor ${fmt(seqR.floor)}  agent ${fmt(seqR.agent)}  ratio p50 ${seqR.ratioP50}, p99 ${seqR.ratioP99}\n`);
  process.stdout.write(`  of which manifest written -> agent's first sync: ${fmt(seqR.agentManifestToSync)}\n`);
  process.stdout.write(`all at once  floor ${fmt(allR.floor)}  agent ${fmt(allR.agent)}  ratio p50 ${allR.ratioP50}, wall ${allR.ratioWall}\n`);
  process.stdout.write(`  CPU per pod started in the batch: agent ${allR.agent.cpuMsPerPod} ms, floor's client ${allR.floor.cpuMsPerPod} ms\n`);
  if (Object.keys(seqR.calls.agent).length > 0) {
    process.stdout.write('sequential CRI calls, p50 ms (agent: from its debug log; counts include the relist):\n');
    for (const m of new Set([...Object.keys(seqR.calls.floor), ...Object.keys(seqR.calls.agent)])) process.stdout.write(`  ${m.padEnd(18)} floor ${seqR.calls.floor[m]?.p50 ?? '-'}  agent ${seqR.calls.agent[m]?.p50 ?? '-'} (${seqR.calls.agent[m]?.n ?? 0})\n`);
  }
  if (results.steady) process.stdout.write(`steady state: ${JSON.stringify(results.steady)}\n`);
  if (results.cluster) {
    const c = results.cluster as { floor: S; manifest: S; kubectlApply: S; ratioP50: Record<string, number>; ratioWall: Record<string, number> };
    process.stdout.write(`joined to moor server, all at once: floor ${fmt(c.floor)}  manifest ${fmt(c.manifest)}  kubectl apply (watch) ${fmt(c.kubectlApply)}\n`);
    process.stdout.write(`  ratio p50 to floor: manifest ${c.ratioP50.manifest}, kubectl ${c.ratioP50.kubectlApply} (kubectl/manifest ${c.ratioP50.kubectlVsManifest}); wall: manifest ${c.ratioWall.manifest}, kubectl ${c.ratioWall.kubectlApply}\n`);
  }
  process.stdout.write(`load before ${results.loadBefore as string}, after ${results.loadAfter as string}\nresults: ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/pod-startup: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
