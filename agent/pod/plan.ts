// planPodSync: what one sync of one pod must do, decided from data alone (the desired pod, what
// the runtime reports, probe results, crash-loop backoff deadlines and the clock), following the
// kubelet's computePodActions. It calls nothing; the executor (sync.ts) carries the plan out and
// the next sync plans again from what is really there.

import { hasSucceeded, findNextInit, shouldRestartContainer } from './restart.ts';
import type { ObservedContainer, ObservedPod, ObservedSandbox } from './observed.ts';
import { latestContainer } from './observed.ts';
import type { Pod, PodSpec } from './types.ts';

export type KillReason =
  | 'spec-changed'
  | 'liveness'
  | 'startup'
  | 'post-start-failed'
  | 'unknown-state'
  | 'not-in-spec';

export type KillPodReason =
  | 'no-ready-sandbox'
  | 'sandbox-not-ready'
  | 'multiple-sandboxes'
  | 'network-mode-changed'
  | 'network-lost'
  | 'sandbox-spec-changed'
  | 'pod-completed'
  | 'init-container-failed'
  | 'deadline-exceeded'
  | 'pod-terminal'
  | 'pod-removed';

export type ProbeResult = 'success' | 'failure' | 'unknown';

/** Probe results by container id. */
export interface ProbeView {
  readonly liveness: ReadonlyMap<string, ProbeResult>;
  readonly startup: ReadonlyMap<string, ProbeResult>;
}

export const NO_PROBES: ProbeView = { liveness: new Map(), startup: new Map() };

export interface KillAction {
  readonly id: string;
  readonly name: string;
  readonly reason: KillReason;
}

export interface BackoffWait {
  readonly name: string;
  readonly init: boolean;
  /** Epoch ms when the container may start again. */
  readonly untilMs: number;
}

export interface PodActions {
  /** Stop everything, sandbox included (before creating a new one when createSandbox). */
  readonly killPod: boolean;
  readonly killPodReason?: KillPodReason;
  readonly createSandbox: boolean;
  /** Attempt number of the sandbox to create. */
  readonly sandboxAttempt: number;
  /** The existing sandbox to start containers in. */
  readonly sandboxId?: string;
  /** Index into spec.initContainers of the init container to start. */
  readonly nextInit?: number;
  /** Indexes into spec.containers to start. */
  readonly start: readonly number[];
  readonly kill: readonly KillAction[];
  /** Containers that would start but wait for their crash-loop backoff. */
  readonly backoff: readonly BackoffWait[];
  /** The pod reached a final phase in this plan (e.g. its active deadline passed). */
  readonly terminal?: { readonly phase: 'Failed'; readonly reason: string; readonly message: string };
  /** Exited containers beyond the keep limit, and containers of names no longer in the spec. */
  readonly removeContainers: readonly string[];
  /** Dead sandboxes, not the newest, left with no containers. */
  readonly removeSandboxes: readonly string[];
}

export interface PlanInput {
  readonly pod: Pod;
  readonly seen: ObservedPod;
  readonly probes: ProbeView;
  /** Crash-loop backoff deadlines by container name (restart.ts computeBackoffView). */
  readonly backoff: ReadonlyMap<string, number>;
  readonly now: number;
  /** Spec hash of each container, by name (labels.ts computeContainerHash). */
  readonly containerHashes: ReadonlyMap<string, string>;
  /** The sandbox hash the pod wants (labels.ts computeSandboxHash). */
  readonly sandboxHash: string;
  /** The pod already reached Succeeded or Failed: nothing starts again. */
  readonly terminal?: boolean;
  /** When the agent first saw the pod running (for activeDeadlineSeconds). */
  readonly startTimeMs?: number;
  /** Exited instances kept per container name, newest first; default 1. */
  readonly keepExitedPerContainer?: number;
}

interface SandboxDecision {
  readonly create: boolean;
  readonly reason?: KillPodReason;
  readonly attempt: number;
  readonly current?: ObservedSandbox;
}

/** kubelet's podSandboxChanged, plus Moor's sandbox spec hash. */
export function decideSandbox(spec: PodSpec, seen: ObservedPod, sandboxHash: string): SandboxDecision {
  const newest = seen.sandboxes[0];
  if (newest === undefined) return { create: true, reason: 'no-ready-sandbox', attempt: 0 };
  const attempt = Math.max(...seen.sandboxes.map((s) => s.attempt)) + 1;
  if (newest.state !== 'ready') return { create: true, reason: 'sandbox-not-ready', attempt };
  if (seen.sandboxes.filter((s) => s.state === 'ready').length > 1) return { create: true, reason: 'multiple-sandboxes', attempt };
  if (newest.hostNetwork !== (spec.hostNetwork ?? false)) return { create: true, reason: 'network-mode-changed', attempt };
  if (!newest.hostNetwork && newest.ip === '') return { create: true, reason: 'network-lost', attempt };
  if (newest.sandboxHash !== '' && newest.sandboxHash !== sandboxHash) return { create: true, reason: 'sandbox-spec-changed', attempt };
  return { create: false, attempt, current: newest };
}

