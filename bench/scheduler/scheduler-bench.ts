// Scheduler throughput: pods/s scheduled with 100 and 1,000 Node objects (no agents) and 5,000 pods.
// For each node count the nodes and pending pods are loaded once into a `moor server` (SQLite) with
// no scheduler; every run then starts a server on a fresh copy of that data directory, so runs are
// alike and the load is not measured. Modes:
//   pure       — filter + score + assume in memory (schedulePod on NodeInfo), no I/O at all;
//   separate   — the Scheduler class in this process against `moor server` over HTTPS, like
//                kube-scheduler next to its API server: from the informers' sync to the last binding
//                acknowledged;
//   in-server  — `moor server` with its built-in scheduler (its own thread, the default): from the
//                5% mark to the last binding seen on a watch (bindings made before the watch
//                connected arrive in one burst); `in-server-main` runs it on the API server's thread.
// Besides pods/s each run reports CPU per pod (less sensitive to a busy machine than wall time, though
// it too grows when both cores are contended): the server process (its main thread = the API server;
// in-server also its busiest other thread = the scheduler's; every thread's share, busiest first), the
// scheduler process (separate mode), and the machine: load average, cores busy during the run and
// how many of them were busy with other processes.
// Prints a summary and JSON, and writes bench/results/scheduler-<time>.json.
//
//   node --import tsx bench/scheduler/scheduler-bench.ts [--nodes 100,1000] [--pods 5000] [--runs 3]
//        [--modes pure,separate,in-server,in-server-main] [--dist] [--binds-in-flight N]
//        [--cpu-prof DIR]   (V8 CPU profiles of the server processes, and of this one in separate mode)

import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../common/log.ts';
import { ApiClient } from '../../controlplane/client/client.ts';
import { EventRecorder } from '../../controlplane/client/events.ts';
import { InformerFactory } from '../../controlplane/client/informer.ts';
import { NAMESPACES, NODES, PODS } from '../../controlplane/client/resources.ts';
import type { Node, Pod } from '../../controlplane/client/types.ts';
import { schedulePod } from '../../controlplane/scheduler/algorithm.ts';
import { addPodToNode, buildNodeInfo, buildPodFacts } from '../../controlplane/scheduler/node-info.ts';
import { Scheduler } from '../../controlplane/scheduler/scheduler.ts';
import { REPO, ServerProcess } from '../../test/integration/controlplane/apiserver/harness.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100,1000' },
    pods: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'pure,separate,in-server' },
    dist: { type: 'boolean', default: false },
    'binds-in-flight': { type: 'string' },
    concurrency: { type: 'string', default: '32' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`usage: node --import tsx bench/scheduler/scheduler-bench.ts [--nodes 100,1000] [--pods 5000] [--runs 3]
       [--modes pure,separate,in-server,in-server-main] [--dist] [--binds-in-flight N] [--cpu-prof DIR]
`);
  process.exit(0);
}
const nodeCounts = values.nodes!.split(',').map(Number);
const podCount = Number(values.pods);
const runs = Number(values.runs);
const modes = values.modes!.split(',');
const concurrency = Number(values.concurrency);
const bindsInFlight = values['binds-in-flight'] === undefined ? undefined : Number(values['binds-in-flight']);
const profDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']);
const NS = 'bench';
/** Run dist/moor.mjs (as installed) rather than the sources through tsx. */
const useDist = values.dist === true;
const TICK_MS = 1000 / 100; // USER_HZ: /proc CPU times are in 1/100 s on Linux

function makeNode(i: number): Node {
  const alloc = { cpu: '32', memory: '128Gi', pods: '110' };
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: `node-${String(i).padStart(4, '0')}`, labels: { 'kubernetes.io/hostname': `node-${i}`, 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
    spec: {},
    status: { capacity: alloc, allocatable: alloc, conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: now, lastTransitionTime: now }] },
  };
}

