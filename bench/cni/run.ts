// moor-bridge vs the reference bridge + host-local (/usr/lib/cni), side by side in one run, same
// subnet and options (isGateway, isDefaultGateway, ipMasq), each plugin in its own netns playing the
// host. Per round: N sequential ADDs into fresh pod netns (interleaved with each other and with a
// bare `node -e 0`), then the N DELs with prevResult; then P ADDs started at once (wall time until
// the last returns) and the P DELs. A third side, the floor (bench/cni/floor.cjs: Node started as
// moor-bridge starts, running the same two children and nothing else), shows where a Node plugin
// doing this work cannot go below. Then a profile of moor-bridge's own time from its debug log:
// process start + module load vs each subprocess. CPU time is measured too (the children's user +
// system time this process collects as it reaps them, /proc/self/stat): on 2 cores 20 parallel ADDs
// are CPU-bound, so CPU per ADD is what the parallel figure follows. Prints a table and JSON, and
// writes the JSON to bench/results/cni-<time>.json.
//
//   node --import tsx bench/cni/run.ts [--n 50] [--parallel 20] [--rounds 2] [--repeat 3] [--masq true|false] [--floor true|false]
//     [--plugin PATH]   (another moor-bridge build, e.g. an older one, instead of dist/moor-bridge)
//
// --repeat: parallel phases per round, each plugin in turn (the parallel figure is the noisiest).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Lab, REFERENCE_DIR, REPO, moorBridgePath, type PodNs, type RunResult } from '../../test/integration/cni/lab.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '50' },
    parallel: { type: 'string', default: '20' },
    repeat: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    masq: { type: 'string', default: 'true' },
    floor: { type: 'string', default: 'true' },
    plugin: { type: 'string' },
    profile: { type: 'string', default: '20' },
  },
});
const N = Number(values.n);
const P = Number(values.parallel);
const REPEAT = Number(values.repeat);
const ROUNDS = Number(values.rounds);
const MASQ = values.masq !== 'false';
const FLOOR = values.floor !== 'false' && MASQ;
const PROFILE = Number(values.profile);
const SUBNET = '10.240.0.0/24';

type Kind = 'moor' | 'ref' | 'floor';

interface Side {
  readonly kind: Kind;
  readonly lab: Lab;
  readonly plugin: string;
  readonly config: Record<string, unknown>;
}

