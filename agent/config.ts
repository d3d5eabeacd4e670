// The agent's configuration: defaults, then the --config file (YAML or JSON, camelCase keys), then
// flags (kubelet's names where they mean the same), validated into a frozen AgentConfig. Pure
// except for reading the config file; every problem is a ConfigError naming the flag and value.

import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { NodeError, errorMessage } from '../common/errors.ts';

export class ConfigError extends NodeError {
  constructor(message: string) {
    super('agent-config-invalid', message);
  }
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface BackoffConfig {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface AgentConfig {
  readonly containerRuntimeEndpoint: string;
  /** '' when no manifest path is set: the agent then runs no static pods. */
  readonly podManifestPath: string;
  readonly rootDir: string;
  readonly podLogsDir: string;
  readonly nodeName: string;
  /** '' means: detect (the address of the default route's interface). */
  readonly nodeIp: string;
  readonly maxPods: number;
  readonly address: string;
  /** 0 picks a free port (logged at start). */
  readonly port: number;
  readonly cgroupRoot: string;
  readonly resolvConf: string;
  readonly syncFrequencyMs: number;
  readonly relistPeriodMs: number;
  readonly fileCheckFrequencyMs: number;
  readonly runtimeRequestTimeoutMs: number;
  readonly crashLoopBackOff: BackoffConfig;
  readonly imagePullBackOff: BackoffConfig;
  readonly logLevel: LogLevel;
  /** '' = standalone; else the kubeconfig the agent joins the control plane with. */
  readonly kubeconfig: string;
  readonly nodeStatusUpdateFrequencyMs: number;
  /** '' = leave the CNI config alone; else write the moor-bridge conflist for the node's pod CIDR there (joined only). */
  readonly cniConfDir: string;
  /** Bridge of that conflist; also names the network (`moor` for moor0, else `moor-<bridge>`). */
  readonly cniBridge: string;
  /** Destinations pods reach with their own source IP besides the node's pod CIDR (the cluster CIDR); '' = none. */
  readonly nonMasqueradeCidr: string;
  /** 'host-gw': routes to the other nodes' pod CIDRs via their node IPs (joined only); 'none': left to the network. */
  readonly podNetworkRoutes: string;
  /** HTTPS serving certificate and key ('' = self-signed in <root-dir>/pki when joined, plain HTTP standalone). */
  readonly tlsCertFile: string;
  readonly tlsPrivateKeyFile: string;
  /** CA of the client certificates the HTTPS API requires ('' = the cluster CA from the kubeconfig when joined). */
  readonly clientCaFile: string;
}

export const DEFAULTS: AgentConfig = Object.freeze({
  containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
  podManifestPath: '/etc/moor/manifests',
  rootDir: '/var/lib/moor/agent',
  podLogsDir: '/var/log/pods',
  nodeName: '',
  nodeIp: '',
  maxPods: 110,
  address: '127.0.0.1',
  port: 10250,
  cgroupRoot: '/moor',
  resolvConf: '/etc/resolv.conf',
  syncFrequencyMs: 60_000,
  relistPeriodMs: 1_000,
  fileCheckFrequencyMs: 20_000,
  runtimeRequestTimeoutMs: 120_000,
  crashLoopBackOff: Object.freeze({ initialMs: 10_000, maxMs: 300_000 }),
  imagePullBackOff: Object.freeze({ initialMs: 10_000, maxMs: 300_000 }),
  logLevel: 'info',
  kubeconfig: '',
  nodeStatusUpdateFrequencyMs: 10_000,
  cniConfDir: '',
  cniBridge: 'moor0',
  nonMasqueradeCidr: '',
  podNetworkRoutes: 'none',
  tlsCertFile: '',
  tlsPrivateKeyFile: '',
  clientCaFile: '',
});

type Kind = 'string' | 'path' | 'int' | 'port' | 'duration' | 'endpoint' | 'ip' | 'level' | 'cidr';

interface Setting {
  readonly flag: string;
  /** Key in the config file. */
  readonly key: string;
  /** Path in AgentConfig. */
  readonly target: string;
  readonly kind: Kind;
  readonly help: string;
  /** Also accepted in the config file under this name (the kubelet's). */
  readonly alias?: string;
}

export const SETTINGS: readonly Setting[] = [
  { flag: 'container-runtime-endpoint', key: 'containerRuntimeEndpoint', target: 'containerRuntimeEndpoint', kind: 'endpoint', help: 'CRI endpoint of containerd (unix:///path/to.sock)' },
  { flag: 'pod-manifest-path', key: 'podManifestPath', alias: 'staticPodPath', target: 'podManifestPath', kind: 'path', help: 'directory (or file) of pod manifests to run' },
  { flag: 'root-dir', key: 'rootDir', target: 'rootDir', kind: 'path', help: 'directory for the agent state and pod volumes' },
  { flag: 'pod-logs-dir', key: 'podLogsDir', target: 'podLogsDir', kind: 'path', help: 'directory of pod log directories' },
  { flag: 'hostname-override', key: 'hostnameOverride', target: 'nodeName', kind: 'string', help: 'node name instead of the host name' },
  { flag: 'node-ip', key: 'nodeIP', target: 'nodeIp', kind: 'ip', help: 'IP address of the node' },
  { flag: 'max-pods', key: 'maxPods', target: 'maxPods', kind: 'int', help: 'most pods the node runs' },
  { flag: 'address', key: 'address', target: 'address', kind: 'ip', help: 'address the HTTP API listens on' },
  { flag: 'port', key: 'port', target: 'port', kind: 'port', help: 'port of the HTTP API (0: any free port)' },
  { flag: 'cgroup-root', key: 'cgroupRoot', target: 'cgroupRoot', kind: 'path', help: 'cgroup under which pod cgroups are made' },
  { flag: 'resolv-conf', key: 'resolvConf', target: 'resolvConf', kind: 'path', help: 'the node resolv.conf merged into pods with a dnsConfig' },
  { flag: 'sync-frequency', key: 'syncFrequency', target: 'syncFrequencyMs', kind: 'duration', help: 'period of the full resync of every pod' },
  { flag: 'relist-period', key: 'relistPeriod', target: 'relistPeriodMs', kind: 'duration', help: 'period of the runtime relist' },
  { flag: 'file-check-frequency', key: 'fileCheckFrequency', target: 'fileCheckFrequencyMs', kind: 'duration', help: 'period of the full manifest rescan' },
  { flag: 'runtime-request-timeout', key: 'runtimeRequestTimeout', target: 'runtimeRequestTimeoutMs', kind: 'duration', help: 'deadline of CRI calls' },
  { flag: 'crash-loop-backoff-initial', key: 'crashLoopBackOff.initial', target: 'crashLoopBackOff.initialMs', kind: 'duration', help: 'first crash-loop restart delay (upstream: 10s)' },
  { flag: 'crash-loop-backoff-max', key: 'crashLoopBackOff.max', alias: 'crashLoopBackOff.maxContainerRestartPeriod', target: 'crashLoopBackOff.maxMs', kind: 'duration', help: 'longest crash-loop restart delay (upstream: 5m)' },
  { flag: 'image-pull-backoff-initial', key: 'imagePullBackOff.initial', target: 'imagePullBackOff.initialMs', kind: 'duration', help: 'first image pull retry delay (upstream: 10s)' },
  { flag: 'image-pull-backoff-max', key: 'imagePullBackOff.max', target: 'imagePullBackOff.maxMs', kind: 'duration', help: 'longest image pull retry delay (upstream: 5m)' },
  { flag: 'kubeconfig', key: 'kubeconfig', target: 'kubeconfig', kind: 'path', help: 'kubeconfig of the control plane to join (node registration, lease, pods bound to the node)' },
  { flag: 'node-status-update-frequency', key: 'nodeStatusUpdateFrequency', target: 'nodeStatusUpdateFrequencyMs', kind: 'duration', help: 'period of the node status update when joined' },
  { flag: 'cni-conf-dir', key: 'cniConfDir', target: 'cniConfDir', kind: 'path', help: "write the moor-bridge conflist for the node's pod CIDR (from the server) in this directory" },
  { flag: 'cni-bridge', key: 'cniBridge', target: 'cniBridge', kind: 'string', help: 'bridge of the conflist written in --cni-conf-dir (default moor0)' },
  { flag: 'non-masquerade-cidr', key: 'nonMasqueradeCIDR', target: 'nonMasqueradeCidr', kind: 'cidr', help: 'traffic to this CIDR (the cluster CIDR) keeps the pod source IP; default: only the node pod CIDR' },
  { flag: 'pod-network-routes', key: 'podNetworkRoutes', target: 'podNetworkRoutes', kind: 'string', help: "host-gw: route the other nodes' pod CIDRs via their node IPs (nodes on one network); none (default)" },
  { flag: 'tls-cert-file', key: 'tlsCertFile', target: 'tlsCertFile', kind: 'path', help: 'HTTPS certificate of the API (default when joined: self-signed in <root-dir>/pki)' },
  { flag: 'tls-private-key-file', key: 'tlsPrivateKeyFile', target: 'tlsPrivateKeyFile', kind: 'path', help: 'key of --tls-cert-file' },
  { flag: 'client-ca-file', key: 'clientCAFile', target: 'clientCaFile', kind: 'path', help: 'CA of the client certificates the HTTPS API requires (default when joined: the cluster CA)' },
  { flag: 'log-level', key: 'logLevel', target: 'logLevel', kind: 'level', help: 'trace, debug, info, warn, error' },
];

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "500ms", "10s", "5m", "1h", or Go-style combinations like "1m30s", in milliseconds. */
export function parseDuration(text: string): number | undefined {
  const parts = text.match(/\d+(?:\.\d+)?(?:ms|s|m|h)/g);
  if (parts === null || parts.join('') !== text) return undefined;
  let total = 0;
  for (const p of parts) {
    const m = DURATION.exec(p)!;
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return Math.round(total);
}

function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIpv4Cidr(s: string): boolean {
  const [ip, bits, extra] = s.split('/');
  return extra === undefined && isIpv4(ip) && /^\d{1,2}$/.test(bits ?? '') && Number(bits) <= 32;
}

function isIp(s: string): boolean {
  return isIpv4(s) || (/^[0-9a-fA-F:]+$/.test(s) && s.includes(':'));
}

function convert(s: Setting, raw: unknown, origin: string): unknown {
  const bad = (why: string): ConfigError => new ConfigError(`${origin}: invalid value ${JSON.stringify(raw)}: ${why}`);
  switch (s.kind) {
    case 'int':
    case 'port': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < 0) throw bad('must be a non-negative integer');
      if (s.kind === 'port' && n > 65535) throw bad('must be a port number (0-65535)');
      if (s.kind === 'int' && n < 1) throw bad('must be at least 1');
      return n;
    }
    case 'duration': {
      const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
      if (ms === undefined) throw bad('must be a duration such as 500ms, 10s, 5m');
      if (ms <= 0) throw bad('must be more than 0');
      return ms;
    }
    case 'level':
      if (typeof raw !== 'string' || !LEVELS.includes(raw as LogLevel)) throw bad(`must be one of ${LEVELS.join(', ')}`);
      return raw;
    default: {
      if (typeof raw !== 'string') throw bad('must be a string');
      if (s.kind === 'path' && raw !== '' && !raw.startsWith('/')) throw bad('must be an absolute path');
      if (s.kind === 'ip' && raw !== '' && !isIp(raw)) throw bad('must be an IP address');
      if (s.kind === 'cidr' && raw !== '' && !isIpv4Cidr(raw)) throw bad('must be an IPv4 CIDR such as 10.244.0.0/16');
      if (s.kind === 'endpoint' && !/^(unix:\/\/)?\/.+/.test(raw)) throw bad('must be a unix socket endpoint such as unix:///run/containerd/containerd.sock');
      if (s.kind === 'string' && s.target === 'cniBridge' && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(raw)) throw bad('must be an interface name of at most 15 letters, digits, "_", "." or "-"');
      if (s.kind === 'string' && s.target === 'podNetworkRoutes' && raw !== 'host-gw' && raw !== 'none') throw bad('must be host-gw or none');
      if (s.kind === 'string' && s.target === 'nodeName' && raw !== '' && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(raw)) throw bad('must be a lowercase RFC 1123 name');
      return raw;
    }
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const [head, tail] = key.split('.');
  if (tail === undefined) target[head] = value;
  else target[head] = { ...(target[head] as Record<string, unknown>), [tail]: value };
}

function flattenFile(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && prefix === '') out.push(...flattenFile(v as Record<string, unknown>, key));
    else out.push([key, v]);
  }
  return out;
}