function makePod(i: number): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: `pod-${String(i).padStart(5, '0')}`, namespace: NS, labels: { app: `app-${i % 10}` },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${i % 10}`, uid: `00000000-0000-0000-0000-00000000000${i % 10}`, controller: true }],
    },
    spec: { containers: [{ name: 'c', image: 'busybox:1.36', resources: { requests: { cpu: '100m', memory: '128Mi' } } }] },
  };
}

// ---- CPU accounting from /proc ----

/** CPU ms of each thread of a process, by thread id. */
function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(rest[11]) + Number(rest[12])) * TICK_MS); // utime, stime
    } catch {
      // the thread ended between readdir and read: its time is lost to the sample, which is fine
    }
  }
  return out;
}

/** Busy and total jiffies of the whole machine. */
function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = cpu[3] + cpu[4]; // idle + iowait
  return { busy: total - idle, total };
}

interface Sample {
  readonly atMs: number;
  readonly server: Map<number, number>;
  readonly self: NodeJS.CpuUsage;
  readonly machine: { busy: number; total: number };
}

function sample(serverPid: number): Sample {
  return { atMs: performance.now(), server: threadCpuMs(serverPid), self: process.cpuUsage(), machine: machineTicks() };
}

interface CpuFigures {
  /** Server process CPU per pod, and of it the main thread (API server) and the busiest other thread. */
  serverMsPerPod: number;
  serverMainMsPerPod: number;
  serverBusiestOtherThreadMsPerPod: number;
  /** Each server thread's CPU per pod, busiest first (main, scheduler, GC helpers, libuv pool...). */
  serverThreadsMsPerPod: number[];
  /** This process (the scheduler in separate mode; only the watching client otherwise). */
  benchProcessMsPerPod: number;
  /** Machine: cores busy on average, and those busy with neither the server nor this process. */
  machineBusyCores: number;
  otherProcessesCores: number;
}

function cpuBetween(a: Sample, b: Sample, pid: number, pods: number): CpuFigures {
  let server = 0;
  let busiestOther = 0;
  const threads: number[] = [];
  for (const [tid, ms] of b.server) {
    const d = ms - (a.server.get(tid) ?? 0);
    server += d;
    if (d > 0) threads.push(d);
    if (tid !== pid && d > busiestOther) busiestOther = d;
  }
  const main = (b.server.get(pid) ?? 0) - (a.server.get(pid) ?? 0);
  const self = (b.self.user - a.self.user + b.self.system - a.self.system) / 1000;
  const wallMs = b.atMs - a.atMs;
  const cores = (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total) * 2;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    serverMsPerPod: round(server / pods), serverMainMsPerPod: round(main / pods), serverBusiestOtherThreadMsPerPod: round(busiestOther / pods),
    serverThreadsMsPerPod: threads.sort((x, y) => y - x).slice(0, 8).map((d) => round(d / pods)),
    benchProcessMsPerPod: round(self / pods),
    machineBusyCores: round(cores), otherProcessesCores: round(Math.max(0, cores - (server + self) / wallMs)),
  };
}

// ---- modes ----

/** Filter + score + assume in memory only. */
function runPure(nodes: number): Record<string, number> {
  const infos = Array.from({ length: nodes }, (_, i) => buildNodeInfo(makeNode(i)));
  const byName = new Map(infos.map((n) => [n.name, n]));
  const pods = Array.from({ length: podCount }, (_, i) => makePod(i));
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let start = 0;
  let evaluated = 0;
  for (const p of pods) {
    const facts = buildPodFacts(p);
    const d = schedulePod(facts, infos, { startIndex: start });
    if (d.kind !== 'scheduled') throw new Error(`pure: ${p.metadata.name} unschedulable: ${d.message}`);
    start = d.nextStartIndex;
    evaluated += d.evaluated;
    addPodToNode(byName.get(d.node)!, buildPodFacts({ ...p, spec: { ...p.spec, nodeName: d.node } }));
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  return {
    podsPerSecond: Math.round((podCount / ms) * 1000), ms: Math.round(ms), cpuMsPerPod: Math.round((cpu.user + cpu.system) / podCount) / 1000,
    nodesFilteredPerPod: Math.round(evaluated / podCount),
  };
}

async function inPool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

interface Loaded {
  readonly dataDir: string;
  /** resourceVersion after the last pod was created. */
  readonly rv: string;
}

/** Nodes and pending pods through the API into a server with no scheduler; returns its data dir, stopped. */
async function load(nodes: number): Promise<Loaded> {
  const dataDir = mkdtempSync(join(tmpdir(), `moor-sched-bench-${nodes}-`));
  const srv = new ServerProcess({ dataDir, useDist, env: { MOOR_LOG_LEVEL: 'error', MOOR_CONTROLPLANE_ARGS: '--disable-scheduler --disable-controller-manager' } });
  await srv.start();
  const client = new ApiClient({ server: `https://127.0.0.1:${srv.port}`, caPem: srv.ca, token: srv.adminToken }, { maxSockets: concurrency });
  try {
    await client.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await inPool(Array.from({ length: nodes }, (_, i) => i), concurrency, (i) => client.create(NODES, makeNode(i)));
    let rv = 0;
    await inPool(Array.from({ length: podCount }, (_, i) => i), concurrency, async (i) => {
      const p = await client.create(PODS, makePod(i));
      rv = Math.max(rv, Number(p.metadata.resourceVersion));
    });
    return { dataDir, rv: String(rv) };
  } finally {
    client.close();
    await srv.stop();
  }
}

