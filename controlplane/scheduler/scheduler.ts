// The scheduler: watches pods and nodes through shared informers, keeps NodeInfo sums current,
// takes pending pods (no nodeName, our schedulerName, not terminating) from the scheduling queue one
// at a time, decides with the pure algorithm, assumes the pod on the chosen node at once (so the next
// decision sees it) and binds in the background through `pods/binding`. A failed bind forgets the
// assumption and retries after backoff. Pods nothing fits are parked with a FailedScheduling event and
// a PodScheduled=False condition, and retried when nodes or pods change (or after 60 s).

import type { Logger } from 'pino';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from '../client/client.ts';
import { isConflict, isNotFound } from '../client/errors.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Informer, InformerFactory } from '../client/informer.ts';
import { NODES, PODS } from '../client/resources.ts';
import type { Node, Pod } from '../client/types.ts';
import { schedulePod } from './algorithm.ts';
import { buildScheduledMessage } from './message.ts';
import { addPodToNode, buildNodeInfo, buildPodFacts, removePodFromNode, type NodeInfo, type PodFacts } from './node-info.ts';
import { SchedulingQueue } from './queue.ts';

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

export interface SchedulerOptions {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly events: EventRecorder;
  readonly log?: Logger;
  readonly schedulerName?: string;
  /** 0 = adaptive (kube-scheduler's default). */
  readonly percentageOfNodesToScore?: number;
  /** Bindings in flight at once; default 64. */
  readonly maxBindsInFlight?: number;
  readonly random?: () => number;
  readonly queue?: SchedulingQueue;
}

export interface SchedulerStats {
  scheduled: number;
  unschedulable: number;
  bindFailures: number;
  attempts: number;
}

function podKey(p: Pod): string {
  return `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`;
}

