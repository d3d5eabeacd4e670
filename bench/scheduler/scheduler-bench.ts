// Scheduler throughput: pods/s scheduled with 100 and 1,000 Node objects (no agents) and 5,000 pods.
// For each node count, three figures:
//   pure       — filter + score + assume in memory (schedulePod on NodeInfo), no I/O at all;
//   separate   — the Scheduler class in this process against `moor server` (SQLite) over HTTPS, the
//                pods created beforehand: from the informers' sync to the last binding acknowledged,
//                like kube-scheduler next to its API server;
//   in-server  — `moor server` restarted with its built-in scheduler over the same pending pods: from
//                the first to the last binding seen on a watch (and from the server's start); the
//                scheduler on its own thread (default), or with `in-server-main` on the API server's.
// Prints JSON and writes bench/results/scheduler-<time>.json.
//
//   node --import tsx bench/scheduler/scheduler-bench.ts [--nodes 100,1000] [--pods 5000] [--dist]
//        [--modes pure,separate,in-server,in-server-main]

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
    modes: { type: 'string', default: 'pure,separate,in-server,in-server-main' },
    dist: { type: 'boolean', default: false },
    'binds-in-flight': { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '32' },
  },
});
const nodeCounts = values.nodes!.split(',').map(Number);
const podCount = Number(values.pods);
const modes = new Set(values.modes!.split(','));
const concurrency = Number(values.concurrency);
const NS = 'bench';
/** Run dist/moor.mjs (as installed) rather than the sources through tsx. */
const useDist = values.dist === true;

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

/** Filter + score + assume in memory only. */
function runPure(nodes: number): Record<string, number> {
  const infos = Array.from({ length: nodes }, (_, i) => buildNodeInfo(makeNode(i)));
  const byName = new Map(infos.map((n) => [n.name, n]));
  const pods = Array.from({ length: podCount }, (_, i) => makePod(i));
  const started = performance.now();
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
  return { podsPerSecond: Math.round((podCount / ms) * 1000), ms: Math.round(ms), nodesFilteredPerPod: Math.round(evaluated / podCount) };
}

async function inPool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/** Nodes and pending pods through the API; returns the resourceVersion after the last create. */
async function load(client: ApiClient, nodes: number): Promise<string> {
  await client.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await inPool(Array.from({ length: nodes }, (_, i) => i), concurrency, (i) => client.create(NODES, makeNode(i)));
  let rv = '0';
  await inPool(Array.from({ length: podCount }, (_, i) => i), concurrency, async (i) => {
    const p = await client.create(PODS, makePod(i));
    if (Number(p.metadata.resourceVersion) > Number(rv)) rv = String(p.metadata.resourceVersion);
  });
  return rv;
}

async function countBound(client: ApiClient): Promise<number> {
  const list = await client.listAll(PODS, { namespace: NS });
  return list.items.filter((p) => (p.spec.nodeName ?? '') !== '').length;
}

