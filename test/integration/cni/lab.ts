// A network lab for moor-bridge tests and the benchmark: one netns playing the host (the plugin runs
// inside it, so its bridge, veths, sysctls and iptables rules never touch the machine's own
// namespace), pod netns on demand, a private directory for IPAM state and logs, and helpers to invoke
// the plugin binary the way a runtime does (environment + stdin, JSON on stdout). Names carry the
// prefix `mbt-` plus a random id, so parallel test files and other users never collide.
// cleanup() removes every namespace and file the lab made; it is safe to call twice.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync, renameSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const REFERENCE_DIR = '/usr/lib/cni';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** stdout parsed as JSON, undefined when empty or not JSON */
  readonly json: Record<string, unknown> | undefined;
}

export interface InvokeOptions {
  readonly command: string | undefined;
  readonly config: unknown;
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifName?: string;
  readonly args?: string;
  readonly cniPath?: string;
  /** plugin executable (default: moor-bridge) */
  readonly plugin?: string;
  /** extra or overriding environment; a value of undefined removes the variable */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** raw stdin instead of JSON.stringify(config) */
  readonly stdin?: string;
  /** called with the child once started (tests that kill it) */
  readonly onSpawn?: (pid: number) => void;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function sh(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.mjs')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

let pluginPath: string | undefined;

/**
 * The plugin executable to test: dist/moor-bridge when it is newer than every source file
 * (scripts/test.sh builds first), else a private build in a content-addressed temp directory made
 * with the same settings as scripts/build.mjs, so parallel test files never write to dist/.
 */
export async function moorBridgePath(): Promise<string> {
  if (pluginPath !== undefined) return pluginPath;
  const dist = join(REPO, 'dist', 'moor-bridge');
  const sources = Math.max(newestMtime(join(REPO, 'cni')), newestMtime(join(REPO, 'common')));
  if (existsSync(dist) && statSync(dist).mtimeMs >= sources) {
    pluginPath = dist;
    return dist;
  }
  const { bundleMoorBridge } = (await import(join(REPO, 'cni', 'bundle.mjs'))) as { bundleMoorBridge: () => Promise<string> };
  const code = await bundleMoorBridge();
  const dir = join(tmpdir(), `mbt-build-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`);
  const target = join(dir, 'moor-bridge');
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
    const tmp = `${target}.${process.pid}`;
    writeFileSync(tmp, code, { mode: 0o755 });
    renameSync(tmp, target);
  }
  pluginPath = target;
  return target;
}

export interface PodNs {
  readonly name: string;
  readonly path: string;
}

export class Lab {
  readonly id: string;
  readonly hostNs: string;
  readonly hostNsPath: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly #namespaces: string[] = [];
  #podCount = 0;
  #closed = false;

  private constructor(id: string) {
    this.id = id;
    this.hostNs = `mbt-${id}-h`;
    this.hostNsPath = `/run/netns/${this.hostNs}`;
    this.dir = mkdtempSync(join(tmpdir(), `mbt-${id}-`));
    this.dataDir = join(this.dir, 'ipam');
    this.logFile = join(this.dir, 'moor-bridge.log');
  }

  static async create(): Promise<Lab> {
    const lab = new Lab(randomBytes(4).toString('hex'));
    sh(['ip', 'netns', 'add', lab.hostNs]);
    lab.#namespaces.push(lab.hostNs);
    sh(['ip', '-n', lab.hostNs, 'link', 'set', 'lo', 'up']);
    return lab;
  }

  /** A short name unique to this lab, e.g. for bridges: prefix + 4 chars of the id. */
  name(prefix: string): string {
    return `${prefix}${this.id.slice(0, 6)}`;
  }

  podNs(): PodNs {
    const name = `mbt-${this.id}-p${this.#podCount++}`;
    sh(['ip', 'netns', 'add', name]);
    this.#namespaces.push(name);
    return { name, path: `/run/netns/${name}` };
  }

  removeNs(ns: PodNs): void {
    sh(['ip', 'netns', 'del', ns.name]);
    const i = this.#namespaces.indexOf(ns.name);
    if (i >= 0) this.#namespaces.splice(i, 1);
  }

