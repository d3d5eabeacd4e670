// Settings of the scheduler and controllers inside `moor server`, with kube-scheduler /
// kube-controller-manager / k3s flag names: parsed from argv (parseControlPlaneArgs, which returns the
// flags it does not know so the server's own parser can take them) or from the
// MOOR_CONTROLPLANE_ARGS environment variable (the same flags, space separated; unset = off for now).
// Validated and frozen.

import { NodeError } from '../../common/errors.ts';
import { parseCidr } from './node-ipam.ts';

export const ALL_CONTROLLERS = ['replicaset', 'deployment', 'endpoints', 'nodelifecycle', 'nodeipam', 'garbagecollector', 'podgc'] as const;
export type ControllerName = typeof ALL_CONTROLLERS[number];

export interface ControlPlaneConfig {
  readonly scheduler: boolean;
  readonly controllers: readonly ControllerName[];
  readonly nodeMonitorGracePeriodMs: number;
  readonly nodeMonitorPeriodMs: number;
  readonly nodeStartupGracePeriodMs: number;
  readonly podEviction: boolean;
  readonly clusterCidr: string;
  readonly nodeCidrMaskSize: number;
  readonly terminatedPodGcThreshold: number;
  readonly percentageOfNodesToScore: number;
  /** Controllers re-examine every object this often (level-triggered safety net). */
  readonly resyncPeriodMs: number;
  /** `worker`: a thread of its own when `moor server` runs from its CLI; `main`: the server's thread. */
  readonly thread: 'worker' | 'main';
}

export const DEFAULT_CONTROL_PLANE_CONFIG: ControlPlaneConfig = Object.freeze({
  scheduler: true,
  controllers: ALL_CONTROLLERS,
  nodeMonitorGracePeriodMs: 40_000,
  nodeMonitorPeriodMs: 5_000,
  nodeStartupGracePeriodMs: 60_000,
  podEviction: true,
  clusterCidr: '10.244.0.0/16',
  nodeCidrMaskSize: 24,
  terminatedPodGcThreshold: 12_500,
  percentageOfNodesToScore: 0,
  resyncPeriodMs: 10 * 60_000,
  thread: 'worker',
});

export const CONTROL_PLANE_USAGE = `scheduler and controllers:
  --disable-scheduler                  do not run the scheduler
  --disable-controller-manager         do not run any controller
  --controllers LIST                   controllers to run: '*' (all), names, '-name' to leave one out
                                       (${ALL_CONTROLLERS.join(', ')}; default *)
  --node-monitor-grace-period D        a node silent this long is Ready=Unknown (default 40s)
  --node-monitor-period D              how often nodes are checked (default 5s)
  --node-startup-grace-period D        silence allowed before a node's first report (default 1m)
  --enable-pod-eviction BOOL           delete pods from unreachable/not-ready nodes after their toleration (default true)
  --cluster-cidr CIDR                  pod network, one block per node (default 10.244.0.0/16)
  --node-cidr-mask-size N              size of each node's block (default 24)
  --terminated-pod-gc-threshold N      finished pods kept before the oldest are deleted (default 12500; 0 = never)
  --percentage-of-nodes-to-score N     feasible nodes to find before scoring, percent (default 0 = adaptive)
  --controlplane-thread worker|main    run them on a thread of their own (default) or the API server's
`;

const BOOL_FLAGS = new Set(['disable-scheduler', 'disable-controller-manager']);
const VALUE_FLAGS = new Set([
  'controllers', 'node-monitor-grace-period', 'node-monitor-period', 'node-startup-grace-period', 'enable-pod-eviction', 'cluster-cidr',
  'node-cidr-mask-size', 'terminated-pod-gc-threshold', 'percentage-of-nodes-to-score', 'controller-resync-period', 'controlplane-thread',
]);

/** `40s`, `1m30s`, `500ms`, `2h` → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  if (text === '0') return 0;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new NodeError('config-invalid', `parse --${flag}: want a duration such as 40s, 1m or 500ms, got ${JSON.stringify(text)}`);
  return Math.round(total);
}

function parseInteger(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new NodeError('config-invalid', `parse --${flag}: want an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

function parseBool(text: string, flag: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new NodeError('config-invalid', `parse --${flag}: want true or false, got ${JSON.stringify(text)}`);
}

/** kube-controller-manager's --controllers: `*`, `a,b`, `*,-nodeipam`. */
export function parseControllerList(text: string): ControllerName[] {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const all = parts.includes('*');
  const chosen = new Set<ControllerName>(all ? ALL_CONTROLLERS : []);
  for (const p of parts) {
    if (p === '*') continue;
    const name = p.startsWith('-') ? p.slice(1) : p;
    if (!(ALL_CONTROLLERS as readonly string[]).includes(name)) throw new NodeError('config-invalid', `parse --controllers: unknown controller ${JSON.stringify(name)}, known: ${ALL_CONTROLLERS.join(', ')}`);
    if (p.startsWith('-')) chosen.delete(name as ControllerName); else chosen.add(name as ControllerName);
  }
  return ALL_CONTROLLERS.filter((c) => chosen.has(c));
}

