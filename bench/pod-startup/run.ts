// Pod start latency of `moor agent` against the floor: the same CRI calls made directly
// (RunPodSandbox, CreateContainer, StartContainer, then ContainerStatus until running), on the same
// isolated containerd, CNI (reference bridge) and image. Agent latency is measured from the
// manifest appearing (atomic rename into the manifest directory) to the agent's /pods showing all
// containers running. Then the agent's RSS and CPU with 100 pods running at steady state.
//
//   sudo node --import tsx bench/pod-startup/run.ts [--pods 30] [--steady 100] [--steady-seconds 60] [--out FILE]
//     [--agent-bin dist/moor.mjs|cli/moor.ts] [--node-args '--max-semi-space-size=4']
//
// Sequential runs interleave floor and agent pod by pod so that the machine's background load
// falls on both alike; the all-at-once runs go floor batch, agent batch. Results: a table on stdout
// and JSON (default bench/results/pod-startup-<timestamp>.json).

import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startContainerdRig, IMAGES, type ContainerdRig } from '../../test/helpers/containerd-rig.ts';
import { createCriClient } from '../../agent/cri/client.ts';
import type { CriClient, PodSandboxConfig } from '../../agent/cri/types.ts';
import type { Pod } from '../../agent/pod/types.ts';
import { waitFor } from '../../common/wait.ts';

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
  const sandboxId = await cri.runPodSandbox(config);
  const containerId = await cri.createContainer(sandboxId, {
    metadata: { name: 'main', attempt: 0 },
    image: { image: IMAGES.busybox },
    command: ['sleep', '3600'],
    logPath: 'main/0.log',
  }, config);
  await cri.startContainer(containerId);
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
  readonly url: string;
  stop(): Promise<void>;
}

async function startAgent(rig: ContainerdRig, dirs: { manifests: string; root: string; logs: string; log: string }, cgroupRoot: string): Promise<AgentHandle> {
  const flags = {
    'container-runtime-endpoint': rig.endpoint, 'pod-manifest-path': dirs.manifests, 'root-dir': dirs.root, 'pod-logs-dir': dirs.logs,
    'hostname-override': NODE, 'node-ip': '127.0.0.1', port: '0', 'cgroup-root': cgroupRoot, 'max-pods': String(Math.max(110, STEADY + 10)),
  };
  const entry = argStr('agent-bin') ?? `${REPO}dist/moor.mjs`;
  const nodeArgs = (argStr('node-args') ?? '').split(' ').filter(Boolean);
  const argv = [...nodeArgs, ...(entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry])];
  const { openSync } = await import('node:fs');
  const out = openSync(dirs.log, 'a');
  const child = spawn(process.execPath, [...argv, 'agent', ...Object.entries(flags).map(([k, v]) => `--${k}=${v}`)], { stdio: ['ignore', 'ignore', out] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const api = await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`agent exited: ${(await readFile(dirs.log, 'utf8')).slice(-1500)}`);
    const line = (await readFile(dirs.log, 'utf8')).split('\n').filter((l) => l.includes('"agent started"')).pop();
    return line ? (JSON.parse(line) as { api: string }).api : undefined;
  }, { timeoutMs: 60_000, what: 'agent started' });
  return {
    pid: child.pid!,
    url: `http://${api}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function manifest(name: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'main', image: IMAGES.busybox, command: ['sleep', '3600'] }] } });
}

async function writeManifest(dir: string, name: string): Promise<void> {
  await writeFile(`${dir}/.${name}.tmp`, manifest(name));
  await rename(`${dir}/.${name}.tmp`, `${dir}/${name}.json`);
}

async function runningNames(url: string, only?: string): Promise<Set<string>> {
  const res = await fetch(`${url}/pods${only ? `?fieldSelector=metadata.name%3D${only}-${NODE}` : ''}`);
  const list = (await res.json()) as { items: Pod[] };
  const out = new Set<string>();
  for (const p of list.items) {
    const statuses = p.status?.containerStatuses ?? [];
    if (statuses.length > 0 && statuses.every((c) => c.state.running !== undefined)) out.add(p.metadata.name.slice(0, -(NODE.length + 1)));
  }
  return out;
}

async function waitRunning(url: string, names: string[], started: number, pollMs: number, timeoutMs = 120_000): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < names.length) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${names.length - seen.size} pods to run`);
    const running = await runningNames(url, names.length === 1 ? names[0] : undefined);
    const now = performance.now();
    for (const n of names) if (!seen.has(n) && running.has(n)) seen.set(n, now - started);
    if (seen.size < names.length) await new Promise((r) => setTimeout(r, pollMs));
  }
  return seen;
}

