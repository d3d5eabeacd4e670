// Node lifecycle controller: a node whose Lease (kube-node-lease/<node>) and Ready heartbeat stop
// changing for the grace period (40 s) gets Ready/MemoryPressure/DiskPressure/PIDPressure = Unknown
// ("Kubelet stopped posting node status."), its pods are marked not ready, and it is tainted
// `node.kubernetes.io/unreachable` (NoSchedule + NoExecute; `not-ready` when Ready=False). Pods on a
// NoExecute-tainted node are deleted when they do not tolerate the taint, or after their
// tolerationSeconds (300 s by the API server's default tolerations), so their owners replace them
// elsewhere. Staleness is measured on this controller's clock (when it last saw the lease or heartbeat
// change), never by comparing with the node's clock.

import { PeriodicPass } from './periodic.ts';
import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from '../client/client.ts';
import { isConflict, isNotFound } from '../client/errors.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Informer, InformerFactory } from '../client/informer.ts';
import { LEASES, NODES, objectKey, PODS } from '../client/resources.ts';
import type { Condition, Lease, Node, Pod, Taint } from '../client/types.ts';
import { isTolerated } from '../scheduler/filter.ts';
import { TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE } from '../scheduler/node-info.ts';
import { canonical, getCondition, nowTimestamp, parseTimestamp } from './util.ts';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const CONDITIONS_SET_UNKNOWN = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];
const MANAGED_TAINTS = new Set([TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE]);

// ---- pure parts ----

export interface NodeHealth {
  /** Our clock when we last saw the lease or the Ready heartbeat change. */
  readonly probeMs: number;
  readonly leaseRenewTime?: string;
  readonly readyHeartbeat?: string;
}

export interface NodeHealthPlan {
  readonly health: NodeHealth;
  /** Condition updates to write (Unknown), empty when nothing to change. */
  readonly conditions: readonly Condition[];
  /** Ready status after the plan. */
  readonly ready: 'True' | 'False' | 'Unknown';
  /** The node's taints as they should be; undefined when they already are. */
  readonly taints?: readonly Taint[];
}

export interface NodeHealthInput {
  readonly node: Node;
  readonly lease: Lease | undefined;
  readonly previous: NodeHealth | undefined;
  readonly nowMs: number;
  readonly gracePeriodMs: number;
  /** Allowed silence for a node that never reported Ready. */
  readonly startupGracePeriodMs: number;
}

/** The taints a node should carry for its Ready status and cordon, keeping unmanaged ones and existing timeAdded. */
export function computeDesiredTaints(node: Node, ready: 'True' | 'False' | 'Unknown', nowMs: number): Taint[] {
  const current = node.spec?.taints ?? [];
  const keep = current.filter((t) => !MANAGED_TAINTS.has(t.key));
  const want: Taint[] = [];
  const key = ready === 'False' ? TAINT_NOT_READY : ready === 'Unknown' ? TAINT_UNREACHABLE : undefined;
  if (key !== undefined) {
    want.push({ key, effect: 'NoSchedule' });
    const existing = current.find((t) => t.key === key && t.effect === 'NoExecute');
    want.push({ key, effect: 'NoExecute', timeAdded: existing?.timeAdded ?? nowTimestamp(nowMs) });
  }
  if (node.spec?.unschedulable === true) want.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' });
  // Keep the stored form of taints that do not change (timeAdded of NoSchedule ones included).
  const merged = want.map((t) => current.find((c) => c.key === t.key && c.effect === t.effect && (t.effect !== 'NoExecute' || c.timeAdded === t.timeAdded)) ?? t);
  return [...keep, ...merged];
}