function stats(samples: readonly number[]): { n: number; median: number; p90: number; min: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { n: s.length, median: round(at(0.5)), p90: round(at(0.9)), min: round(s[0] ?? NaN) };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * CPU time (ms) of the children this process has reaped, with their own reaped children: the plugin
 * and every process it ran. Clock ticks of 10 ms, so only sums over many invocations are exact.
 */
function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields from the third on: cutime and cstime are the 16th and 17th
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Run `fn` and add the CPU time of the children it reaped to `into` (a running sum). */
async function withCpu<T>(into: { ms: number; n: number }, count: number, fn: () => Promise<T>): Promise<T> {
  const before = childCpuMs();
  const out = await fn();
  into.ms += childCpuMs() - before;
  into.n += count;
  return out;
}

async function invoke(side: Side, command: 'ADD' | 'DEL', id: string, pod: PodNs, prevResult?: unknown): Promise<RunResult> {
  const res = await side.lab.invoke({
    command,
    plugin: side.plugin,
    config: prevResult === undefined ? side.config : { ...side.config, prevResult },
    containerId: id,
    netns: pod.path,
    ifName: 'eth0',
  });
  if (res.code !== 0) throw new Error(`${side.kind} ${command} ${id} failed: ${res.stdout}${res.stderr}`);
  return res;
}

/**
 * `node -e 0` through the same nsenter path as the plugins: the floor a Node plugin cannot go below.
 * `clean` runs it the way moor-bridge's shebang starts Node, without NODE_EXTRA_CA_CERTS and
 * NODE_OPTIONS (the CA file alone can cost ~40 ms of Node's start).
 */
function bareNode(lab: Lab, clean: boolean): Promise<number> {
  const started = performance.now();
  const node = clean ? ['/usr/bin/env', '-u', 'NODE_OPTIONS', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath] : [process.execPath];
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${lab.hostNsPath}`, '--', ...node, '-e', '0'], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - started));
  });
}

/** The floor (bench/cni/floor.cjs) as an executable started exactly as moor-bridge starts. */
async function writeFloor(dir: string): Promise<string> {
  const { SHEBANG_ENV, NODE_FLAGS } = (await import(join(REPO, 'cni', 'bundle.mjs'))) as { SHEBANG_ENV: string; NODE_FLAGS: string };
  const path = join(dir, 'moor-floor');
  writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(path, `#!${SHEBANG_ENV} ${process.execPath} ${NODE_FLAGS}\n${readFileSync(join(REPO, 'bench', 'cni', 'floor.cjs'), 'utf8')}`, { mode: 0o755 });
  return path;
}

/** `list` rotated left by `by`: each plugin goes first in turn. */
function rotate<T>(list: readonly T[], by: number): T[] {
  const n = by % list.length;
  return [...list.slice(n), ...list.slice(0, n)];
}

async function main(): Promise<void> {
  const moorPlugin = values.plugin ?? (await moorBridgePath());
  const labs: Record<Kind, Lab> = { moor: await Lab.create(), ref: await Lab.create(), floor: await Lab.create() };
  const cleanup = () => {
    for (const lab of Object.values(labs)) lab.cleanup();
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const common = { cniVersion: '1.0.0', isGateway: true, isDefaultGateway: true, ipMasq: MASQ };
    const moorConfig = { ...common, name: 'mbbench', type: 'moor-bridge', bridge: 'mbbench0', logFile: labs.moor.logFile, ipam: { ranges: [[{ subnet: SUBNET }]], dataDir: labs.moor.dataDir } };
    const sides: Record<Kind, Side> = {
      moor: { kind: 'moor', lab: labs.moor, plugin: moorPlugin, config: moorConfig },
      ref: {
        kind: 'ref', lab: labs.ref, plugin: join(REFERENCE_DIR, 'bridge'),
        config: { ...common, name: 'mbbench', type: 'bridge', bridge: 'mbbench0', ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]], dataDir: labs.ref.dataDir } },
      },
      floor: { kind: 'floor', lab: labs.floor, plugin: await writeFloor(labs.floor.dir), config: moorConfig },
    };
    // the floor only ADDs (it has no DEL): its pods go with their netns
    const kinds: Kind[] = FLOOR ? ['moor', 'ref', 'floor'] : ['moor', 'ref'];
    const delKinds: Kind[] = ['moor', 'ref'];
    const seq: Record<string, number[]> = { bare: [], bareClean: [] };
    const par: Record<string, number[]> = {};
    const cpuSum = () => ({ ms: 0, n: 0 });
    const cpu = { seq: { bareClean: cpuSum() } as Record<string, { ms: number; n: number }>, par: {} as Record<string, { ms: number; n: number }> };
    for (const k of kinds) {
      for (const op of k === 'floor' ? ['Add'] : ['Add', 'Del']) {
        seq[k + op] = [];
        par[k + op] = [];
        cpu.seq[k + op] = cpuSum();
        cpu.par[k + op] = cpuSum();
      }
    }

    for (let round = 0; round < ROUNDS; round++) {
      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${N} sequential ADD/DEL each\n`);
      const pods = Object.fromEntries(kinds.map((k) => [k, [] as PodNs[]])) as Record<Kind, PodNs[]>;
      const results = Object.fromEntries(kinds.map((k) => [k, [] as unknown[]])) as Record<Kind, unknown[]>;
      for (let i = 0; i < N; i++) for (const k of kinds) pods[k].push(labs[k].podNs());
      for (let i = 0; i < N; i++) {
        seq.bare!.push(await bareNode(labs.moor, false));
        seq.bareClean!.push(await withCpu(cpu.seq.bareClean!, 1, () => bareNode(labs.moor, true)));
        for (const k of rotate(kinds, i)) {
          const r = await withCpu(cpu.seq[`${k}Add`]!, 1, () => invoke(sides[k], 'ADD', `seq-${round}-${i}`, pods[k][i]!));
          seq[`${k}Add`]!.push(r.durationMs);
          results[k][i] = r.json;
        }
      }
      for (let i = 0; i < N; i++) {
        for (const k of rotate(delKinds, i + 1)) {
          const r = await withCpu(cpu.seq[`${k}Del`]!, 1, () => invoke(sides[k], 'DEL', `seq-${round}-${i}`, pods[k][i]!, results[k][i]));
          seq[`${k}Del`]!.push(r.durationMs);
        }
      }
      for (const k of kinds) for (const p of pods[k]) labs[k].removeNs(p);

      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${REPEAT} x ${P} parallel ADD/DEL each\n`);
      for (let rep = 0; rep < REPEAT; rep++) {
        for (const k of rotate(kinds, round * REPEAT + rep)) {
          const ps = Array.from({ length: P }, () => labs[k].podNs());
          const tag = `par-${round}-${rep}`;
          let t0 = performance.now();
          const adds = await withCpu(cpu.par[`${k}Add`]!, P, () => Promise.all(ps.map((p, i) => invoke(sides[k], 'ADD', `${tag}-${i}`, p))));
          par[`${k}Add`]!.push(performance.now() - t0);
          if (k !== 'floor') {
            t0 = performance.now();
            await withCpu(cpu.par[`${k}Del`]!, P, () => Promise.all(ps.map((p, i) => invoke(sides[k], 'DEL', `${tag}-${i}`, p, adds[i]!.json))));
            par[`${k}Del`]!.push(performance.now() - t0);
          }
          for (const p of ps) labs[k].removeNs(p);
        }
      }
    }

    process.stderr.write(`profile: ${PROFILE} moor-bridge ADD/DEL with debug logging\n`);
    const profile = await profileMoor(sides.moor, PROFILE);

    const s = Object.fromEntries(Object.entries(seq).map(([k, v]) => [k, stats(v)])) as Record<string, ReturnType<typeof stats>>;
    const p = Object.fromEntries(Object.entries(par).map(([k, v]) => [k, stats(v)])) as Record<string, ReturnType<typeof stats>>;
    const cpuPerCallMs = {
      sequential: Object.fromEntries(Object.entries(cpu.seq).map(([k, v]) => [k, round(v.ms / Math.max(1, v.n))])),
      parallel: Object.fromEntries(Object.entries(cpu.par).map(([k, v]) => [k, round(v.ms / Math.max(1, v.n))])),
    };
    const ratio = (a: string, b: string, field: 'median' | 'p90' | 'min', from: Record<string, ReturnType<typeof stats>>) =>
      from[a] === undefined || from[b] === undefined ? undefined : round2(from[a]![field] / from[b]![field]);
    const report = {
      bench: 'cni',
      at: new Date().toISOString(),
      config: { plugin: moorPlugin, n: N, parallel: P, rounds: ROUNDS, repeat: REPEAT, ipMasq: MASQ, floor: FLOOR, subnet: SUBNET, cniVersion: '1.0.0', node: process.version },
      sequentialMs: s,
      parallelWallMs: p,
      ratios: {
        addMedian: ratio('moorAdd', 'refAdd', 'median', s),
        addP90: ratio('moorAdd', 'refAdd', 'p90', s),
        delMedian: ratio('moorDel', 'refDel', 'median', s),
        delP90: ratio('moorDel', 'refDel', 'p90', s),
        parallelAdd: ratio('moorAdd', 'refAdd', 'median', p),
        parallelAddMin: ratio('moorAdd', 'refAdd', 'min', p),
        parallelDel: ratio('moorDel', 'refDel', 'median', p),
        // the floor against the reference: where a Node plugin doing this work cannot go below
        floorAddMedian: ratio('floorAdd', 'refAdd', 'median', s),
        floorParallelAdd: ratio('floorAdd', 'refAdd', 'median', p),
        cpuPerAddSequential: round2(cpuPerCallMs.sequential.moorAdd! / cpuPerCallMs.sequential.refAdd!),
        cpuPerAddParallel: round2(cpuPerCallMs.parallel.moorAdd! / cpuPerCallMs.parallel.refAdd!),
      },
      // mean CPU (user + system, the plugin and everything it ran) per invocation
      cpuPerCallMs,
      addAboveBareNodeMs: round(s.moorAdd!.median - s.bare!.median),
      addAboveCleanBareNodeMs: round(s.moorAdd!.median - s.bareClean!.median),
      nodeExtraCaCertsSet: process.env.NODE_EXTRA_CA_CERTS !== undefined,
      targets: {
        'DEL median <= 1.0x reference': s.moorDel!.median <= s.refDel!.median,
        'ADD median <= bare node + 25 ms': s.moorAdd!.median - s.bare!.median <= 25,
        'ADD median <= bare node without NODE_EXTRA_CA_CERTS + 25 ms': s.moorAdd!.median - s.bareClean!.median <= 25,
        '20 parallel ADDs <= 1.0x reference': p.moorAdd!.median <= p.refAdd!.median,
      },
      profile,
    };
    printTable(report);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    const dir = join(REPO, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `cni-${report.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`written to ${file}\n`);
  } finally {
    cleanup();
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Where moor-bridge's time goes, from its own debug log: in-process work per step vs the rest. */
async function profileMoor(side: Side, count: number): Promise<Record<string, unknown>> {
  const lab = side.lab;
  const config = { ...side.config, logLevel: 'debug', logFile: join(lab.dir, 'profile.log') };
  const walls: Record<'ADD' | 'DEL', number[]> = { ADD: [], DEL: [] };
  const pods: PodNs[] = [];
  const results: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const pod = lab.podNs();
    pods.push(pod);
    const r = await lab.invoke({ command: 'ADD', plugin: side.plugin, config, containerId: `prof-${i}`, netns: pod.path, ifName: 'eth0' });
    walls.ADD.push(r.durationMs);
    results.push(r.json);
  }
  for (let i = 0; i < count; i++) {
    const r = await lab.invoke({ command: 'DEL', plugin: side.plugin, config: { ...config, prevResult: results[i] }, containerId: `prof-${i}`, netns: pods[i]!.path, ifName: 'eth0' });
    walls.DEL.push(r.durationMs);
  }
  const lines = readFileSync(join(lab.dir, 'profile.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const cmd of ['ADD', 'DEL'] as const) {
    const mine = lines.filter((l) => l.cmd === cmd);
    const inPlugin = mine.filter((l) => l.msg === `${cmd} done`).map((l) => Number(l.durationMs));
    const steps: Record<string, number[]> = {};
    for (const l of mine.filter((x) => x.msg === 'command finished')) {
      const argv = l.argv as string[];
      // the host batch forks the pod batch itself when the netns is named; nsenter or -n: a pod batch of its own
      const inPod = argv[0] === 'nsenter' || argv[1] === '-n';
      const key = inPod ? 'ip batch in pod netns' : argv[0] === 'ip' ? 'ip batches (host, pod nested)' : argv[0]!;
      (steps[key] ??= []).push(Number(l.durationMs));
    }
    const wall = stats(walls[cmd]).median;
    const work = stats(inPlugin).median;
    out[cmd] = {
      wallMedianMs: wall,
      inPluginMedianMs: work,
      startAndLoadMedianMs: round(wall - work),
      subprocessMedianMs: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, stats(v).median])),
    };
  }
  for (const p of pods) lab.removeNs(p);
  return out;
}

function printTable(r: {
  sequentialMs: Record<string, { median: number; p90: number }>;
  parallelWallMs: Record<string, { median: number; min: number }>;
  cpuPerCallMs: { sequential: Record<string, number>; parallel: Record<string, number> };
  ratios: Record<string, number | undefined>;
  addAboveBareNodeMs: number;
  addAboveCleanBareNodeMs: number;
}): void {
  const s = r.sequentialMs;
  const p = r.parallelWallMs;
  const row = (name: string, moor: string, ref: string, ratio: string) => `${name.padEnd(22)}${moor.padStart(14)}${ref.padStart(14)}${ratio.padStart(10)}\n`;
  let out = row('', 'moor-bridge', 'reference', 'ratio');
  out += row('ADD median / p90 ms', `${s.moorAdd!.median} / ${s.moorAdd!.p90}`, `${s.refAdd!.median} / ${s.refAdd!.p90}`, `${r.ratios.addMedian}`);
  out += row('DEL median / p90 ms', `${s.moorDel!.median} / ${s.moorDel!.p90}`, `${s.refDel!.median} / ${s.refDel!.p90}`, `${r.ratios.delMedian}`);
  out += row(`${P} par. ADDs med/min`, `${Math.round(p.moorAdd!.median)} / ${Math.round(p.moorAdd!.min)}`, `${Math.round(p.refAdd!.median)} / ${Math.round(p.refAdd!.min)}`, `${r.ratios.parallelAdd}`);
  out += row(`${P} par. DELs med/min`, `${Math.round(p.moorDel!.median)} / ${Math.round(p.moorDel!.min)}`, `${Math.round(p.refDel!.median)} / ${Math.round(p.refDel!.min)}`, `${r.ratios.parallelDel}`);
  const c = r.cpuPerCallMs;
  out += row('CPU/ADD seq, par ms', `${c.sequential.moorAdd} / ${c.parallel.moorAdd}`, `${c.sequential.refAdd} / ${c.parallel.refAdd}`, `${round2(c.sequential.moorAdd! / c.sequential.refAdd!)}`);
  out += row('CPU/DEL seq, par ms', `${c.sequential.moorDel} / ${c.parallel.moorDel}`, `${c.sequential.refDel} / ${c.parallel.refDel}`, `${round2(c.sequential.moorDel! / c.sequential.refDel!)}`);
  if (s.floorAdd !== undefined && p.floorAdd !== undefined) {
    out += row('floor: ADD median ms', `${s.floorAdd.median}`, `${s.refAdd!.median}`, `${r.ratios.floorAddMedian}`);
    out += row(`floor: ${P} par. ADDs`, `${Math.round(p.floorAdd.median)} / ${Math.round(p.floorAdd.min)}`, `${Math.round(p.refAdd!.median)} / ${Math.round(p.refAdd!.min)}`, `${r.ratios.floorParallelAdd}`);
    out += row('floor: CPU/ADD seq, par', `${c.sequential.floorAdd} / ${c.parallel.floorAdd}`, `${c.sequential.refAdd} / ${c.parallel.refAdd}`, `${round2(c.sequential.floorAdd! / c.sequential.refAdd!)}`);
  }
  out += `bare node -e 0 (as moor-bridge starts it) CPU ${c.sequential.bareClean} ms\n`;
  out += `bare node -e 0 median ${s.bare!.median} ms; moor-bridge ADD is ${r.addAboveBareNodeMs} ms above it\n`;
  out += `bare node -e 0 without NODE_EXTRA_CA_CERTS/NODE_OPTIONS (as moor-bridge starts) median ${s.bareClean!.median} ms; ADD is ${r.addAboveCleanBareNodeMs} ms above it\n`;
  process.stderr.write(out);
}

await main();
