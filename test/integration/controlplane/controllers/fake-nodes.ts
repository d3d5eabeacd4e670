// Fake nodes for control plane tests: Node objects with a Ready condition and capacity, Leases in
// kube-node-lease renewed on a timer, and an agent stand-in that sees pods bound to its nodes (through
// the client's informer), reports them Running with an IP and Ready (unless told otherwise), and
// finishes graceful deletions. No containers run. Also a kubectl runner with a private cache dir.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ApiClient } from '../../../../controlplane/client/client.ts';
import { isNotFound } from '../../../../controlplane/client/errors.ts';
import { Informer, listWatcherFor } from '../../../../controlplane/client/informer.ts';
import { LEASES, NODES, objectKey, PODS } from '../../../../controlplane/client/resources.ts';
import type { Node, Pod } from '../../../../controlplane/client/types.ts';
import { WorkQueue } from '../../../../controlplane/client/work-queue.ts';
import type { ServerProcess } from '../apiserver/harness.ts';

export interface FakeNodeSpec {
  readonly name: string;
  readonly cpu?: string;
  readonly memory?: string;
  readonly pods?: number;
  readonly labels?: Record<string, string>;
  readonly unschedulable?: boolean;
  readonly taints?: NonNullable<Node['spec']>['taints'];
}

function microTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function clientFor(srv: ServerProcess): ApiClient {
  return ApiClient.fromKubeconfig(srv.kubeconfig);
}

export class FakeNodes {
  readonly client: ApiClient;
  /** Pods become Ready when they start running (else the test marks them). */
  autoReady: boolean;
  readonly #names = new Set<string>();
  readonly #renewing = new Set<string>();
  readonly #pods: Informer<Pod>;
  readonly #queue: WorkQueue;
  readonly #renewMs: number;
  #timer: NodeJS.Timeout | undefined;
  #ipSeq = 10;

  constructor(srv: ServerProcess, opts: { autoReady?: boolean; leaseRenewMs?: number } = {}) {
    this.client = clientFor(srv);
    this.autoReady = opts.autoReady ?? true;
    this.#renewMs = opts.leaseRenewMs ?? 500;
    this.#pods = new Informer<Pod>({ name: 'fake-agent-pods', listWatcher: listWatcherFor(this.client, PODS) });
    this.#queue = new WorkQueue({ name: 'fake-agent', reconcile: (key) => this.#syncPod(key), backoffInitialMs: 20, backoffMaxMs: 500 });
    this.#pods.addHandler({ onAdd: (p) => this.#queue.add(objectKey(p)), onUpdate: (_o, p) => this.#queue.add(objectKey(p)) });
  }

  async start(): Promise<void> {
    this.#pods.start();
    await this.#pods.waitForSync();
    this.#timer = setInterval(() => { void this.#renew(); }, this.#renewMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#queue.stop();
    await this.#pods.stop();
    this.client.close();
  }

  async addNode(spec: FakeNodeSpec): Promise<Node> {
    const capacity = { cpu: spec.cpu ?? '4', memory: spec.memory ?? '8Gi', pods: String(spec.pods ?? 110) };
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const node = await this.client.create(NODES, {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: spec.name, labels: { 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux', ...spec.labels } },
      spec: { ...(spec.unschedulable === true ? { unschedulable: true } : {}), ...(spec.taints === undefined ? {} : { taints: spec.taints }) },
      status: {
        capacity, allocatable: capacity,
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'moor agent is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
        addresses: [{ type: 'InternalIP', address: `192.0.2.${this.#names.size + 1}` }],
        nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12', containerRuntimeVersion: 'containerd://1.6.20' },
      },
    });
    await this.client.create(LEASES, {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { name: spec.name, namespace: 'kube-node-lease' },
      spec: { holderIdentity: spec.name, leaseDurationSeconds: 40, renewTime: microTime() },
    });
    this.#names.add(spec.name);
    this.#renewing.add(spec.name);
    return node;
  }

  /** Stop renewing the node's lease (the agent died). */
  stopRenewing(name: string): void {
    this.#renewing.delete(name);
  }

  /** The agent is back: renew again and post Ready=True with a fresh heartbeat. */
  async resume(name: string): Promise<void> {
    this.#renewing.add(name);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await this.client.patchStatus(NODES, name, { status: { conditions: [
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'moor agent is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
      { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', lastHeartbeatTime: now, lastTransitionTime: now },
      { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', lastHeartbeatTime: now, lastTransitionTime: now },
      { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', lastHeartbeatTime: now, lastTransitionTime: now },
    ] } }, { type: 'strategic' });
  }

