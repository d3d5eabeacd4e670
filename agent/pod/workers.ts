// The pod workers: the desired pods (from the pod sources, admitted up to max-pods), one sync at a
// time per pod UID (keyed runner), triggered by spec changes, lifecycle events, probe results,
// timers (crash-loop and image backoff, active deadline) and a periodic resync; and the status of
// every pod, rebuilt after each sync and each probe result, kept only when it changed.
// Pods found in the runtime that no source wants are terminated, once the sources are ready.

import type { Logger } from '../../common/log.ts';
import { errorMessage } from '../../common/errors.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { PlegEvent, RuntimeSnapshot } from '../pleg.ts';
import { KeyedBackoff } from '../../common/backoff.ts';
import { KeyedRunner } from '../../common/keyed-runner.ts';
import { ProbeManager } from '../probe/manager.ts';
import type { ProbeTarget } from '../probe/worker.ts';
import { readStatusCheckpoint, writeStatusCheckpoint } from './checkpoint.ts';
import { computeContainerHash, computeSandboxHash, stableJson } from './labels.ts';
import type { CreatedInSync, PodInspector } from './inspect.ts';
import { emptyObservedPod, latestContainer, type ObservedPod } from './observed.ts';
import { describeActions, isNoop, planPodSync, type PodActions } from './plan.ts';
import { computeQosClass } from './resources.ts';
import { computeBackoffView, imagePullKey } from './restart.ts';
import { buildPodStatus, CONTAINER_ID_PREFIX, formatTime, normaliseStatus, REASON, type WaitingReason } from './status.ts';
import { applyPodActions, hasErrors, terminatePod, type StepResult, type SyncContext } from './sync.ts';
import type { Pod, PodStatus } from './types.ts';

export interface PodWorkersOptions {
  readonly sync: SyncContext;
  readonly inspector: PodInspector;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  readonly maxPods: number;
  readonly resyncPeriodMs: number;
  /** Pod syncs running at once; default unlimited. */
  readonly maxConcurrentSyncs?: number;
  /** Told every new status of a desired pod (only when its normalised form changed). */
  readonly onStatus?: (pod: Pod, status: PodStatus) => void;
}

interface PodState {
  /** The last desired spec; kept after the pod leaves its source, to stop it with its own PreStop hooks. */
  pod?: Pod;
  seen: ObservedPod;
  /** When `seen` was last read from the runtime (epoch ms, after the reads finished); 0 = never. */
  seenAtMs: number;
  status?: PodStatus;
  statusVersion: number;
  writtenVersion: number;
  checkpointChain: Promise<void>;
  reasons: Map<string, WaitingReason>;
  terminal?: { readonly phase: 'Failed'; readonly reason: string; readonly message: string };
  firstSeenMs: number;
  startReported: boolean;
  wake?: { atMs: number; timer: NodeJS.Timeout };
}

interface Rejection {
  readonly pod: Pod;
  readonly status: PodStatus;
}

/** Pods from the source are reused while their file is unchanged: compute their JSON once. */
const specJsonCache = new WeakMap<Pod, string>();

/** The order in which a container's (created, running, exited) or a sandbox's (ready, notready) states follow one another. */
const STATE_ORDER: Readonly<Record<'created' | 'running' | 'exited' | 'ready' | 'notready', number>> = { created: 0, running: 1, exited: 2, ready: 0, notready: 1 };

function specJsonOf(pod: Pod): string {
  let json = specJsonCache.get(pod);
  if (json === undefined) specJsonCache.set(pod, (json = stableJson(pod)));
  return json;
}