export interface ParsedArgs {
  readonly values: ReadonlyMap<string, string>;
  readonly configFile?: string;
  readonly help: boolean;
}

/** `--flag=value` or `--flag value`; unknown flags are errors. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const values = new Map<string, string>();
  let configFile: string | undefined;
  let help = false;
  const known = new Set([...SETTINGS.map((s) => s.flag), 'config']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.has(name)) throw new ConfigError(`unknown flag --${name}`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new ConfigError(`flag --${name} needs a value`);
      value = argv[++i];
    }
    if (name === 'config') configFile = value;
    else values.set(name, value);
  }
  return { values, ...(configFile !== undefined ? { configFile } : {}), help };
}

export function usage(): string {
  const lines = SETTINGS.map((s) => `  --${s.flag.padEnd(28)} ${s.help}`);
  return `usage: moor agent [flags]\n\nflags:\n  --${'config'.padEnd(28)} configuration file (YAML or JSON; flags win)\n${lines.join('\n')}\n`;
}

/** Build the configuration from a parsed config file (already decoded) and flags. */
export function buildConfig(opts: { file?: unknown; fileName?: string; flags: ReadonlyMap<string, string>; defaultNodeName?: string }): AgentConfig {
  const out = structuredClone(DEFAULTS) as unknown as Record<string, unknown>;
  if (opts.file !== undefined && opts.file !== null) {
    if (typeof opts.file !== 'object' || Array.isArray(opts.file)) throw new ConfigError(`read config ${opts.fileName ?? ''}: must be a mapping of settings`);
    for (const [key, raw] of flattenFile(opts.file as Record<string, unknown>)) {
      if (key === 'kind' || key === 'apiVersion') continue;
      const s = SETTINGS.find((x) => x.key === key || x.alias === key);
      if (s === undefined) throw new ConfigError(`read config ${opts.fileName ?? ''}: unknown setting ${JSON.stringify(key)}`);
      setPath(out, s.target, convert(s, raw, `config ${opts.fileName ?? ''} setting ${key}`));
    }
  }
  for (const [flag, raw] of opts.flags) {
    const s = SETTINGS.find((x) => x.flag === flag)!;
    setPath(out, s.target, convert(s, raw, `flag --${flag}`));
  }
  const cfg = out as unknown as AgentConfig;
  const nodeName = cfg.nodeName !== '' ? cfg.nodeName : (opts.defaultNodeName ?? hostname()).toLowerCase();
  for (const b of ['crashLoopBackOff', 'imagePullBackOff'] as const) {
    if (cfg[b].maxMs < cfg[b].initialMs) throw new ConfigError(`${b}: maximum ${cfg[b].maxMs} ms is below the initial ${cfg[b].initialMs} ms`);
  }
  if ((cfg.tlsCertFile === '') !== (cfg.tlsPrivateKeyFile === '')) throw new ConfigError('flags --tls-cert-file and --tls-private-key-file go together');
  if (cfg.rootDir === '' || cfg.rootDir === '/') throw new ConfigError(`flag --root-dir: invalid value ${JSON.stringify(cfg.rootDir)}: must be a directory of its own`);
  return deepFreeze({ ...cfg, nodeName });
}

function deepFreeze<T>(o: T): T {
  for (const v of Object.values(o as object)) if (v !== null && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}

/** argv -> AgentConfig, reading the --config file when given. */
export async function loadConfig(argv: readonly string[]): Promise<AgentConfig> {
  const args = parseArgs(argv);
  let file: unknown;
  if (args.configFile !== undefined) {
    let text: string;
    try {
      text = await readFile(args.configFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`read config ${args.configFile}: ${errorMessage(err)}`);
    }
    try {
      file = parseYaml(text);
    } catch (err) {
      throw new ConfigError(`parse config ${args.configFile}: ${errorMessage(err).split('\n')[0]}`);
    }
  }
  return buildConfig({ file, ...(args.configFile !== undefined ? { fileName: args.configFile } : {}), flags: args.values });
}