  /** Set a pod's Ready condition (the readiness probe result). */
  async setReady(namespace: string, name: string, ready: boolean): Promise<void> {
    const status = ready ? 'True' : 'False';
    await this.client.patchStatus(PODS, name, { status: { conditions: [
      { type: 'Ready', status, lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      { type: 'ContainersReady', status, lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
    ] } }, { namespace, type: 'strategic' });
  }

  async #renew(): Promise<void> {
    for (const name of this.#renewing) {
      try {
        await this.client.patch(LEASES, name, { spec: { renewTime: microTime() } }, { namespace: 'kube-node-lease' });
      } catch {
        // a test that deleted the node or is shutting down
      }
    }
  }

  async #syncPod(key: string): Promise<void> {
    const pod = this.#pods.get(key);
    if (pod === undefined) return;
    const node = pod.spec.nodeName ?? '';
    if (!this.#names.has(node) || !this.#renewing.has(node)) return;
    const namespace = pod.metadata.namespace;
    const name = String(pod.metadata.name);
    if (pod.metadata.deletionTimestamp !== undefined) {
      // The containers are "stopped": finish the graceful deletion.
      try {
        await this.client.delete(PODS, name, { namespace, gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    if (pod.status?.phase === 'Running' || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    const ip = `10.250.${Math.floor(this.#ipSeq / 250)}.${(this.#ipSeq++ % 250) + 1}`;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const ready = this.autoReady ? 'True' : 'False';
    await this.client.patchStatus(PODS, name, { status: {
      phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '192.0.2.1', startTime: now,
      conditions: [
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        { type: 'Ready', status: ready, lastProbeTime: null, lastTransitionTime: now },
        { type: 'ContainersReady', status: ready, lastProbeTime: null, lastTransitionTime: now },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now },
      ],
      containerStatuses: pod.spec.containers.map((c) => ({ name: c.name, image: c.image, imageID: '', ready: this.autoReady, restartCount: 0, started: true, state: { running: { startedAt: now } } })),
    } }, { namespace, type: 'merge' });
  }
}

/** kubectl on PATH with a fresh cache dir and the server's admin kubeconfig. */
export class Kubectl {
  readonly #dir: string;
  readonly #env: Record<string, string>;

  constructor(srv: ServerProcess) {
    this.#dir = mkdtempSync(join(tmpdir(), 'moor-ctl-kubectl-'));
    this.#env = { KUBECONFIG: srv.kubeconfig, HOME: this.#dir };
  }

  get dir(): string {
    return this.#dir;
  }

  async run(args: string[], opts: { input?: string; reject?: boolean; timeoutMs?: number } = {}): Promise<{ code: number; out: string; err: string }> {
    const r = await execa('kubectl', ['--cache-dir', join(this.#dir, 'cache'), ...args], { env: this.#env, input: opts.input, reject: false, timeout: opts.timeoutMs ?? 60_000 });
    if (opts.reject !== false && r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return { code: r.exitCode ?? -1, out: r.stdout, err: r.stderr };
  }

  async json<T = any>(args: string[]): Promise<T> {
    return JSON.parse((await this.run([...args, '-o', 'json'])).out) as T;
  }

  dispose(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