  /** Run argv inside the host netns and return stdout. */
  host(argv: string[]): string {
    return sh(['nsenter', `--net=${this.hostNsPath}`, '--', ...argv]);
  }

  /** Run argv inside a pod netns; returns exit status and output instead of throwing. */
  pod(ns: PodNs, argv: string[]): { code: number; stdout: string } {
    try {
      return { code: 0, stdout: sh(['nsenter', `--net=${ns.path}`, '--', ...argv]) };
    } catch (err) {
      const e = err as { status?: number; stdout?: string };
      return { code: e.status ?? 1, stdout: e.stdout ?? '' };
    }
  }

  hostLinks(): { ifname: string; ifalias?: string; master?: string; linkinfo?: { info_kind?: string } }[] {
    return JSON.parse(this.host(['ip', '-j', '-d', 'link', 'show'])) as never;
  }

  hostVeths(): string[] {
    return this.hostLinks().filter((l) => l.linkinfo?.info_kind === 'veth').map((l) => l.ifname);
  }

  /** nat rules (iptables-save lines) mentioning moor-bridge or MOOR- chains. */
  natRules(family: 4 | 6 = 4): string[] {
    const out = this.host([family === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'nat']);
    return out.split('\n').filter((l) => /moor-bridge|MOOR-/.test(l));
  }

  /** Reservation files (addresses) in the built-in IPAM's directory for `network`. */
  reservations(network: string, dataDir = this.dataDir): string[] {
    const dir = join(dataDir, network);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => /^[0-9a-f.:]+$/i.test(f) && (f.includes('.') || f.includes(':')) && !f.startsWith('last_'));
  }

  ipamFiles(network: string, dataDir = this.dataDir): string[] {
    const dir = join(dataDir, network);
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  readReservation(network: string, ip: string, dataDir = this.dataDir): string {
    return readFileSync(join(dataDir, network, ip), 'utf8');
  }

  /** Invoke a plugin as a runtime does, inside the host netns. */
  async invoke(opts: InvokeOptions): Promise<RunResult> {
    const plugin = opts.plugin ?? (await moorBridgePath());
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CNI_')) env[k] = v;
    env.MOOR_CNI_LOG_FILE = this.logFile;
    if (opts.command !== undefined) env.CNI_COMMAND = opts.command;
    if (opts.containerId !== undefined) env.CNI_CONTAINERID = opts.containerId;
    if (opts.netns !== undefined) env.CNI_NETNS = opts.netns;
    if (opts.ifName !== undefined) env.CNI_IFNAME = opts.ifName;
    if (opts.args !== undefined) env.CNI_ARGS = opts.args;
    env.CNI_PATH = opts.cniPath ?? REFERENCE_DIR;
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const stdin = opts.stdin ?? JSON.stringify(opts.config);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const child = spawn('nsenter', [`--net=${this.hostNsPath}`, '--', plugin], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      if (child.pid !== undefined) opts.onSpawn?.(child.pid);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.on('error', () => undefined);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        let json: Record<string, unknown> | undefined;
        try {
          json = stdout.trim() === '' ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
        } catch {
          json = undefined;
        }
        resolve({ code, signal, stdout, stderr, durationMs: performance.now() - started, json });
      });
      child.stdin.end(stdin);
    });
  }

  /** Everything the lab made: namespaces (their veths and rules go with them) and files. */
  cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const name of [...this.#namespaces].reverse()) {
      try {
        sh(['ip', 'netns', 'del', name]);
      } catch {
        // already gone (a test removed it): nothing to clean
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A moor-bridge network config for `lab` (cniVersion 1.0.0 unless overridden). */
export function moorConfig(lab: Lab, overrides: Record<string, unknown> = {}, subnet = '10.210.0.0/24'): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: `mbt-${lab.id}`,
    type: 'moor-bridge',
    bridge: lab.name('mbtbr'),
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: true,
    logFile: lab.logFile,
    logLevel: 'debug',
    ipam: { ranges: [[{ subnet }]], dataDir: lab.dataDir },
    ...overrides,
  };
}