function isTerminalPhase(phase: string | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

export class PodWorkers {
  readonly probes: ProbeManager;
  readonly #o: PodWorkersOptions;
  readonly #log: Logger;
  readonly #desired = new Map<string, Pod>();
  readonly #specJson = new Map<string, string>();
  readonly #rejected = new Map<string, Rejection>();
  readonly #states = new Map<string, PodState>();
  readonly #runner: KeyedRunner<string>;
  readonly #retryAt = new Map<string, number>();
  /** Retry delays of pods whose last sync had a failed step. */
  readonly #syncErrorBackoff = new KeyedBackoff({ initialMs: 1000, maxMs: 10_000 });
  /** Grace periods of deletions asked by the control plane (deletionGracePeriodSeconds), by pod UID. */
  readonly #graceOverride = new Map<string, number>();
  #sourcesReady = false;
  #resyncTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #lastSnapshot: RuntimeSnapshot | undefined;
  /** Relist events for pods whose sync was running when they came, judged when it ends. */
  readonly #deferredEvents = new Map<string, PlegEvent[]>();
  /** Statuses read back from the checkpoints at start, until each pod's first sync. */
  readonly #checkpoints = new Map<string, PodStatus>();
  #checkpointsLoaded = false;

  constructor(opts: PodWorkersOptions) {
    this.#o = opts;
    this.#log = opts.log;
    this.#runner = new KeyedRunner<string>({
      task: async (uid) => {
        try {
          await this.#sync(uid);
        } finally {
          this.#recheckDeferred(uid);
        }
      },
      onError: (uid, err) => this.#onSyncError(uid, err),
      ...(opts.maxConcurrentSyncs !== undefined ? { maxConcurrent: opts.maxConcurrentSyncs } : {}),
    });
    this.probes = new ProbeManager({
      cri: opts.sync.cri,
      log: opts.log.child({ component: 'probe' }),
      getTarget: (uid, name) => this.#probeTarget(uid, name),
      onChange: (e) => {
        if (e.result === 'failure' && e.kind !== 'readiness') this.trigger(e.podUid);
        else this.#refreshStatus(e.podUid);
      },
      seedReadiness: (containerId) => this.#seedReadiness(containerId),
    });
  }

  get sourcesReady(): boolean {
    return this.#sourcesReady;
  }

  /** The full desired set from the pod source. Admits up to max-pods (already admitted pods keep their place). */
  setPods(pods: readonly Pod[]): void {
    const before = new Set(this.#desired.keys());
    const ordered = [...pods].sort((a, b) => Number(before.has(b.metadata.uid)) - Number(before.has(a.metadata.uid)));
    const next = new Map<string, Pod>();
    this.#rejected.clear();
    for (const pod of ordered) {
      if (next.size < this.#o.maxPods) next.set(pod.metadata.uid, pod);
      else this.#rejected.set(pod.metadata.uid, { pod, status: this.#rejectionStatus(pod) });
    }
    const changed: string[] = [];
    for (const [uid, pod] of next) {
      const json = specJsonOf(pod);
      if (this.#specJson.get(uid) !== json) changed.push(uid);
      this.#specJson.set(uid, json);
    }
    for (const uid of before) {
      if (!next.has(uid)) {
        changed.push(uid);
        this.#specJson.delete(uid);
      }
    }
    this.#desired.clear();
    for (const [uid, pod] of next) this.#desired.set(uid, pod);
    if (this.#rejected.size > 0) this.#log.warn({ rejected: [...this.#rejected.values()].map((r) => r.pod.metadata.name), maxPods: this.#o.maxPods }, 'pods rejected: node is at max-pods');
    for (const uid of changed) this.trigger(uid);
  }

  /**
   * Read the status checkpoints of the pods under <root-dir>/pods, so that the first statuses after
   * an agent restart are the last ones reported (and readiness carries on), not a blank Pending.
   */
  async loadCheckpoints(): Promise<void> {
    for (const uid of await this.#o.sync.volumes.listPodDirs()) {
      try {
        const status = await readStatusCheckpoint(this.#o.sync.volumes.podDir(uid));
        if (status !== undefined) this.#checkpoints.set(uid, status);
      } catch (err) {
        this.#log.warn({ podUid: uid, err: errorMessage(err) }, 'read status checkpoint failed; starting afresh');
      }
    }
    this.#checkpointsLoaded = true;
  }

  /** Every source delivered its first full set: pods nobody wants may now be terminated. */
  markSourcesReady(): void {
    this.#sourcesReady = true;
  }

  trigger(uid: string): void {
    this.#runner.trigger(uid);
  }

  start(): void {
    const tick = (): void => {
      if (this.#stopped) return;
      this.resyncAll();
      this.#resyncTimer = setTimeout(tick, this.#o.resyncPeriodMs);
      this.#resyncTimer.unref?.();
    };
    this.#resyncTimer = setTimeout(tick, this.#o.resyncPeriodMs);
    this.#resyncTimer.unref?.();
  }

  /** Sync every pod, and clean up after pods that are gone. */
  resyncAll(): void {
    for (const uid of this.#desired.keys()) this.trigger(uid);
    void this.#cleanupPodDirs();
  }

  /** Lifecycle events from a relist: sync the pods they concern, and terminate runtime pods nobody wants. */
  handleRelist(events: readonly PlegEvent[], snapshot: RuntimeSnapshot): void {
    this.#lastSnapshot = snapshot;
    // An event that only shows what the pod's last sync already saw needs no sync of its own. One
    // for a pod whose sync is under way is judged when that sync ends: the relist often lists what
    // the sync is making (a new sandbox, a container just started), and the sync's own read-back
    // sees it too.
    for (const e of events) {
      if (this.#alreadySeen(e)) continue;
      if (this.#runner.isRunning(e.podUid)) {
        const deferred = this.#deferredEvents.get(e.podUid);
        if (deferred === undefined) this.#deferredEvents.set(e.podUid, [e]);
        else deferred.push(e);
      } else this.trigger(e.podUid);
    }
    let pods = 0;
    let containers = 0;
    for (const m of snapshot.sandboxes.values()) for (const s of m.values()) if (s === 'ready') pods++;
    for (const m of snapshot.containers.values()) for (const s of m.values()) if (s === 'running') containers++;
    this.#o.metrics.runningPods.set(pods);
    this.#o.metrics.runningContainers.set(containers);
    if (!this.#sourcesReady) return;
    const now = Date.now();
    for (const [uid, at] of this.#retryAt) if (at <= now && !snapshot.sandboxes.has(uid) && !snapshot.containers.has(uid)) this.#retryAt.delete(uid);
    for (const uid of new Set([...snapshot.sandboxes.keys(), ...snapshot.containers.keys()])) {
      if (this.#desired.has(uid) || this.#runner.isRunning(uid)) continue;
      if ((this.#retryAt.get(uid) ?? 0) > now) continue;
      this.trigger(uid);
    }
  }

  /**
   * The pod's last sync saw this container or sandbox in the event's state or a later one (states
   * only move forward: created, running, exited; ready, notready): typically what the sync made
   * itself. A state the sync did not see yet (a container that died after the sync's last look),
   * a removal and an unknown state always sync: nothing else would notice before the resync.
   */
  #alreadySeen(e: PlegEvent): boolean {
    if (e.state === undefined || e.state === 'unknown') return false;
    const seen = this.#states.get(e.podUid)?.seen;
    if (seen === undefined) return false;
    const known = e.type === 'SandboxChanged' ? seen.sandboxes.find((s) => s.id === e.id)?.state : seen.containers.find((c) => c.id === e.id)?.state;
    if (known === undefined || known === 'unknown') return false;
    return STATE_ORDER[known] >= STATE_ORDER[e.state];
  }

  /** After a sync: the events that came in during it and its result did not already show sync the pod again. */
  #recheckDeferred(uid: string): void {
    const deferred = this.#deferredEvents.get(uid);
    if (deferred === undefined) return;
    this.#deferredEvents.delete(uid);
    if (deferred.some((e) => !this.#alreadySeen(e))) this.trigger(uid);
  }

  /** The pods with their status, admitted ones first, then rejected ones. */
  listPods(): Pod[] {
    const out: Pod[] = [];
    for (const [uid, pod] of this.#desired) {
      const state = this.#states.get(uid);
      out.push({ ...pod, status: state?.status ?? this.#checkpoints.get(uid) ?? this.#buildStatus(pod, state) });
    }
    for (const r of this.#rejected.values()) out.push({ ...r.pod, status: r.status });
    return out;
  }

  getPod(uid: string): Pod | undefined {
    return this.listPods().find((p) => p.metadata.uid === uid);
  }

  /** Terminate the pod with this grace period instead of its spec's, once it leaves the desired set. */
  setGracePeriodOverride(uid: string, seconds: number): void {
    if (this.#desired.has(uid) || this.#states.has(uid)) this.#graceOverride.set(uid, Math.max(0, seconds));
  }

  /** True while the agent still desires, or has not finished terminating, the pod with this UID. */
  hasPod(uid: string): boolean {
    return this.#desired.has(uid) || this.#states.has(uid);
  }

  /** What the last inspection saw of a pod (for the logs API). */
  observed(uid: string): ObservedPod | undefined {
    return this.#states.get(uid)?.seen;
  }

  idle(): Promise<void> {
    return this.#runner.idle();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#resyncTimer) clearTimeout(this.#resyncTimer);
    for (const s of this.#states.values()) if (s.wake) clearTimeout(s.wake.timer);
    await this.#runner.stop();
    await this.probes.stop();
    await Promise.all([...this.#states.values()].map((s) => s.checkpointChain));
  }

  // --- the sync ---------------------------------------------------------------------------

  async #sync(uid: string): Promise<void> {
    if (this.#stopped) return;
    const pod = this.#desired.get(uid);
    if (pod === undefined) {
      await this.#terminate(uid);
      return;
    }
    const started = performance.now();
    const fresh = !this.#states.has(uid);
    const state = this.#states.get(uid) ?? (await this.#newState(pod));
    state.pod = pod;
    this.probes.syncPod(pod);
    const ctx = this.#o.sync;
    const log = this.#log.child({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, podUid: uid });
    // A pod this agent never synced and the last relist (taken after the agent started) did not
    // see has nothing in the runtime yet: skip the inspection on the start path.
    const known = !fresh || this.#lastSnapshot === undefined || this.#lastSnapshot.sandboxes.has(uid) || this.#lastSnapshot.containers.has(uid);
    let seen: ObservedPod;
    if (!known) seen = emptyObservedPod(uid);
    else if (!fresh && this.#unchangedSince(uid, state)) seen = state.seen;
    else seen = await this.#inspect(uid, state);
    state.seen = seen;
    // First sync in this agent's life: let the probe workers see the (possibly adopted) containers
    // now, so that readiness carried over from the checkpoint is published before the first status.
    if (fresh) void this.probes.probeNow(uid);
    const now = ctx.now();
    const hashes = new Map([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => [c.name, computeContainerHash(c)]));
    const startTimeMs = state.status?.startTime ? Date.parse(state.status.startTime) : undefined;
    const actions = planPodSync({
      pod,
      seen,
      probes: this.probes.view(),
      backoff: computeBackoffView({ backoff: ctx.crashBackoff, podUid: uid, spec: pod.spec, seen, hashOf: (n) => hashes.get(n) ?? '', now }),
      now,
      containerHashes: hashes,
      sandboxHash: computeSandboxHash(pod, computeQosClass(pod.spec)),
      terminal: state.terminal !== undefined || isTerminalPhase(state.status?.phase),
      ...(startTimeMs !== undefined ? { startTimeMs } : {}),
    });
    if (!isNoop(actions)) {
      log.info(describeActions(actions), 'sync pod');
      const created: CreatedInSync = { sandboxes: [], containers: [] };
      const steps = await applyPodActions(ctx, { pod, seen, actions, reasons: state.reasons, created });
      this.#logSteps(log, steps);
      // A failed step (a sandbox CNI could not set up yet, a runtime error) is tried again after a
      // short backoff, 1 s doubling to 10 s (the kubelet's pod workers wait 10 s), not only when a
      // relist happens to show a change or the periodic resync comes.
      if (hasErrors(steps)) this.#setWake(uid, state, Date.now() + this.#syncErrorBackoff.next(uid));
      else this.#syncErrorBackoff.reset(uid);
      if (actions.terminal) state.terminal = actions.terminal;
      this.#o.inspector.forget(actions.removeContainers);
      // A sync that only created things (the start path) reads back just those; anything else relists.
      const onlyCreated = !actions.killPod && actions.kill.length === 0 && actions.removeContainers.length === 0 && actions.removeSandboxes.length === 0 && !hasErrors(steps);
      if (onlyCreated) {
        state.seen = await this.#o.inspector.refresh(seen, created);
        state.seenAtMs = Date.now();
      } else {
        await this.#inspect(uid, state);
      }
    } else if (actions.backoff.length > 0) {
      // Still waiting: keep the CrashLoopBackOff reason fresh.
      await applyPodActions(ctx, { pod, seen, actions, reasons: state.reasons });
    }
    this.#retryAt.delete(uid);
    this.#updateStatus(uid, state);
    this.#scheduleWake(uid, state, pod, actions);
    this.#o.metrics.podSyncDuration.observe({ operation: 'sync' }, (performance.now() - started) / 1000);
  }

  async #inspect(uid: string, state: PodState): Promise<ObservedPod> {
    state.seen = await this.#o.inspector.inspect(uid);
    state.seenAtMs = Date.now();
    return state.seen;
  }

  /**
   * Whether a relist listed after the pod's last inspection shows exactly the sandboxes and
   * containers (ids and states) that inspection saw. Ids are never reused and states only move
   * forward, so nothing changed in between: a periodic resync can plan from what it already knows
   * instead of asking the runtime again (the kubelet's syncs read its PLEG cache the same way).
   */
  #unchangedSince(uid: string, state: PodState): boolean {
    const snap = this.#lastSnapshot;
    if (snap?.listedAtMs === undefined || state.seenAtMs === 0 || snap.listedAtMs <= state.seenAtMs) return false;
    const sandboxes = snap.sandboxes.get(uid);
    const containers = snap.containers.get(uid);
    if ((sandboxes?.size ?? 0) !== state.seen.sandboxes.length || (containers?.size ?? 0) !== state.seen.containers.length) return false;
    return state.seen.sandboxes.every((s) => sandboxes?.get(s.id) === s.state) && state.seen.containers.every((c) => containers?.get(c.id) === c.state);
  }

  async #terminate(uid: string): Promise<void> {
    if (!this.#sourcesReady && !this.#states.has(uid)) return;
    const started = performance.now();
    const state = this.#states.get(uid);
    const seen = await this.#o.inspector.inspect(uid);
    const log = this.#log.child({ podUid: uid, ...(state?.pod ? { pod: `${state.pod.metadata.namespace}/${state.pod.metadata.name}` } : {}) });
    log.info({ sandboxes: seen.sandboxes.length, containers: seen.containers.length }, 'terminate pod');
    await this.probes.removePod(uid);
    const grace = this.#graceOverride.get(uid);
    const steps = await terminatePod(this.#o.sync, { ...(state?.pod ? { pod: state.pod } : {}), seen, ...(grace !== undefined ? { gracePeriodOverride: grace } : {}) });
    this.#logSteps(log, steps);
    this.#o.inspector.forget(seen.containers.map((c) => c.id));
    this.#o.metrics.podSyncDuration.observe({ operation: 'terminate' }, (performance.now() - started) / 1000);
    if (hasErrors(steps)) {
      // Retried by the next relist that still sees it, or the next resync.
      this.#retryAt.set(uid, Date.now() + Math.min(this.#o.resyncPeriodMs, 5000));
      return;
    }
    if (state?.wake) clearTimeout(state.wake.timer);
    this.#states.delete(uid);
    this.#graceOverride.delete(uid);
    // A relist taken before the removal may still list the pod: do not terminate it twice.
    this.#retryAt.set(uid, Date.now() + 3000);
    this.#o.sync.crashBackoff.resetPrefix(`${uid}/`);
    this.#o.sync.imageBackoff.resetPrefix(`${uid}/`);
    this.#syncErrorBackoff.reset(uid);
    if (this.#desired.has(uid)) this.trigger(uid); // it came back meanwhile
  }

  #onSyncError(uid: string, err: unknown): void {
    this.#log.warn({ podUid: uid, err: errorMessage(err) }, 'sync pod failed; will retry');
    this.#retryAt.set(uid, Date.now() + 1000);
    const state = this.#states.get(uid);
    const pod = this.#desired.get(uid);
    if (state !== undefined && pod !== undefined) this.#setWake(uid, state, Date.now() + 1000);
  }

  #logSteps(log: Logger, steps: readonly StepResult[]): void {
    for (const s of steps) {
      if (s.error !== undefined) {
        this.#o.metrics.syncErrors.inc({ step: s.action });
        log.warn({ step: s.action, target: s.target, err: s.error }, 'sync step failed');
      } else {
        log.debug({ step: s.action, target: s.target, message: s.message }, 'sync step');
      }
    }
  }

  async #newState(pod: Pod): Promise<PodState> {
    const uid = pod.metadata.uid;
    let previous = this.#checkpoints.get(uid);
    this.#checkpoints.delete(uid);
    // Checkpoints that existed at start were preloaded; only without that preload is the file read here.
    if (previous === undefined && !this.#checkpointsLoaded) {
      try {
        previous = await readStatusCheckpoint(this.#o.sync.volumes.podDir(uid));
      } catch (err) {
        this.#log.warn({ podUid: uid, err: errorMessage(err) }, 'read status checkpoint failed; starting afresh');
      }
    }
    const state: PodState = {
      seen: emptyObservedPod(uid),
      seenAtMs: 0,
      statusVersion: 0,
      writtenVersion: 0,
      checkpointChain: Promise.resolve(),
      reasons: new Map(),
      firstSeenMs: this.#o.sync.now(),
      startReported: previous !== undefined,
      ...(previous !== undefined ? { status: previous } : {}),
    };
    this.#states.set(uid, state);
    return state;
  }

  // --- status -----------------------------------------------------------------------------

  #buildStatus(pod: Pod, state: PodState | undefined): PodStatus {
    return buildPodStatus({
      pod,
      seen: state?.seen ?? emptyObservedPod(pod.metadata.uid),
      readiness: this.probes.readiness.view(),
      startup: this.probes.startup.view(),
      reasons: state?.reasons ?? new Map(),
      ...(state?.status ? { previous: state.status } : {}),
      ...(state?.terminal ? { terminal: state.terminal } : {}),
      hostIp: this.#o.sync.node.ip,
      now: this.#o.sync.now(),
    });
  }

  #refreshStatus(uid: string): void {
    const state = this.#states.get(uid);
    if (state !== undefined && this.#desired.has(uid)) this.#updateStatus(uid, state);
  }

  #updateStatus(uid: string, state: PodState): void {
    const pod = this.#desired.get(uid);
    if (pod === undefined) return;
    const status = this.#buildStatus(pod, state);
    if (state.status !== undefined && state.statusVersion > 0 && normaliseStatus(status) === normaliseStatus(state.status)) return;
    const before = state.status;
    state.status = status;
    state.statusVersion++;
    if (before?.phase !== status.phase || before.conditions.find((c) => c.type === 'Ready')?.status !== status.conditions.find((c) => c.type === 'Ready')?.status) {
      this.#log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, podUid: uid, phase: status.phase, ready: status.conditions.find((c) => c.type === 'Ready')?.status }, 'pod status');
    }
    if (!state.startReported && status.containerStatuses.every((c) => c.state.running !== undefined)) {
      state.startReported = true;
      this.#o.metrics.podStartDuration.observe(Math.max(0, this.#o.sync.now() - state.firstSeenMs) / 1000);
    }
    this.#o.onStatus?.(pod, status);
    // Writes are chained and always write the newest status, so a slow write never lands last with an older one.
    const version = state.statusVersion;
    state.checkpointChain = state.checkpointChain.then(async () => {
      if (version <= state.writtenVersion || state.status === undefined || !this.#desired.has(uid)) return;
      const writing = state.statusVersion;
      try {
        await writeStatusCheckpoint(this.#o.sync.volumes.podDir(uid), state.status);
        state.writtenVersion = writing;
      } catch (err) {
        this.#log.warn({ podUid: uid, err: errorMessage(err) }, 'write status checkpoint failed');
      }
    });
  }

  #rejectionStatus(pod: Pod): PodStatus {
    const now = formatTime(this.#o.sync.now());
    return {
      phase: 'Failed',
      reason: 'OutOfpods',
      message: `Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: ${this.#o.maxPods}, capacity: ${this.#o.maxPods}`,
      conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }],
      containerStatuses: [],
      qosClass: computeQosClass(pod.spec),
    };
  }

  #seedReadiness(containerId: string): 'success' | undefined {
    const id = CONTAINER_ID_PREFIX + containerId;
    for (const s of [...this.#states.values(), ...[...this.#checkpoints.values()].map((status) => ({ status }))]) {
      const cs = s.status?.containerStatuses.find((c) => c.containerID === id);
      if (cs !== undefined) return cs.ready ? 'success' : undefined;
    }
    return undefined;
  }

  #probeTarget(uid: string, name: string): ProbeTarget | undefined {
    const state = this.#states.get(uid);
    const pod = this.#desired.get(uid);
    if (state === undefined || pod === undefined) return undefined;
    const latest = latestContainer(state.seen, name);
    if (latest === undefined) return undefined;
    const spec = pod.spec.containers.find((c) => c.name === name);
    const sandbox = state.seen.sandboxes.find((s) => s.id === latest.sandboxId);
    return {
      containerId: latest.id,
      running: latest.state === 'running',
      startedAtMs: latest.startedAtMs,
      podIp: pod.spec.hostNetwork ? this.#o.sync.node.ip : (sandbox?.ip ?? ''),
      started: spec?.startupProbe === undefined || this.probes.startup.get(latest.id) === 'success',
    };
  }

  // --- timers -----------------------------------------------------------------------------

  /** Wake the pod when a backoff ends or its active deadline passes, rather than at the next resync. */
  #scheduleWake(uid: string, state: PodState, pod: Pod, actions: PodActions): void {
    const now = this.#o.sync.now();
    const candidates: number[] = actions.backoff.map((b) => b.untilMs);
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      const r = state.reasons.get(c.name)?.reason;
      if (r !== REASON.imagePullBackOff && r !== REASON.errImagePull) continue;
      const entry = this.#o.sync.imageBackoff.get(imagePullKey(uid, c.image), now);
      if (entry !== undefined) candidates.push(entry.updatedAtMs + entry.delayMs);
    }
    if (pod.spec.activeDeadlineSeconds !== undefined && state.status?.startTime && !isTerminalPhase(state.status.phase)) {
      candidates.push(Date.parse(state.status.startTime) + pod.spec.activeDeadlineSeconds * 1000);
    }
    const future = candidates.filter((t) => t > now);
    if (future.length > 0) this.#setWake(uid, state, Math.min(...future) + 5);
  }

  #setWake(uid: string, state: PodState, atMs: number): void {
    if (this.#stopped) return;
    if (state.wake !== undefined) {
      if (state.wake.atMs <= atMs && state.wake.atMs > Date.now()) return;
      clearTimeout(state.wake.timer);
    }
    const timer = setTimeout(() => {
      state.wake = undefined;
      this.trigger(uid);
    }, Math.max(0, atMs - Date.now()));
    timer.unref?.();
    state.wake = { atMs, timer };
  }

  /** Remove <root-dir>/pods/<uid> of pods that are neither wanted nor in the runtime any more. */
  async #cleanupPodDirs(): Promise<void> {
    if (!this.#sourcesReady || this.#lastSnapshot === undefined) return;
    const snapshot = this.#lastSnapshot;
    for (const uid of await this.#o.sync.volumes.listPodDirs()) {
      if (this.#desired.has(uid) || this.#states.has(uid) || snapshot.sandboxes.has(uid) || snapshot.containers.has(uid) || this.#runner.isRunning(uid)) continue;
      try {
        await this.#o.sync.volumes.removePodDir(uid);
        this.#log.info({ podUid: uid }, 'removed the directory of a pod that is gone');
      } catch (err) {
        this.#log.warn({ podUid: uid, err: errorMessage(err) }, 'remove pod directory failed');
      }
    }
  }
}