/** A server on a fresh copy of the loaded data dir. */
function serverOn(loaded: Loaded, controlPlaneArgs: string, label: string): { srv: ServerProcess; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'moor-sched-bench-run-'));
  cpSync(loaded.dataDir, dir, { recursive: true });
  // One directory per server: its threads (API server, scheduler thread) write one profile each.
  const nodeArgs = profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profDir, `server-${label}-${Date.now()}`)}`];
  return { srv: new ServerProcess({ dataDir: dir, useDist, nodeArgs, env: { MOOR_LOG_LEVEL: 'error', MOOR_CONTROLPLANE_ARGS: controlPlaneArgs } }), dir };
}

async function countBound(client: ApiClient): Promise<number> {
  const list = await client.listAll(PODS, { namespace: NS });
  return list.items.filter((p) => (p.spec.nodeName ?? '') !== '').length;
}

/** The Scheduler class here, the server there. */
async function runSeparate(loaded: Loaded, nodes: number): Promise<Record<string, unknown>> {
  const { srv, dir } = serverOn(loaded, '--disable-scheduler --disable-controller-manager', `separate-${nodes}`);
  let session: Session | undefined;
  try {
    await srv.start();
    const client = new ApiClient({ server: `https://127.0.0.1:${srv.port}`, caPem: srv.ca, token: srv.adminToken }, { maxSockets: 64 });
    try {
      const informers = new InformerFactory({ client, log: silentLogger() });
      const events = new EventRecorder({ client, component: 'default-scheduler' });
      const scheduler = new Scheduler({ client, informers, events, ...(bindsInFlight === undefined ? {} : { maxBindsInFlight: bindsInFlight }) });
      if (profDir !== undefined) {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
      }
      const started = performance.now();
      informers.start();
      scheduler.start();
      await informers.waitForSync();
      const synced = performance.now();
      const a = sample(srv.pid!);
      while (scheduler.stats.scheduled < podCount) {
        if (performance.now() - synced > 300_000) throw new Error(`separate: only ${scheduler.stats.scheduled} of ${podCount} bound in 300 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const b = sample(srv.pid!);
      if (session !== undefined) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(join(profDir!, `scheduler-separate-${nodes}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
      }
      await scheduler.stop();
      await events.stop();
      await informers.stop();
      const bound = await countBound(client);
      if (bound !== podCount) throw new Error(`separate: ${bound} of ${podCount} pods bound in the store`);
      return {
        podsPerSecond: Math.round((podCount / (b.atMs - a.atMs)) * 1000), scheduleMs: Math.round(b.atMs - a.atMs), syncMs: Math.round(synced - started),
        ...cpuBetween(a, b, srv.pid!, podCount), eventsDropped: events.dropped, bindFailures: scheduler.stats.bindFailures,
      };
    } finally {
      client.close();
    }
  } finally {
    session?.disconnect();
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `moor server` with its own scheduler over the loaded pending pods. */
async function runInServer(loaded: Loaded, nodes: number, thread: 'worker' | 'main'): Promise<Record<string, unknown>> {
  const { srv, dir } = serverOn(loaded, `--disable-controller-manager --controlplane-thread=${thread}`, `in-server-${thread}-${nodes}`);
  try {
    const t0 = performance.now();
    await srv.start();
    const listening = performance.now();
    const client = new ApiClient({ server: `https://127.0.0.1:${srv.port}`, caPem: srv.ca, token: srv.adminToken });
    try {
      const w = await client.watch(PODS, { namespace: NS, resourceVersion: loaded.rv });
      const from = Math.floor(podCount * 0.05);
      const bound = new Set<string>();
      let a: Sample | undefined;
      let b: Sample | undefined;
      let lastAt = 0;
      const timer = setTimeout(() => w.close(), 300_000);
      for await (const ev of w) {
        if (ev.type !== 'MODIFIED' || (ev.object.spec.nodeName ?? '') === '' || bound.has(String(ev.object.metadata.name))) continue;
        bound.add(String(ev.object.metadata.name));
        if (bound.size === from + 1) a = sample(srv.pid!);
        if (bound.size === podCount) {
          b = sample(srv.pid!);
          lastAt = performance.now();
          break;
        }
      }
      clearTimeout(timer);
      w.close();
      if (a === undefined || b === undefined) throw new Error(`in-server: only ${bound.size} of ${podCount} bound`);
      const pods = podCount - 1 - from;
      return {
        podsPerSecond: Math.round((pods / (b.atMs - a.atMs)) * 1000), fromListeningPodsPerSecond: Math.round((podCount / (lastAt - listening)) * 1000),
        startMs: Math.round(listening - t0), ...cpuBetween(a, b, srv.pid!, pods),
      };
    } finally {
      client.close();
    }
  } finally {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- driver ----

function spread(xs: readonly number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((x, y) => x - y);
  return { min: s[0], median: s[Math.floor((s.length - 1) / 2)], max: s[s.length - 1] };
}

if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
const results: Record<string, Record<string, unknown>> = {};
const summary: string[] = [];
for (const n of nodeCounts) {
  const r: Record<string, unknown> = {};
  if (modes.includes('pure')) {
    const all = Array.from({ length: runs }, () => runPure(n));
    r.pure = { runs: all, podsPerSecond: spread(all.map((x) => x.podsPerSecond)) };
    summary.push(`${n} nodes pure: ${JSON.stringify(spread(all.map((x) => x.podsPerSecond)))} pods/s, cpu ${JSON.stringify(spread(all.map((x) => x.cpuMsPerPod)))} ms/pod`);
  }
  const serverModes = modes.filter((m) => m !== 'pure');
  if (serverModes.length > 0) {
    const loadAvgBefore = loadavg()[0];
    const loadStarted = performance.now();
    const loaded = await load(n);
    r.load = { ms: Math.round(performance.now() - loadStarted), loadAvg1mBefore: loadAvgBefore };
    try {
      const byMode = new Map<string, Record<string, unknown>[]>();
      for (let i = 0; i < runs; i++) {
        for (const m of serverModes) {
          const loadAvg1m = loadavg()[0];
          const res = m === 'separate' ? await runSeparate(loaded, n)
            : m === 'in-server' ? await runInServer(loaded, n, 'worker')
            : m === 'in-server-main' ? await runInServer(loaded, n, 'main')
            : undefined;
          if (res === undefined) throw new Error(`unknown mode ${m}`);
          const withLoad = { ...res, loadAvg1m };
          byMode.set(m, [...(byMode.get(m) ?? []), withLoad]);
          process.stderr.write(`${n} nodes ${m} run ${i + 1}: ${JSON.stringify(withLoad)}\n`);
        }
      }
      for (const [m, all] of byMode) {
        const pick = (k: string): { min: number; median: number; max: number } => spread(all.map((x) => Number(x[k])));
        r[m] = { runs: all, podsPerSecond: pick('podsPerSecond'), serverMsPerPod: pick('serverMsPerPod'), benchProcessMsPerPod: pick('benchProcessMsPerPod'), otherProcessesCores: pick('otherProcessesCores') };
        summary.push(`${n} nodes ${m}: pods/s ${JSON.stringify(pick('podsPerSecond'))}; server cpu ms/pod ${JSON.stringify(pick('serverMsPerPod'))}`
          + ` (api thread ${JSON.stringify(pick('serverMainMsPerPod'))}, busiest other thread ${JSON.stringify(pick('serverBusiestOtherThreadMsPerPod'))});`
          + ` this process ms/pod ${JSON.stringify(pick('benchProcessMsPerPod'))}; other processes' cores ${JSON.stringify(pick('otherProcessesCores'))}; load avg ${JSON.stringify(pick('loadAvg1m'))}`);
      }
    } finally {
      rmSync(loaded.dataDir, { recursive: true, force: true });
    }
  }
  results[`${n} nodes`] = r;
}
const report = {
  bench: 'scheduler', date: new Date().toISOString(),
  config: { nodes: nodeCounts, pods: podCount, runs, modes, bindsInFlight: bindsInFlight ?? 'default', store: 'sqlite', server: useDist ? 'dist/moor.mjs' : 'cli/moor.ts via tsx' },
  results,
};
const text = JSON.stringify(report, null, 2);
process.stdout.write(`${text}\n`);
process.stderr.write(`${summary.join('\n')}\n`);
mkdirSync(join(REPO, 'bench/results'), { recursive: true });
writeFileSync(join(REPO, 'bench/results', `scheduler-${Date.now()}.json`), `${text}\n`);