function hasAnythingRunning(seen: ObservedPod): boolean {
  return seen.sandboxes.some((s) => s.state === 'ready') || seen.containers.some((c) => c.state === 'running' || c.state === 'unknown');
}

/** Garbage: exited instances beyond the keep limit per name, exited instances of names not in the spec, then emptied dead sandboxes. */
export function planGarbage(spec: PodSpec | undefined, seen: ObservedPod, keep = 1): { removeContainers: string[]; removeSandboxes: string[] } {
  const names = new Set(spec === undefined ? [] : [...(spec.initContainers ?? []), ...spec.containers].map((c) => c.name));
  const removeContainers: string[] = [];
  const kept = new Map<string, number>();
  for (const c of seen.containers) {
    if (c.state === 'running' || c.state === 'unknown') continue;
    const n = kept.get(c.name) ?? 0;
    // The newest instance of each name stays (restart count, last state, logs); a created one too.
    if (names.has(c.name) && (n < keep || (c.state === 'created' && n === 0))) {
      kept.set(c.name, n + 1);
      continue;
    }
    removeContainers.push(c.id);
  }
  const removed = new Set(removeContainers);
  const newest = seen.sandboxes[0];
  const removeSandboxes = seen.sandboxes
    .filter((s) => s !== newest && s.state !== 'ready' && !seen.containers.some((c) => c.sandboxId === s.id && !removed.has(c.id)))
    .map((s) => s.id);
  return { removeContainers, removeSandboxes };
}

/** The containers to start in a fresh sandbox: the first init container, or every regular one the policy allows. */
function startsInFreshSandbox(spec: PodSpec, seen: ObservedPod): { nextInit?: number; start: number[] } {
  if ((spec.initContainers ?? []).length > 0) return { nextInit: 0, start: [] };
  const start: number[] = [];
  spec.containers.forEach((c, i) => {
    if (spec.restartPolicy === 'OnFailure' && hasSucceeded(latestContainer(seen, c.name))) return;
    start.push(i);
  });
  return { start };
}

/** Split starts into those allowed now and those waiting for their crash-loop backoff. */
function applyBackoff(
  input: PlanInput,
  candidates: { index: number; name: string; init: boolean; afterKill: boolean }[],
): { allowed: { index: number; init: boolean }[]; waits: BackoffWait[] } {
  const allowed: { index: number; init: boolean }[] = [];
  const waits: BackoffWait[] = [];
  for (const c of candidates) {
    const until = input.backoff.get(c.name);
    // A container killed in this very sync restarts at once (its newest instance was running).
    if (!c.afterKill && until !== undefined && until > input.now) waits.push({ name: c.name, init: c.init, untilMs: until });
    else allowed.push({ index: c.index, init: c.init });
  }
  return { allowed, waits };
}