/** Remove every manifest and wait until the agent removed its pods (floor pods carry no pod uid label). */
/** When the agent's status of each pod first said Running and Ready (epoch ms, from its own log line). */
async function statusTimes(logFile: string, names: readonly string[], sinceEpochMs: number): Promise<Map<string, number>> {
  const want = new Set(names.map((n) => `default/${n}-${NODE}`));
  const out = new Map<string, number>();
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    if (!line.includes('"pod status"')) continue;
    const l = JSON.parse(line) as { time: number; pod: string; phase: string; ready: string };
    if (l.time < sinceEpochMs || !want.has(l.pod) || l.phase !== 'Running' || l.ready !== 'True') continue;
    const name = l.pod.slice('default/'.length, -(NODE.length + 1));
    if (!out.has(name)) out.set(name, l.time - sinceEpochMs);
  }
  return out;
}

async function clearManifests(dir: string, url: string, cri: CriClient): Promise<void> {
  const { readdir } = await import('node:fs/promises');
  for (const f of await readdir(dir)) await rm(`${dir}/${f}`, { force: true });
  const agentSandboxes = async () => (await cri.listPodSandbox()).filter((s) => s.labels['io.kubernetes.pod.uid'] !== undefined).length;
  await waitFor(async () => (await agentSandboxes()) === 0 && ((await (await fetch(`${url}/pods`)).json()) as { items: unknown[] }).items.length === 0, { timeoutMs: 300_000, intervalMs: 200, what: 'agent pods gone' });
}

// --- resource use ------------------------------------------------------------------------------

