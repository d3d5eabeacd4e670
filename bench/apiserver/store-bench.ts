// Store-level benchmark, SQLite vs etcd in one run: load N pod-sized (~3 KB JSON) objects, time a
// full list and a 500-item page, then unpaced write throughput (1 and 32 in flight), then a paced 200 writes/s with 100 watchers on the
// pods prefix (write latency and watch delivery latency), and RSS with everything stored. Each backend
// runs in its own child process so RSS figures are its own. Prints JSON; also writes bench/results/.
//
//   node --import tsx bench/apiserver/store-bench.ts [--objects 10000] [--rate 200] [--seconds 10]
//        [--watchers 100] [--backends sqlite,etcd]

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openEtcdStore } from '../../controlplane/store/etcd.ts';
import { openSqliteStore } from '../../controlplane/store/sqlite.ts';
import type { Store, Watch } from '../../controlplane/store/types.ts';
import { startEtcd, type EtcdServer } from '../../test/helpers/etcd.ts';

interface BenchConfig {
  readonly objects: number;
  readonly rate: number;
  readonly seconds: number;
  readonly watchers: number;
}

interface Latency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const PREFIX = '/registry/pods/bench/';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    watchers: { type: 'string', default: '100' },
    backends: { type: 'string', default: 'sqlite,etcd' },
    child: { type: 'string' },
  },
});
const config: BenchConfig = {
  objects: Number(values.objects),
  rate: Number(values.rate),
  seconds: Number(values.seconds),
  watchers: Number(values.watchers),
};

if (values.child !== undefined) {
  const result = await runBackend(values.child, config);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const backends = values.backends!.split(',');
  const results: Record<string, unknown> = {};
  for (const backend of backends) results[backend] = await runChild(backend);
  const report = { bench: 'store', date: new Date().toISOString(), config, results };
  const out = JSON.stringify(report, null, 2);
  process.stdout.write(`${out}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/store-${Date.now()}.json`, `${out}\n`);
}

/** Runs this file again for one backend and returns the JSON it prints. */
async function runChild(backend: string): Promise<unknown> {
  const args = ['--import', 'tsx', '--expose-gc', fileURLToPath(import.meta.url), '--child', backend];
  for (const k of ['objects', 'rate', 'seconds', 'watchers'] as const) args.push(`--${k}`, String(config[k]));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`store bench for ${backend} exited with ${code}`);
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

async function runBackend(backend: string, cfg: BenchConfig): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'moor-store-bench-'));
  let etcd: EtcdServer | undefined;
  let store: Store;
  try {
    if (backend === 'sqlite') {
      store = openSqliteStore({ path: join(dir, 'store.db') });
    } else if (backend === 'etcd') {
      etcd = await startEtcd();
      store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    } else {
      throw new Error(`unknown backend ${backend}`);
    }
    const rssBaseMiB = rssMiB();
    const load = await loadObjects(store, cfg.objects);
    const rssLoadedMiB = await settledRssMiB();
    const lists = await listTimes(store);
    const rssListedMiB = await settledRssMiB();
    const sequential = await unpacedWrites(store, cfg.objects, 1, 3000);
    const concurrent = await unpacedWrites(store, cfg.objects, 32, 3000);
    const paced = await pacedWithWatchers(store, cfg);
    const rssWatchingMiB = await settledRssMiB();
    await store.close();
    return {
      backend,
      load: { objects: cfg.objects, bytesPerObject: podJson(0).length, writesPerSecond: load },
      list: lists,
      unpaced: { inFlight1: sequential, inFlight32: concurrent },
      paced,
      rssMiB: {
        processBase: rssBaseMiB,
        processWithObjects: rssLoadedMiB,
        processAfterFullLists: rssListedMiB,
        processWithWatchers: rssWatchingMiB,
        ...(etcd?.pid === undefined ? {} : { etcdServer: pidRssMiB(etcd.pid) }),
      },
    };
  } finally {
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Creates the objects with 16 in flight; returns writes/s. */
async function loadObjects(store: Store, n: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const i = next++;
        await store.create(podKey(i), Buffer.from(podJson(i)));
      }
    }),
  );
  return Math.round(n / ((performance.now() - started) / 1000));
}

/** Full list of the prefix and one page of 500, five times each; median milliseconds. */
async function listTimes(store: Store): Promise<{ allMs: number; allItems: number; page500Ms: number }> {
  const time = async (fn: () => Promise<unknown>) => {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await fn();
      runs.push(performance.now() - t0);
    }
    return Math.round(runs.sort((a, b) => a - b)[2] * 10) / 10;
  };
  const allItems = (await store.list(PREFIX)).items.length;
  return { allMs: await time(() => store.list(PREFIX)), allItems, page500Ms: await time(() => store.list(PREFIX, { limit: 500 })) };
}

