// API-level benchmark of `moor server` over HTTPS, SQLite vs etcd in one run: create N pods
// (throughput, p50/p99); pod updates paced at --rate writes/s (write latency); then --watchers clients
// watching all pods while updates run at --watch-rate writes/s (delivery latency from request sent to
// event received); server RSS with N pods stored; a Table page and a full list of them (what
// `kubectl get pods -A` costs). The server runs as a child process (the integration tests' harness,
// the built dist/moor.mjs when present); everything stays on 127.0.0.1. The benchmark client shares
// the machine's two cores with the server.
//
//   node --import tsx bench/apiserver/api-bench.ts [--pods 10000] [--rate 200] [--seconds 10]
//        [--watchers 100] [--watch-rate 20] [--backends sqlite,etcd]

import { Agent, request } from 'node:https';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ServerProcess, REPO } from '../../test/integration/controlplane/apiserver/harness.ts';
import { startEtcd, type EtcdServer } from '../../test/helpers/etcd.ts';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    watchers: { type: 'string', default: '100' },
    'watch-rate': { type: 'string', default: '20' },
    backends: { type: 'string', default: 'sqlite,etcd' },
    concurrency: { type: 'string', default: '16' },
  },
});
const config = { pods: Number(values.pods), rate: Number(values.rate), seconds: Number(values.seconds), watchers: Number(values.watchers), watchRate: Number(values['watch-rate']), concurrency: Number(values.concurrency) };

interface Latency { count: number; p50Ms: number; p99Ms: number; maxMs: number }

function summarize(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(q * s.length))]);
  return { count: s.length, p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), maxMs: round(s[s.length - 1] ?? 0) };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function podBody(i: number): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `bench-${i}`, labels: { app: 'bench', shard: String(i % 10) }, annotations: { 'bench/sent': '0' } },
    spec: {
      nodeName: `node-${i % 50}`,
      containers: [{ name: 'app', image: 'registry.local/bench/app:1.0', command: ['/app', '--port=8080'], ports: [{ containerPort: 8080, name: 'http' }],
        env: Array.from({ length: 8 }, (_, j) => ({ name: `VAR_${j}`, value: `value-${j}-${'x'.repeat(40)}` })),
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
        readinessProbe: { httpGet: { path: '/healthz', port: 8080 } } }],
    },
  });
}