/** The Scheduler class here, the server there. */
async function runSeparate(nodes: number): Promise<Record<string, number>> {
  const srv = new ServerProcess({ useDist, env: { MOOR_LOG_LEVEL: 'error', MOOR_CONTROLPLANE_ARGS: '--disable-scheduler --disable-controller-manager' } });
  await srv.start();
  const client = new ApiClient({ server: `https://127.0.0.1:${srv.port}`, caPem: srv.ca, token: srv.adminToken }, { maxSockets: 64 });
  try {
    const loadStarted = performance.now();
    await load(client, nodes);
    const loadMs = performance.now() - loadStarted;
    const informers = new InformerFactory({ client, log: silentLogger() });
    const events = new EventRecorder({ client, component: 'default-scheduler' });
    const scheduler = new Scheduler({ client, informers, events, maxBindsInFlight: Number(values['binds-in-flight']) });
    const started = performance.now();
    informers.start();
    scheduler.start();
    await informers.waitForSync();
    const synced = performance.now();
    while (scheduler.stats.scheduled < podCount) {
      if (performance.now() - synced > 300_000) throw new Error(`separate: only ${scheduler.stats.scheduled} of ${podCount} bound in 300 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const done = performance.now();
    await scheduler.stop();
    await events.stop();
    await informers.stop();
    const bound = await countBound(client);
    if (bound !== podCount) throw new Error(`separate: ${bound} of ${podCount} pods bound in the store`);
    return {
      podsPerSecond: Math.round((podCount / (done - synced)) * 1000), scheduleMs: Math.round(done - synced), syncMs: Math.round(synced - started),
      loadPodsPerSecond: Math.round((podCount / loadMs) * 1000), eventsDropped: events.dropped, bindFailures: scheduler.stats.bindFailures,
    };
  } finally {
    client.close();
    await srv.dispose();
  }
}

/** `moor server` with its own scheduler, restarted over pods created while it had none. */
async function runInServer(nodes: number, thread: 'worker' | 'main'): Promise<Record<string, number>> {
  const srv = new ServerProcess({ useDist, env: { MOOR_LOG_LEVEL: 'error', MOOR_CONTROLPLANE_ARGS: '--disable-scheduler --disable-controller-manager' } });
  await srv.start();
  let client = new ApiClient({ server: `https://127.0.0.1:${srv.port}`, caPem: srv.ca, token: srv.adminToken }, { maxSockets: 64 });
  try {
    const rv = await load(client, nodes);
    client.close();
    await srv.stop();
    const restarted = new ServerProcess({ dataDir: srv.dataDir, useDist, env: { MOOR_LOG_LEVEL: 'error', MOOR_CONTROLPLANE_ARGS: `--disable-controller-manager --controlplane-thread=${thread}` } });
    const t0 = performance.now();
    await restarted.start();
    const listening = performance.now();
    client = new ApiClient({ server: `https://127.0.0.1:${restarted.port}`, caPem: restarted.ca, token: restarted.adminToken });
    try {
      const w = await client.watch(PODS, { namespace: NS, resourceVersion: rv });
      const seenAt: number[] = [];
      const bound = new Set<string>();
      const timer = setTimeout(() => w.close(), 300_000);
      for await (const ev of w) {
        if (ev.type !== 'MODIFIED' || (ev.object.spec.nodeName ?? '') === '' || bound.has(String(ev.object.metadata.name))) continue;
        bound.add(String(ev.object.metadata.name));
        seenAt.push(performance.now());
        if (bound.size === podCount) break;
      }
      clearTimeout(timer);
      w.close();
      if (bound.size !== podCount) throw new Error(`in-server: only ${bound.size} of ${podCount} bound`);
      // Bindings made before the watch connected arrive in one burst: measure from the 5% mark on.
      const from = Math.floor(podCount * 0.05);
      const steady = ((podCount - 1 - from) / (seenAt[podCount - 1] - seenAt[from])) * 1000;
      return {
        podsPerSecond: Math.round(steady), firstToLastMs: Math.round(seenAt[podCount - 1] - seenAt[0]),
        fromListeningPodsPerSecond: Math.round((podCount / (seenAt[podCount - 1] - listening)) * 1000), startMs: Math.round(listening - t0),
      };
    } finally {
      client.close();
      await restarted.dispose();
    }
  } finally {
    await srv.dispose();
  }
}

const results: Record<string, Record<string, unknown>> = {};
for (const n of nodeCounts) {
  const r: Record<string, unknown> = {};
  if (modes.has('pure')) r.pure = runPure(n);
  if (modes.has('separate')) r.separate = await runSeparate(n);
  if (modes.has('in-server')) r.inServer = await runInServer(n, 'worker');
  if (modes.has('in-server-main')) r.inServerMainThread = await runInServer(n, 'main');
  results[`${n} nodes`] = r;
  process.stderr.write(`${n} nodes: ${JSON.stringify(r)}\n`);
}
const report = { bench: 'scheduler', date: new Date().toISOString(), config: { nodes: nodeCounts, pods: podCount, concurrency, store: 'sqlite', server: useDist ? 'dist/moor.mjs' : 'cli/moor.ts via tsx' }, results };
const text = JSON.stringify(report, null, 2);
process.stdout.write(`${text}\n`);
mkdirSync(join(REPO, 'bench/results'), { recursive: true });
writeFileSync(join(REPO, 'bench/results', `scheduler-${Date.now()}.json`), `${text}\n`);