/** Updates random objects as fast as `inFlight` workers allow for `durationMs`. */
async function unpacedWrites(store: Store, n: number, inFlight: number, durationMs: number): Promise<{ writesPerSecond: number; latency: Latency }> {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + durationMs;
  let seq = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        const i = (seq++ * 7919) % n;
        const t0 = performance.now();
        await store.update(podKey(i), Buffer.from(podJson(i, seq)));
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { writesPerSecond: Math.round(latencies.length / ((performance.now() - started) / 1000)), latency: summarize(latencies) };
}

/**
 * Open-loop writes at `rate`/s for `seconds` (each write issued on schedule whether or not earlier
 * ones finished) while `watchers` watches follow the prefix. Delivery latency runs from the moment
 * a write is issued to the moment a watcher receives its event.
 */
async function pacedWithWatchers(store: Store, cfg: BenchConfig): Promise<Record<string, unknown>> {
  const from = await store.currentRevision();
  const issuedAt = new Map<string, number>();
  const delivery: number[] = [];
  const errors: string[] = [];
  const total = cfg.rate * cfg.seconds;
  let delivered = 0;
  const watches: Watch[] = Array.from({ length: cfg.watchers }, () =>
    store.watch(PREFIX, {
      afterRevision: from,
      onEvent: (e) => {
        const t0 = issuedAt.get(e.kv.key);
        if (t0 !== undefined) delivery.push(performance.now() - t0);
        delivered++;
      },
      onError: (e) => errors.push(e.message),
    }),
  );
  // Let the watches be established before the clock starts.
  await store.update(podKey(0), Buffer.from(podJson(0, -1)));
  await waitUntil(() => delivered >= cfg.watchers, 10_000);
  delivered = 0;

  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const intervalMs = 1000 / cfg.rate;
  const started = performance.now();
  let failed = 0;
  for (let i = 0; i < total; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    // Keys are distinct within the run (total <= objects), so the issue time maps by key.
    const key = podKey((i + 1) % cfg.objects);
    const t0 = performance.now();
    issuedAt.set(key, t0);
    pending.push(
      store.update(key, Buffer.from(podJson(i, i))).then(
        () => void latencies.push(performance.now() - t0),
        () => void failed++,
      ),
    );
  }
  await Promise.all(pending);
  const elapsedS = (performance.now() - started) / 1000;
  await waitUntil(() => delivered >= total * cfg.watchers, 30_000);
  watches.forEach((w) => w.stop());
  return {
    writes: total,
    failed,
    achievedWritesPerSecond: Math.round(total / elapsedS),
    writeLatency: summarize(latencies),
    watchers: cfg.watchers,
    watchDelivery: summarize(delivery),
    eventsDelivered: delivered,
    watchErrors: errors.slice(0, 3),
  };
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`bench: condition not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function summarize(values: number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  const round = (v: number) => Math.round(v * 100) / 100;
  return { count: sorted.length, p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), maxMs: round(sorted[sorted.length - 1] ?? 0) };
}

function rssMiB(): number {
  return Math.round((process.memoryUsage().rss / 1048576) * 10) / 10;
}

/** RSS once garbage is collected and freed buffers have gone back to the kernel. */
async function settledRssMiB(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return rssMiB();
}

function pidRssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Math.round((Number(m[1]) / 1024) * 10) / 10;
}

function podKey(i: number): string {
  return `${PREFIX}web-${String(i).padStart(5, '0')}`;
}

/** A pod as the API server would store it: about 3 KB of JSON. */
function podJson(i: number, generation = 0): string {
  const name = `web-${String(i).padStart(5, '0')}`;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'bench',
      uid: `6f0a${String(i).padStart(8, '0')}-1c2d-4e5f-8a9b-0c1d2e3f4a5b`,
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app: 'web', tier: 'frontend', 'pod-template-hash': '5d4c7b9f8', release: 'stable' },
      annotations: { 'moor.dev/bench-generation': String(generation), 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(900) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d4c7b9f8', uid: '0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      nodeName: `node-${i % 10}`,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      containers: [
        {
          name: 'web',
          image: '127.0.0.1:5000/moor/busybox:1.0',
          command: ['httpd', '-f', '-p', '8080'],
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'MODE', value: 'production' }, { name: 'REPLICA', value: String(i) }],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5, failureThreshold: 3 },
          livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 10, failureThreshold: 3 },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
    status: {
      phase: 'Running',
      hostIP: `10.0.0.${i % 250}`,
      podIP: `10.244.${Math.floor(i / 250) % 250}.${i % 250}`,
      startTime: '2026-01-01T00:00:01Z',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:02Z' })),
      containerStatuses: [
        {
          name: 'web',
          ready: true,
          restartCount: 0,
          image: '127.0.0.1:5000/moor/busybox:1.0',
          imageID: `127.0.0.1:5000/moor/busybox@sha256:${'a'.repeat(64)}`,
          containerID: `containerd://${'b'.repeat(64)}`,
          started: true,
          state: { running: { startedAt: '2026-01-01T00:00:02Z' } },
        },
      ],
      qosClass: 'Burstable',
    },
  });
}
