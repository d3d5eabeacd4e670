// The agent's Node object on the control plane: buildNodeStatus() computes what the node reports
// (addresses, capacity, nodeInfo, the agent's port, conditions with heartbeat times; pure), and
// NodeStatusReporter registers the Node at start (create, or take over an existing one) then
// rewrites its status every period. It does not manage the Lease (lease.ts) nor read the pod CIDR.

import { readFile } from 'node:fs/promises';
import { arch, release } from 'node:os';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { ApiClient } from '../../controlplane/client/client.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../../controlplane/client/errors.ts';
import { NODES } from '../../controlplane/client/resources.ts';
import type { Condition, Node, NodeStatus } from '../../controlplane/client/types.ts';

/** The version the node reports as its kubelet's (the column VERSION of `kubectl get nodes`). */
export const AGENT_VERSION = 'v1.32.0-moor';

export interface NodeFacts {
  readonly nodeName: string;
  readonly nodeIp: string;
  readonly port: number;
  readonly cpuMilli: number;
  readonly memoryBytes: number;
  readonly maxPods: number;
  readonly nodeInfo: NodeInfo;
}

export interface NodeInfo {
  readonly machineID: string;
  readonly systemUUID: string;
  readonly bootID: string;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly containerRuntimeVersion: string;
  readonly kubeletVersion: string;
  readonly kubeProxyVersion: string;
  readonly operatingSystem: string;
  readonly architecture: string;
}

const CONDITIONS: readonly { type: string; status: 'True' | 'False'; reason: string; message: string }[] = [
  { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
  { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
  { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
  { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
];

export function goArch(nodeArch: string): string {
  return nodeArch === 'x64' ? 'amd64' : nodeArch === 'ia32' ? '386' : nodeArch;
}

/** The node labels the kubelet sets on itself. */
export function buildNodeLabels(nodeName: string): Record<string, string> {
  return { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': goArch(arch()), 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': goArch(arch()) };
}

/**
 * Status as the node reports it now; a condition keeps its lastTransitionTime while its status is
 * unchanged. `notReady` (why the agent is unhealthy) makes Ready False with that message.
 */
export function buildNodeStatus(facts: NodeFacts, previous: NodeStatus | undefined, nowIso: string, notReady?: string): NodeStatus {
  const resources = {
    cpu: `${facts.cpuMilli % 1000 === 0 ? facts.cpuMilli / 1000 : `${facts.cpuMilli}m`}`,
    memory: `${Math.floor(facts.memoryBytes / 1024)}Ki`,
    pods: String(facts.maxPods),
    'ephemeral-storage': '0',
  };
  const before = new Map((previous?.conditions ?? []).map((c) => [c.type, c]));
  const conditions: Condition[] = CONDITIONS.map((base) => {
    const c = base.type === 'Ready' && notReady !== undefined ? { ...base, status: 'False' as const, reason: 'KubeletNotReady', message: notReady } : base;
    const old = before.get(c.type);
    const transition = old !== undefined && old.status === c.status && typeof old.lastTransitionTime === 'string' ? old.lastTransitionTime : nowIso;
    return { ...c, lastHeartbeatTime: nowIso, lastTransitionTime: transition };
  });
  return {
    ...(previous ?? {}),
    capacity: { ...resources },
    allocatable: { ...resources },
    conditions,
    addresses: [{ type: 'InternalIP', address: facts.nodeIp }, { type: 'Hostname', address: facts.nodeName }],
    daemonEndpoints: { kubeletEndpoint: { Port: facts.port } },
    nodeInfo: { ...facts.nodeInfo },
  };
}

async function readTrimmed(path: string): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).trim();
}

/** nodeInfo from /etc and /proc; the runtime's version comes from the caller (CRI Version). */
export async function readNodeInfo(runtime: { name: string; version: string }): Promise<NodeInfo> {
  const osRelease = await readTrimmed('/etc/os-release');
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? 'Linux';
  const machineID = await readTrimmed('/etc/machine-id');
  return {
    machineID,
    systemUUID: (await readTrimmed('/sys/class/dmi/id/product_uuid')) || machineID,
    bootID: await readTrimmed('/proc/sys/kernel/random/boot_id'),
    kernelVersion: release(),
    osImage: pretty,
    containerRuntimeVersion: `${runtime.name}://${runtime.version}`,
    kubeletVersion: AGENT_VERSION,
    kubeProxyVersion: '',
    operatingSystem: 'linux',
    architecture: goArch(arch()),
  };
}

export interface NodeStatusReporterOptions {
  readonly client: ApiClient;
  readonly facts: NodeFacts;
  readonly log: Logger;
  readonly periodMs: number;
  /** Why the node is not ready now (runtime, relist), or undefined when it is. */
  readonly notReady?: () => string | undefined;
  /** Told the Node after each successful registration or status write (pod CIDR, ...). */
  readonly onNode?: (node: Node) => void;
}

/** Registers the Node, then rewrites its status every periodMs until stopped. */
export class NodeStatusReporter {
  readonly #o: NodeStatusReporterOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  #failures = 0;

  constructor(opts: NodeStatusReporterOptions) {
    this.#o = opts;
  }

  /** Create the Node (or adopt the existing one) and write its first status; throws when the server refuses. */
  async register(): Promise<Node> {
    const { client, facts, log } = this.#o;
    const name = facts.nodeName;
    const labels = buildNodeLabels(name);
    let node = await client.tryGet(NODES, name);
    if (node === undefined) {
      try {
        node = await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, spec: {} });
        log.info({ node: name }, 'node registered');
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        node = await client.get(NODES, name);
      }
    } else {
      const missing = Object.entries(labels).filter(([k, v]) => node!.metadata.labels?.[k] !== v);
      if (missing.length > 0) node = await client.patch(NODES, name, { metadata: { labels: Object.fromEntries(missing) } });
      log.info({ node: name }, 'node already registered; taking it over');
    }
    return this.#writeStatus(node);
  }

  async #writeStatus(current: Node): Promise<Node> {
    const status = buildNodeStatus(this.#o.facts, current.status, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), this.#o.notReady?.());
    const written = await this.#o.client.updateStatus(NODES, { ...current, status });
    this.#o.onNode?.(written);
    return written;
  }

  /** One status update: read the Node, write its status (a conflict is retried next period). */
  async updateOnce(): Promise<void> {
    const { client, facts, log } = this.#o;
    try {
      const node = await client.tryGet(NODES, facts.nodeName);
      // The Node was deleted (kubectl delete node): register it again, as the kubelet does after a restart.
      if (node === undefined) await this.register();
      else await this.#writeStatus(node);
      if (this.#failures > 0) log.info({ failures: this.#failures }, 'node status update works again');
      this.#failures = 0;
    } catch (err) {
      this.#failures++;
      if (this.#failures === 1 || this.#failures % 10 === 0) log.warn({ err: errorMessage(err), failures: this.#failures, conflict: isConflict(err), notFound: isNotFound(err) }, 'update node status failed; retrying next period');
    }
  }

  start(): void {
    const tick = (): void => {
      if (this.#stopped) return;
      this.#running = this.updateOnce().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.periodMs);
      });
    };
    this.#timer = setTimeout(tick, this.#o.periodMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
  }
}