export function planNodeHealth(input: NodeHealthInput): NodeHealthPlan {
  const { node, nowMs } = input;
  const ready = getCondition(node.status?.conditions, 'Ready');
  const renew = input.lease?.spec?.renewTime;
  const heartbeat = ready?.lastHeartbeatTime ?? undefined;
  const prev = input.previous;
  const changed = prev === undefined || prev.leaseRenewTime !== renew || prev.readyHeartbeat !== heartbeat;
  const health: NodeHealth = changed ? { probeMs: nowMs, leaseRenewTime: renew, readyHeartbeat: heartbeat } : prev;
  const grace = ready === undefined ? input.startupGracePeriodMs : input.gracePeriodMs;
  const conditions: Condition[] = [];
  let status: 'True' | 'False' | 'Unknown' = ready === undefined ? 'False' : ready.status;
  if (nowMs - health.probeMs > grace && ready?.status !== 'Unknown') {
    const now = nowTimestamp(nowMs);
    for (const type of CONDITIONS_SET_UNKNOWN) {
      const c = getCondition(node.status?.conditions, type);
      if (c === undefined) {
        conditions.push({ type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: node.metadata.creationTimestamp ?? now, lastTransitionTime: now });
      } else if (c.status !== 'Unknown') {
        conditions.push({ ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: now });
      }
    }
    status = 'Unknown';
  }
  const taints = computeDesiredTaints(node, status, nowMs);
  return { health, conditions, ready: status, taints: canonical(taints) === canonical(node.spec?.taints ?? []) ? undefined : taints };
}

export type EvictionDecision = { readonly kind: 'keep' } | { readonly kind: 'evict' } | { readonly kind: 'later'; readonly atMs: number };

/**
 * Taint-based eviction for one pod: untolerated NoExecute taint → now; tolerated with
 * tolerationSeconds → the earliest taint's timeAdded plus the smallest tolerationSeconds; tolerated
 * forever → keep.
 */
export function planTaintEviction(pod: Pod, taints: readonly Taint[], nowMs: number): EvictionDecision {
  const noExecute = taints.filter((t) => t.effect === 'NoExecute');
  if (noExecute.length === 0) return { kind: 'keep' };
  const tolerations = pod.spec.tolerations ?? [];
  let minSeconds: number | undefined;
  let since = nowMs;
  for (const t of noExecute) {
    if (!isTolerated(tolerations, t)) return { kind: 'evict' };
    for (const tol of tolerations) {
      if (!isTolerated([tol], t) || tol.tolerationSeconds === undefined) continue;
      minSeconds = minSeconds === undefined ? tol.tolerationSeconds : Math.min(minSeconds, tol.tolerationSeconds);
    }
    since = Math.min(since, parseTimestamp(t.timeAdded) ?? nowMs);
  }
  if (minSeconds === undefined) return { kind: 'keep' };
  const atMs = since + Math.max(0, minSeconds) * 1000;
  return atMs <= nowMs ? { kind: 'evict' } : { kind: 'later', atMs };
}

// ---- the controller ----

export interface NodeLifecycleOptions {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly events: EventRecorder;
  readonly log?: Logger;
  /** Silence after which a node is Unknown; default 40 s. */
  readonly gracePeriodMs?: number;
  /** How often nodes are checked; default 5 s. */
  readonly monitorPeriodMs?: number;
  /** Allowed silence before a node's first Ready report; default 60 s. */
  readonly startupGracePeriodMs?: number;
  /** Delete pods from NoExecute-tainted nodes (default true). */
  readonly evictionEnabled?: boolean;
  readonly now?: () => number;
}

export class NodeLifecycleController {
  readonly #client: ApiClient;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #periodic: PeriodicPass;
  readonly #startupMs: number;
  readonly #evict: boolean;
  readonly #nodes: Informer<Node>;
  readonly #leases: Informer<Lease>;
  readonly #pods: Informer<Pod>;
  readonly #health = new Map<string, NodeHealth>();
  readonly #evicting = new Set<string>();

  constructor(opts: NodeLifecycleOptions) {
    this.#client = opts.client;
    this.#events = opts.events;
    this.#log = (opts.log ?? silentLogger()).child({ controller: 'node-lifecycle' });
    this.#now = opts.now ?? Date.now;
    this.#graceMs = opts.gracePeriodMs ?? 40_000;
    this.#periodic = new PeriodicPass({ run: () => this.monitor(), periodMs: opts.monitorPeriodMs ?? 5_000, log: this.#log, what: 'node monitor pass' });
    this.#startupMs = opts.startupGracePeriodMs ?? 60_000;
    this.#evict = opts.evictionEnabled ?? true;
    this.#nodes = opts.informers.informerFor(NODES);
    this.#leases = opts.informers.informerFor(LEASES, { namespace: NODE_LEASE_NAMESPACE });
    this.#pods = opts.informers.informerFor(PODS, {}, { nodeName: (p) => (p.spec.nodeName === undefined || p.spec.nodeName === '' ? [] : [p.spec.nodeName]) });
    this.#nodes.addHandler({ onDelete: (n) => this.#health.delete(String(n.metadata.name)) });
  }