async function runBackend(backend: string): Promise<Record<string, unknown>> {
  let etcd: EtcdServer | undefined;
  if (backend === 'etcd') etcd = await startEtcd();
  // The built bundle when there is one: what users run, and RSS without the TypeScript loader.
  const srv = new ServerProcess({ args: etcd === undefined ? [] : ['--datastore-endpoint', etcd.endpoint], useDist: existsSync(join(REPO, 'dist/moor.mjs')),
    nodeArgs: process.env.MOOR_BENCH_CPU_PROF === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.MOOR_BENCH_CPU_PROF}`] });
  await srv.start();
  const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency + 4, ca: srv.ca });
  const call = (method: string, path: string, body?: string, contentType = 'application/json', accept?: string): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Authorization: `Bearer ${srv.adminToken}` };
      if (body !== undefined) { headers['Content-Type'] = contentType; headers['Content-Length'] = String(Buffer.byteLength(body)); }
      if (accept !== undefined) headers.Accept = accept;
      const req = request({ host: '127.0.0.1', port: srv.port, path, method, agent, headers, servername: 'localhost' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    // Phase 1: create the pods, `concurrency` requests in flight.
    const createLat: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: config.concurrency }, async () => {
      while (next < config.pods) {
        const i = next++;
        const s = performance.now();
        const r = await call('POST', '/api/v1/namespaces/default/pods', podBody(i));
        if (r.status !== 201) throw new Error(`create pod ${i}: ${r.status} ${r.text}`);
        createLat.push(performance.now() - s);
      }
    }));
    const createSeconds = (performance.now() - t0) / 1000;
    const rssStoredMiB = rssMiB(srv.pid);

    // Phase 2: paced updates, nobody watching: write latency at --rate.
    const paced = await pacedUpdates(call, config.rate, config.seconds, config.pods);

    // Phase 3: watchers on all pods while updates run at --watch-rate; each update carries its send time.
    const watchLat: number[] = [];
    const list = JSON.parse((await call('GET', '/api/v1/namespaces/default/pods?limit=1')).text);
    // The client pulls the send time out with a regular expression: parsing every event in full would
    // make this process, not the server, the bottleneck on two cores.
    const watches = Array.from({ length: config.watchers }, () => openWatch(srv, `/api/v1/namespaces/default/pods?watch=true&resourceVersion=${list.metadata.resourceVersion}`, (line) => {
      const m = line.match(/"bench\/sent":"(\d+(?:\.\d+)?)"/);
      const sent = m === null ? 0 : Number(m[1]);
      if (sent > 0) watchLat.push(performance.timeOrigin + performance.now() - sent);
    }));
    await Promise.all(watches.map((w) => w.ready));
    const watched = await pacedUpdates(call, config.watchRate, config.seconds, config.pods);
    const expected = watched.writes * config.watchers;
    const deadline = Date.now() + 30_000;
    while (watchLat.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const w of watches) w.close();
    const rssAfterWatchMiB = rssMiB(srv.pid);

    // Phase 4: the Table list kubectl get pods -A asks for.
    const ls = performance.now();
    const table = await call('GET', '/api/v1/pods?limit=500', undefined, 'application/json', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json');
    const firstPageMs = performance.now() - ls;
    const fs = performance.now();
    const full = await call('GET', '/api/v1/pods');
    const fullListMs = performance.now() - fs;
    return {
      backend,
      server: existsSync(join(REPO, 'dist/moor.mjs')) ? 'dist/moor.mjs' : 'sources via tsx',
      create: { pods: config.pods, concurrency: config.concurrency, podsPerSecond: Math.round(config.pods / createSeconds), latency: summarize(createLat) },
      paced: { targetRate: config.rate, ...paced },
      watch: { watchers: config.watchers, writeRate: config.watchRate, writes: watched, expectedEvents: expected, deliveredEvents: watchLat.length, latency: summarize(watchLat) },
      list: { tablePage500Ms: round(firstPageMs), tableBytes: table.text.length, fullJsonMs: round(fullListMs), fullJsonMiB: round(full.text.length / 1048576) },
      rssMiB: { withPodsStored: rssStoredMiB, afterWatchPhase: rssAfterWatchMiB, afterList: rssMiB(srv.pid) },
    };
  } finally {
    agent.destroy();
    await srv.dispose();
    await etcd?.stop();
  }
}

type Call = (method: string, path: string, body?: string, contentType?: string) => Promise<{ status: number; text: string }>;

/** Merge-patch one pod annotation (the send time) at `rate` per second for `seconds`. */
async function pacedUpdates(call: Call, rate: number, seconds: number, pods: number): Promise<{ writes: number; achievedRate: number; latency: Latency }> {
  const lat: number[] = [];
  const total = Math.max(1, Math.round(rate * seconds));
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sentAt = performance.timeOrigin + performance.now();
    const s = performance.now();
    pending.push(call('PATCH', `/api/v1/namespaces/default/pods/bench-${i % pods}`, JSON.stringify({ metadata: { annotations: { 'bench/sent': String(sentAt) } } }), 'application/merge-patch+json').then((r) => {
      if (r.status !== 200) throw new Error(`patch: ${r.status} ${r.text}`);
      lat.push(performance.now() - s);
    }));
  }
  await Promise.all(pending);
  return { writes: total, achievedRate: Math.round(total / ((performance.now() - start) / 1000)), latency: summarize(lat) };
}

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m === null ? 0 : Math.round(Number(m[1]) / 1024);
}

function openWatch(srv: ServerProcess, path: string, onLine: (line: string) => void): { ready: Promise<void>; close(): void } {
  let close = (): void => {};
  const ready = new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, ca: srv.ca, servername: 'localhost', headers: { Authorization: `Bearer ${srv.adminToken}` } }, (res) => {
      resolve();
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line !== '') onLine(line);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (err) => { reject(err); });
    req.end();
    close = () => req.destroy();
  });
  return { ready, close: () => close() };
}

const results: Record<string, unknown> = {};
for (const backend of values.backends!.split(',')) {
  process.stderr.write(`api bench: ${backend}...\n`);
  results[backend] = await runBackend(backend);
}
const out = { bench: 'apiserver-api', date: new Date().toISOString(), config, results };
const dir = join(REPO, 'bench/results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `api-${Date.now()}.json`), `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