export function planPodSync(input: PlanInput): PodActions {
  const { pod, seen, probes, now } = input;
  const spec = pod.spec;
  const garbage = planGarbage(spec, seen, input.keepExitedPerContainer ?? 1);
  const base = { createSandbox: false, sandboxAttempt: 0, start: [] as number[], kill: [] as KillAction[], backoff: [] as BackoffWait[], ...garbage };

  // A pod in a final phase only makes sure nothing of it runs.
  if (input.terminal === true) {
    const running = hasAnythingRunning(seen);
    return { ...base, killPod: running, ...(running ? { killPodReason: 'pod-terminal' as const } : {}) };
  }
  if (spec.activeDeadlineSeconds !== undefined && input.startTimeMs !== undefined && now >= input.startTimeMs + spec.activeDeadlineSeconds * 1000) {
    return {
      ...base,
      killPod: hasAnythingRunning(seen),
      killPodReason: 'deadline-exceeded',
      terminal: { phase: 'Failed', reason: 'DeadlineExceeded', message: `Pod was active on the node longer than the specified deadline` },
    };
  }

  // Running containers whose name left the spec are stopped whatever else happens.
  const names = new Set([...(spec.initContainers ?? []), ...spec.containers].map((c) => c.name));
  const strays: KillAction[] = seen.containers.filter((c) => c.state === 'running' && !names.has(c.name)).map((c) => ({ id: c.id, name: c.name, reason: 'not-in-spec' }));

  // Step 1: sandbox.
  const sandbox = decideSandbox(spec, seen, input.sandboxHash);
  if (sandbox.create) {
    const everRan = seen.containers.length > 0;
    if (spec.restartPolicy === 'Never' && seen.sandboxes.length > 0 && everRan) {
      // kubelet: a pod that must not restart does not get a new sandbox once it ran.
      return { ...base, killPod: hasAnythingRunning(seen), killPodReason: sandbox.reason, removeSandboxes: [] };
    }
    const fresh = startsInFreshSandbox(spec, seen);
    if (fresh.nextInit === undefined && fresh.start.length === 0) {
      // kubelet: no sandbox for a pod whose containers all completed and must not run again.
      return { ...base, killPod: hasAnythingRunning(seen), killPodReason: 'pod-completed' };
    }
    const candidates = fresh.nextInit !== undefined
      ? [{ index: fresh.nextInit, name: spec.initContainers![fresh.nextInit].name, init: true, afterKill: false }]
      : fresh.start.map((i) => ({ index: i, name: spec.containers[i].name, init: false, afterKill: false }));
    const { allowed, waits } = applyBackoff(input, candidates);
    return {
      ...base,
      killPod: hasAnythingRunning(seen),
      killPodReason: sandbox.reason,
      createSandbox: true,
      sandboxAttempt: sandbox.attempt,
      ...(fresh.nextInit !== undefined && allowed.length > 0 ? { nextInit: fresh.nextInit } : {}),
      start: fresh.nextInit !== undefined ? [] : allowed.map((a) => a.index),
      backoff: waits,
      // Old sandboxes go once the new one exists; the executor removes them after creating it.
      removeSandboxes: garbage.removeSandboxes,
    };
  }
  const current = sandbox.current!;
  const sandboxId = current.id;

  // Step 2: init containers, one at a time, in order.
  const init = findNextInit(spec, seen, sandboxId);
  if (!init.done) {
    const kill: KillAction[] = [...strays];
    if (init.next === undefined) return { ...base, killPod: false, sandboxId, kill };
    if (init.failed !== undefined && spec.restartPolicy === 'Never') {
      return { ...base, killPod: true, killPodReason: 'init-container-failed', sandboxId, kill };
    }
    if (init.failed?.state === 'unknown') kill.push({ id: init.failed.id, name: init.failed.name, reason: 'unknown-state' });
    const name = spec.initContainers![init.next].name;
    const { allowed, waits } = applyBackoff(input, [{ index: init.next, name, init: true, afterKill: false }]);
    return { ...base, killPod: false, sandboxId, kill, backoff: waits, ...(allowed.length > 0 ? { nextInit: init.next } : {}) };
  }

  // Step 3: regular containers.
  const kill: KillAction[] = [...strays];
  const candidates: { index: number; name: string; init: boolean; afterKill: boolean }[] = [];
  let keep = 0;
  spec.containers.forEach((c, index) => {
    const latest = latestContainer(seen, c.name);
    if (latest === undefined || latest.state !== 'running' || latest.sandboxId !== sandboxId) {
      if (latest?.state === 'unknown') kill.push({ id: latest.id, name: c.name, reason: 'unknown-state' });
      if (latest?.state === 'running') kill.push({ id: latest.id, name: c.name, reason: 'unknown-state' });
      const restartable = latest?.state === 'running' ? true : shouldRestartContainer(spec.restartPolicy, latest);
      if (restartable) candidates.push({ index, name: c.name, init: false, afterKill: false });
      return;
    }
    const reason = runningKillReason(latest, input.containerHashes.get(c.name) ?? '', probes);
    if (reason === undefined) {
      keep++;
      return;
    }
    kill.push({ id: latest.id, name: c.name, reason });
    // A changed spec always restarts; a failed probe restarts unless the policy is Never.
    if (reason === 'spec-changed' || spec.restartPolicy !== 'Never') candidates.push({ index, name: c.name, init: false, afterKill: true });
  });
  const { allowed, waits } = applyBackoff(input, candidates);
  const killPod = keep === 0 && candidates.length === 0;
  return {
    ...base,
    killPod,
    ...(killPod ? { killPodReason: 'pod-completed' as const } : {}),
    sandboxId,
    start: allowed.map((a) => a.index),
    kill,
    backoff: waits,
  };
}

function runningKillReason(c: ObservedContainer, wantHash: string, probes: ProbeView): KillReason | undefined {
  if (c.hash !== '' && wantHash !== '' && c.hash !== wantHash) return 'spec-changed';
  if (probes.liveness.get(c.id) === 'failure') return 'liveness';
  if (probes.startup.get(c.id) === 'failure') return 'startup';
  return undefined;
}

/** The plan as one log line's fields. */
export function describeActions(a: PodActions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (a.killPod) out.killPod = a.killPodReason ?? true;
  if (a.createSandbox) out.createSandbox = a.sandboxAttempt;
  if (a.nextInit !== undefined) out.nextInit = a.nextInit;
  if (a.start.length > 0) out.start = a.start;
  if (a.kill.length > 0) out.kill = a.kill.map((k) => `${k.name}:${k.reason}`);
  if (a.backoff.length > 0) out.backoff = a.backoff.map((b) => b.name);
  if (a.terminal) out.terminal = a.terminal.reason;
  if (a.removeContainers.length > 0) out.removeContainers = a.removeContainers.length;
  if (a.removeSandboxes.length > 0) out.removeSandboxes = a.removeSandboxes.length;
  return out;
}

/** Nothing to do: the pod is as it should be. */
export function isNoop(a: PodActions): boolean {
  return !a.killPod && !a.createSandbox && a.nextInit === undefined && a.start.length === 0 && a.kill.length === 0 && a.removeContainers.length === 0 && a.removeSandboxes.length === 0;
}