function isTerminal(p: Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

function isAssigned(p: Pod): boolean {
  return p.spec.nodeName !== undefined && p.spec.nodeName !== '';
}

export class Scheduler {
  readonly #client: ApiClient;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #name: string;
  readonly #pct: number;
  readonly #maxInFlight: number;
  readonly #random: () => number;
  readonly #queue: SchedulingQueue;
  readonly #pods: Informer<Pod>;
  readonly #nodesInformer: Informer<Node>;
  /** Known nodes, in a stable order for round-robin filtering. */
  readonly #nodes = new Map<string, NodeInfo>();
  #nodeList: NodeInfo[] = [];
  /** Pods on nodes (confirmed or assumed), by pod key. */
  readonly #assigned = new Map<string, PodFacts>();
  readonly #podsByNode = new Map<string, Set<string>>();
  /** Pods we bound and have not yet seen bound through the watch: key → node. */
  readonly #assumed = new Map<string, string>();
  /** Pending pods by key (current object). */
  readonly #pending = new Map<string, Pod>();
  readonly #stats: SchedulerStats = { scheduled: 0, unschedulable: 0, bindFailures: 0, attempts: 0 };
  #startIndex = 0;
  #inFlight = 0;
  #slotWaiters: (() => void)[] = [];
  #stopped = false;
  #loop: Promise<void> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #bindsDone: Promise<void>[] = [];

  constructor(opts: SchedulerOptions) {
    this.#client = opts.client;
    this.#events = opts.events;
    this.#log = (opts.log ?? silentLogger()).child({ component: 'scheduler' });
    this.#name = opts.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.#pct = opts.percentageOfNodesToScore ?? 0;
    this.#maxInFlight = opts.maxBindsInFlight ?? 64;
    this.#random = opts.random ?? Math.random;
    this.#queue = opts.queue ?? new SchedulingQueue();
    this.#pods = opts.informers.informerFor(PODS);
    this.#nodesInformer = opts.informers.informerFor(NODES);
    this.#nodesInformer.addHandler({
      onAdd: (n) => this.#onNode(n),
      onUpdate: (old, n) => { if (old !== n) this.#onNode(n, old); },
      onDelete: (n) => this.#onNodeDelete(n),
    });
    this.#pods.addHandler({
      onAdd: (p) => this.#onPod(p),
      onUpdate: (old, p) => { if (old !== p) this.#onPod(p, old); },
      onDelete: (p) => this.#onPodDelete(p),
    });
  }

  get stats(): Readonly<SchedulerStats> {
    return this.#stats;
  }

  /** Start the loop once the informers have synced (the caller starts the informer factory). */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#loop = this.#run();
    this.#flushTimer = setInterval(() => {
      if (this.#queue.flushUnschedulableLeftover() > 0) this.#log.debug('retrying pods parked as unschedulable');
    }, 15_000);
    this.#flushTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#flushTimer !== undefined) clearInterval(this.#flushTimer);
    for (const w of this.#slotWaiters.splice(0)) w();
    this.#queue.wakeAll();
    await this.#loop;
    await Promise.allSettled(this.#bindsDone);
  }

  // ---- cache upkeep from informer events ----

  #isOurs(p: Pod): boolean {
    return (p.spec.schedulerName ?? DEFAULT_SCHEDULER_NAME) === this.#name;
  }

  #addAssigned(f: PodFacts): void {
    this.#removeAssigned(f.key);
    this.#assigned.set(f.key, f);
    let set = this.#podsByNode.get(f.nodeName);
    if (set === undefined) this.#podsByNode.set(f.nodeName, (set = new Set()));
    set.add(f.key);
    const info = this.#nodes.get(f.nodeName);
    if (info !== undefined) addPodToNode(info, f);
  }

  #removeAssigned(key: string): boolean {
    const f = this.#assigned.get(key);
    if (f === undefined) return false;
    this.#assigned.delete(key);
    this.#podsByNode.get(f.nodeName)?.delete(key);
    const info = this.#nodes.get(f.nodeName);
    if (info !== undefined) removePodFromNode(info, key);
    return true;
  }

  #onPod(p: Pod, old?: Pod): void {
    const key = podKey(p);
    if (isAssigned(p)) {
      const wasPending = this.#pending.delete(key);
      if (wasPending) this.#queue.delete(key);
      const assumedOn = this.#assumed.get(key);
      this.#assumed.delete(key);
      if (isTerminal(p)) {
        if (this.#removeAssigned(key)) this.#queue.moveAllToActive();
        return;
      }
      const prev = this.#assigned.get(key);
      // Our own binding confirmed: the assumed facts already count this pod there (what a pod may
      // change after its binding does not change what the scheduler counts).
      if (prev !== undefined && assumedOn === p.spec.nodeName && prev.nodeName === assumedOn && prev.uid === p.metadata.uid) return;
      // Re-derive only when what the scheduler counts could have changed.
      if (prev === undefined || prev.nodeName !== p.spec.nodeName || prev.pod.spec !== p.spec && JSON.stringify(prev.pod.spec) !== JSON.stringify(p.spec)) {
        this.#addAssigned(buildPodFacts(p));
      }
      return;
    }
    if (!this.#isOurs(p) || p.metadata.deletionTimestamp !== undefined || isTerminal(p)) {
      if (this.#pending.delete(key)) this.#queue.delete(key);
      return;
    }
    this.#pending.set(key, p);
    if (this.#assumed.has(key)) return; // being bound: the watch has not caught up
    const priority = p.spec.priority ?? 0;
    if (old === undefined || !this.#queue.has(key)) {
      if (!this.#queue.has(key)) this.#queue.add(key, priority);
    } else if (JSON.stringify(old.spec) !== JSON.stringify(p.spec) || JSON.stringify(old.metadata.labels) !== JSON.stringify(p.metadata.labels)) {
      this.#queue.update(key, priority);
    }
  }

  #onPodDelete(p: Pod): void {
    const key = podKey(p);
    this.#pending.delete(key);
    this.#queue.delete(key);
    this.#assumed.delete(key);
    if (this.#removeAssigned(key)) this.#queue.moveAllToActive();
  }

  #rebuildNodeList(): void {
    this.#nodeList = [...this.#nodes.values()];
  }

  #onNode(n: Node, old?: Node): void {
    const name = n.metadata.name ?? '';
    const pods: PodFacts[] = [];
    for (const key of this.#podsByNode.get(name) ?? []) {
      const f = this.#assigned.get(key);
      if (f !== undefined) pods.push(f);
    }
    const info = buildNodeInfo(n, pods);
    const existed = this.#nodes.has(name);
    this.#nodes.set(name, info);
    if (existed) {
      const i = this.#nodeList.findIndex((x) => x.name === name);
      if (i >= 0) this.#nodeList[i] = info; else this.#rebuildNodeList();
    } else {
      this.#rebuildNodeList();
    }
    if (old === undefined || nodeSchedulingChanged(old, n)) this.#queue.moveAllToActive();
  }

  #onNodeDelete(n: Node): void {
    if (this.#nodes.delete(n.metadata.name ?? '')) this.#rebuildNodeList();
  }

  // ---- the scheduling loop ----

  async #run(): Promise<void> {
    await Promise.all([this.#pods.waitForSync(), this.#nodesInformer.waitForSync()]);
    if (this.#stopped) return;
    this.#log.info({ nodes: this.#nodes.size, pending: this.#pending.size }, 'scheduler started');
    while (!this.#stopped) {
      const key = this.#queue.pop();
      if (key === undefined) {
        await this.#queue.wait(Math.min(1000, this.#queue.nextBackoffDueMs() ?? 1000));
        continue;
      }
      const pod = this.#pending.get(key);
      if (pod === undefined || this.#assumed.has(key)) continue;
      if (this.#inFlight >= this.#maxInFlight) await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
      if (this.#stopped) break;
      try {
        this.#scheduleOne(key, pod);
      } catch (err) {
        this.#log.error({ pod: key, err: (err as Error).message }, 'schedule pod failed');
        this.#queue.markFailed(key, pod.spec.priority ?? 0);
      }
      // Let watch events in between decisions so the cache stays current.
      await yieldToEvents();
    }
  }

  #scheduleOne(key: string, pod: Pod): void {
    this.#stats.attempts++;
    const facts = buildPodFacts(pod);
    const decision = schedulePod(facts, this.#nodeList, { startIndex: this.#startIndex, percentageOfNodesToScore: this.#pct, random: this.#random });
    this.#startIndex = decision.nextStartIndex;
    if (decision.kind === 'unschedulable') {
      this.#stats.unschedulable++;
      this.#queue.markUnschedulable(key, pod.spec.priority ?? 0);
      this.#log.info({ pod: key, message: decision.message }, 'pod unschedulable');
      this.#events.event(pod, 'Warning', 'FailedScheduling', decision.message);
      void this.#setUnschedulableCondition(pod, decision.message);
      return;
    }
    // Assume: count the pod on the node now; the watch confirms it later.
    const assumed: PodFacts = { ...facts, nodeName: decision.node, pod: { ...pod, spec: { ...pod.spec, nodeName: decision.node } } };
    this.#assumed.set(key, decision.node);
    this.#addAssigned(assumed);
    this.#queue.done(key);
    this.#inFlight++;
    const done = this.#bind(key, pod, decision.node).finally(() => {
      this.#inFlight--;
      const w = this.#slotWaiters.shift();
      if (w !== undefined) w();
    });
    this.#bindsDone.push(done);
    if (this.#bindsDone.length > 4 * this.#maxInFlight) this.#bindsDone = this.#bindsDone.slice(-this.#maxInFlight);
  }

  /** Bind through the API; on failure undo the assumption and retry later. */
  async #bind(key: string, pod: Pod, node: string): Promise<void> {
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    try {
      await this.#client.bind({ namespace, pod: name, node, uid: pod.metadata.uid });
      this.#stats.scheduled++;
      this.#log.debug({ pod: key, node }, 'pod bound');
      this.#events.event(pod, 'Normal', 'Scheduled', buildScheduledMessage(namespace, name, node));
    } catch (err) {
      this.#stats.bindFailures++;
      if (this.#assumed.get(key) === node) {
        this.#assumed.delete(key);
        const f = this.#assigned.get(key);
        if (f !== undefined && f.uid === pod.metadata.uid && !isAssignedInCache(this.#pods, key)) this.#removeAssigned(key);
      }
      if (isNotFound(err)) return; // the pod is gone
      if (isConflict(err)) {
        // Already bound elsewhere or being deleted: the watch will tell us.
        this.#log.debug({ pod: key, node, err: (err as Error).message }, 'bind refused');
        return;
      }
      this.#log.warn({ pod: key, node, err: (err as Error).message }, 'bind failed, will retry');
      this.#events.event(pod, 'Warning', 'FailedScheduling', `Binding rejected: ${(err as Error).message}`);
      if (this.#pending.has(key)) this.#queue.markFailed(key, pod.spec.priority ?? 0);
    }
  }

  /** PodScheduled=False with reason Unschedulable, written only when it changes. */
  async #setUnschedulableCondition(pod: Pod, message: string): Promise<void> {
    const current = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
    if (current !== undefined && current.status === 'False' && current.reason === 'Unschedulable' && current.message === message) return;
    const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    try {
      await this.#client.patchStatus(PODS, pod.metadata.name ?? '', {
        status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: current?.status === 'False' ? current.lastTransitionTime ?? now : now }] },
      }, { namespace: pod.metadata.namespace, type: 'strategic' });
    } catch (err) {
      if (!isNotFound(err)) this.#log.debug({ pod: podKey(pod), err: (err as Error).message }, 'write PodScheduled condition failed');
    }
  }
}

function isAssignedInCache(pods: Informer<Pod>, key: string): boolean {
  const p = pods.get(key);
  return p !== undefined && isAssigned(p);
}

/** Changes to a node that can make a parked pod fit. */
export function nodeSchedulingChanged(old: Node, cur: Node): boolean {
  const ready = (n: Node) => (n.status?.conditions ?? []).find((c) => c.type === 'Ready')?.status;
  return old.spec?.unschedulable !== cur.spec?.unschedulable
    || ready(old) !== ready(cur)
    || JSON.stringify(old.spec?.taints ?? []) !== JSON.stringify(cur.spec?.taints ?? [])
    || JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {})
    || JSON.stringify(old.status?.allocatable ?? {}) !== JSON.stringify(cur.status?.allocatable ?? {});
}