async function procStats(pid: number): Promise<{ rssMiB: number; cpuTicks: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return { rssMiB: round(rssKb / 1024), cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

// --- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/pod-startup: needs root (it runs its own containerd)');
  const results: Record<string, unknown> = { pods: PODS, date: new Date().toISOString(), node: (await readFile('/proc/loadavg', 'utf8')).trim() };
  const rig = await startContainerdRig({ name: `moor-bench-${randomBytes(3).toString('hex')}` });
  const base = await mkdtemp('/tmp/moor-bench-');
  const cgroupRoot = `/moor-bench-${randomBytes(3).toString('hex')}`;
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 120_000 });
  let agent: AgentHandle | undefined;
  try {
    await cri.pullImage(IMAGES.busybox);
    await cri.pullImage(IMAGES.pause);
    const dirs = { manifests: `${base}/manifests`, root: `${base}/root`, logs: `${base}/logs`, log: `${base}/agent.log` };
    await mkdir(dirs.manifests, { recursive: true });
    agent = await startAgent(rig, dirs, cgroupRoot);
    // Warm-up: the first pod also creates the bridge; neither side should pay for it.
    await floorPod(cri, dirs.logs, 'warmup');
    await removeAll(cri);
    await writeManifest(dirs.manifests, 'warmup');
    await waitRunning(agent.url, ['warmup'], performance.now(), 5);
    await clearManifests(dirs.manifests, agent.url, cri);

    // Sequential, interleaved.
    const floorSeq: number[] = [];
    const agentSeq: number[] = [];
    const agentSeqStatus: number[] = [];
    for (let i = 0; i < PODS; i++) {
      floorSeq.push((await floorPod(cri, dirs.logs, `f${i}`)).ms);
      const startedEpoch = Date.now();
      const started = performance.now();
      await writeManifest(dirs.manifests, `s${i}`);
      agentSeq.push((await waitRunning(agent.url, [`s${i}`], started, 10)).get(`s${i}`)!);
      agentSeqStatus.push((await statusTimes(dirs.log, [`s${i}`], startedEpoch)).get(`s${i}`)!);
    }
    await clearManifests(dirs.manifests, agent.url, cri);
    await removeAll(cri);

    // All at once.
    const floorStarted = performance.now();
    const floorAll = await Promise.all(Array.from({ length: PODS }, (_, i) => floorPod(cri, dirs.logs, `fa${i}`).then((r) => r.ms)));
    const floorWall = performance.now() - floorStarted;
    await removeAll(cri);
    const names = Array.from({ length: PODS }, (_, i) => `a${i}`);
    const agentStartedEpoch = Date.now();
    const agentStarted = performance.now();
    for (const n of names) await writeManifest(dirs.manifests, n);
    const agentAllMap = await waitRunning(agent.url, names, agentStarted, 20);
    const agentWall = Math.max(...agentAllMap.values());
    const agentAll = [...agentAllMap.values()];
    const agentAllStatus = [...(await statusTimes(dirs.log, names, agentStartedEpoch)).values()];
    await clearManifests(dirs.manifests, agent.url, cri);

    // agent: as polled through /pods every 10-20 ms; agentStatus: when the agent's status turned
    // Running (its own log line), which is what a watcher with no polling delay would see.
    const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
    const seq = { floor: summary(floorSeq), agent: summary(agentSeq), agentStatus: summary(agentSeqStatus) };
    const all = { floor: { ...summary(floorAll), wallMs: round(floorWall) }, agent: { ...summary(agentAll), wallMs: round(agentWall) }, agentStatus: summary(agentAllStatus) };
    results.sequential = { ...seq, ratioP50: ratio(seq.agent.p50, seq.floor.p50), ratioP99: ratio(seq.agent.p99, seq.floor.p99), statusRatioP50: ratio(seq.agentStatus.p50, seq.floor.p50), statusRatioP99: ratio(seq.agentStatus.p99, seq.floor.p99) };
    results.allAtOnce = { ...all, ratioP50: ratio(all.agent.p50, all.floor.p50), ratioP99: ratio(all.agent.p99, all.floor.p99), statusRatioP50: ratio(all.agentStatus.p50, all.floor.p50), ratioWall: ratio(all.agent.wallMs, all.floor.wallMs) };

    // Steady state with STEADY pods.
    if (STEADY > 0) {
      const steadyNames = Array.from({ length: STEADY }, (_, i) => `st${i}`);
      for (const n of steadyNames) await writeManifest(dirs.manifests, n);
      await waitRunning(agent.url, steadyNames, performance.now(), 500, 600_000);
      await new Promise((r) => setTimeout(r, 10_000)); // let start-up work settle
      const a = await procStats(agent.pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, STEADY_SECONDS * 1000));
      const b = await procStats(agent.pid);
      const seconds = (performance.now() - t0) / 1000;
      const ticksPerSecond = 100;
      results.steady = { pods: STEADY, seconds: round(seconds), rssMiB: b.rssMiB, cpuPercentOfOneCore: round(((b.cpuTicks - a.cpuTicks) / ticksPerSecond / seconds) * 100) };
      await clearManifests(dirs.manifests, agent.url, cri);
    }
  } finally {
    await agent?.stop().catch(() => undefined);
    cri.close();
    await rig.stop();
    await rm(base, { recursive: true, force: true });
    const { removeCgroupTree } = await import('../../test/integration/agent/harness.ts');
    await removeCgroupTree(cgroupRoot);
  }
  const out = argStr('out') ?? `${REPO}bench/results/pod-startup-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  await mkdir(out.slice(0, out.lastIndexOf('/')), { recursive: true });
  await writeFile(out, JSON.stringify(results, null, 2) + '\n');
  type Row = { floor: { p50: number; p99: number; wallMs?: number }; agent: { p50: number; p99: number; wallMs?: number }; agentStatus: { p50: number; p99: number }; ratioP50: number; ratioP99: number; statusRatioP50: number };
  const row = (label: string, r: Row): string =>
    `${label.padEnd(12)} floor ${r.floor.p50}/${r.floor.p99}  agent(polled) ${r.agent.p50}/${r.agent.p99}  agent(status) ${r.agentStatus.p50}/${r.agentStatus.p99}  ratio p50 polled ${r.ratioP50}, status ${r.statusRatioP50}${r.floor.wallMs ? `  wall floor ${r.floor.wallMs} agent ${r.agent.wallMs}` : ''}\n`;
  process.stdout.write(`pod start, ${PODS} single-container pods, ms p50/p99\n`);
  process.stdout.write(row('sequential', results.sequential as Row));
  process.stdout.write(row('all at once', results.allAtOnce as Row));
  if (results.steady) process.stdout.write(`steady state: ${JSON.stringify(results.steady)}\n`);
  process.stdout.write(`results: ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/pod-startup: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