/** Take the control plane's flags out of `argv`; the rest is returned untouched, in order. */
export function parseControlPlaneArgs(argv: readonly string[], base: ControlPlaneConfig = DEFAULT_CONTROL_PLANE_CONFIG): { config: ControlPlaneConfig; rest: string[] } {
  const c: { -readonly [K in keyof ControlPlaneConfig]: ControlPlaneConfig[K] } = { ...base };
  let controllerManager = true;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m === null || (!BOOL_FLAGS.has(m[1]) && !VALUE_FLAGS.has(m[1]))) { rest.push(arg); continue; }
    const flag = m[1];
    if (BOOL_FLAGS.has(flag)) {
      const on = m[2] === undefined ? true : parseBool(m[2], flag);
      if (flag === 'disable-scheduler') c.scheduler = !on; else controllerManager = !on;
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new NodeError('config-invalid', `parse --${flag}: needs a value`);
    switch (flag) {
      case 'controllers': c.controllers = parseControllerList(value); break;
      case 'node-monitor-grace-period': c.nodeMonitorGracePeriodMs = parseDuration(value, flag); break;
      case 'node-monitor-period': c.nodeMonitorPeriodMs = parseDuration(value, flag); break;
      case 'node-startup-grace-period': c.nodeStartupGracePeriodMs = parseDuration(value, flag); break;
      case 'enable-pod-eviction': c.podEviction = parseBool(value, flag); break;
      case 'cluster-cidr': parseCidr(value); c.clusterCidr = value; break;
      case 'node-cidr-mask-size': c.nodeCidrMaskSize = parseInteger(value, flag, 8, 30); break;
      case 'terminated-pod-gc-threshold': c.terminatedPodGcThreshold = parseInteger(value, flag, 0, 10_000_000); break;
      case 'percentage-of-nodes-to-score': c.percentageOfNodesToScore = parseInteger(value, flag, 0, 100); break;
      case 'controller-resync-period': c.resyncPeriodMs = parseDuration(value, flag); break;
      case 'controlplane-thread':
        if (value !== 'worker' && value !== 'main') throw new NodeError('config-invalid', `parse --controlplane-thread: want worker or main, got ${JSON.stringify(value)}`);
        c.thread = value;
        break;
      default: rest.push(arg); break;
    }
  }
  if (!controllerManager) c.controllers = [];
  if (c.nodeMonitorPeriodMs <= 0) throw new NodeError('config-invalid', 'parse --node-monitor-period: must be more than 0');
  if (c.nodeCidrMaskSize < parseCidr(c.clusterCidr).prefix) throw new NodeError('config-invalid', `parse --node-cidr-mask-size: /${c.nodeCidrMaskSize} is larger than the cluster cidr ${c.clusterCidr}`);
  return { config: Object.freeze(c), rest };
}

/** Neither scheduler nor controllers. */
export const CONTROL_PLANE_OFF: ControlPlaneConfig = Object.freeze({ ...DEFAULT_CONTROL_PLANE_CONFIG, scheduler: false, controllers: [] });

/**
 * The configuration from MOOR_CONTROLPLANE_ARGS (flags as above, space separated; empty = defaults).
 * Unset = off: until `moor server` takes these flags itself, the API server's own tests run without
 * controllers changing their objects.
 */
export function controlPlaneConfigFromEnv(env: NodeJS.ProcessEnv): ControlPlaneConfig {
  const text = env.MOOR_CONTROLPLANE_ARGS;
  if (text === undefined) return CONTROL_PLANE_OFF;
  if (text.trim() === '') return DEFAULT_CONTROL_PLANE_CONFIG;
  const { config, rest } = parseControlPlaneArgs(text.trim().split(/\s+/));
  if (rest.length > 0) throw new NodeError('config-invalid', `parse MOOR_CONTROLPLANE_ARGS: unknown arguments ${rest.join(' ')}`);
  return config;
}

/**
 * For `moor server`'s own flag parser: the control plane's flags from MOOR_CONTROLPLANE_ARGS, then
 * from argv (argv wins), over the defaults — everything on. Returns the other arguments untouched.
 */
export function resolveControlPlaneArgs(argv: readonly string[], env: NodeJS.ProcessEnv): { config: ControlPlaneConfig; rest: string[] } {
  const fromEnv = (env.MOOR_CONTROLPLANE_ARGS ?? '').trim();
  const envArgs = fromEnv === '' ? [] : fromEnv.split(/\s+/);
  const base = parseControlPlaneArgs(envArgs);
  if (base.rest.length > 0) throw new NodeError('config-invalid', `parse MOOR_CONTROLPLANE_ARGS: unknown arguments ${base.rest.join(' ')}`);
  return parseControlPlaneArgs(argv, base.config);
}