  start(): void {
    this.#periodic.start();
  }

  async stop(): Promise<void> {
    await this.#periodic.stop();
  }

  /** One pass over every node (exposed for tests). */
  async monitor(): Promise<void> {
    if (!this.#nodes.hasSynced() || !this.#leases.hasSynced() || !this.#pods.hasSynced()) return;
    for (const node of this.#nodes.list()) {
      if (this.#periodic.stopped) return;
      try {
        await this.#monitorNode(node);
      } catch (err) {
        if (isNotFound(err)) continue;
        if (isConflict(err)) { this.#log.debug({ node: node.metadata.name }, 'node changed meanwhile, next pass retries'); continue; }
        this.#log.warn({ node: node.metadata.name, err: (err as Error).message }, 'monitor node failed');
      }
    }
  }

  async #monitorNode(node: Node): Promise<void> {
    const name = String(node.metadata.name);
    const nowMs = this.#now();
    const plan = planNodeHealth({
      node, lease: this.#leases.getByName(NODE_LEASE_NAMESPACE, name), previous: this.#health.get(name), nowMs,
      gracePeriodMs: this.#graceMs, startupGracePeriodMs: this.#startupMs,
    });
    this.#health.set(name, plan.health);
    // step 1: conditions to Unknown
    if (plan.conditions.length > 0) {
      this.#log.info({ node: name, silentMs: nowMs - plan.health.probeMs }, 'node stopped reporting: Ready=Unknown');
      await this.#client.patchStatus(NODES, name, { status: { conditions: plan.conditions } }, { type: 'strategic' });
      this.#events.event(node, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
    }
    // step 2: taints for the Ready status and cordon
    if (plan.taints !== undefined) {
      await this.#client.patch(NODES, name, { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { taints: plan.taints } });
      this.#log.info({ node: name, taints: plan.taints.map((t) => `${t.key}:${t.effect}`) }, 'node taints updated');
    }
    const pods = this.#pods.byIndex('nodeName', name);
    // step 3: pods on an unreachable node are not ready (an agent that still talks reports its own pods)
    if (plan.ready === 'Unknown') {
      for (const p of pods) {
        const ready = getCondition(p.status?.conditions, 'Ready');
        if (ready?.status === 'False' || p.metadata.deletionTimestamp !== undefined || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
        await this.#markPodNotReady(p, nowMs);
      }
    }
    // step 4: taint-based eviction
    if (!this.#evict) return;
    const taints = plan.taints ?? node.spec?.taints ?? [];
    for (const p of pods) {
      if (p.metadata.deletionTimestamp !== undefined) continue;
      // A mirror pod is not evicted (upstream's DeletePods skipped them): deleting it stops nothing, its agent makes it again.
      if (p.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) continue;
      const decision = planTaintEviction(p, taints, nowMs);
      if (decision.kind !== 'evict') continue;
      const key = `${objectKey(p)}/${String(p.metadata.uid)}`;
      if (this.#evicting.has(key)) continue;
      this.#evicting.add(key);
      this.#log.info({ pod: objectKey(p), node: name }, 'evicting pod from tainted node');
      this.#events.event(p, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${objectKey(p)}`);
      try {
        await this.#client.delete(PODS, String(p.metadata.name), { namespace: p.metadata.namespace, preconditions: { uid: p.metadata.uid } });
      } catch (err) {
        this.#evicting.delete(key);
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    if (this.#evicting.size > 10_000) this.#evicting.clear();
  }

  async #markPodNotReady(p: Pod, nowMs: number): Promise<void> {
    try {
      await this.#client.patchStatus(PODS, String(p.metadata.name), {
        status: { conditions: [{ type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: nowTimestamp(nowMs) }] },
      }, { namespace: p.metadata.namespace, type: 'strategic' });
      this.#events.event(p, 'Warning', 'NodeNotReady', 'Node is not ready');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
