// buildPodStatus: the v1 PodStatus of one pod, computed like the kubelet's generateAPIPodStatus
// from the desired pod, what the runtime reports, probe results, the reasons the last sync left
// (ErrImagePull, CrashLoopBackOff, ...) and the previous status. Pure. A pod in a final phase
// stays there; lastTransitionTime moves only when a condition's status changes.

import type { ObservedContainer, ObservedPod } from './observed.ts';
import { latestContainer, previousContainer } from './observed.ts';
import type { ProbeResult } from './plan.ts';
import { computeQosClass } from './resources.ts';
import { shouldRestartContainer } from './restart.ts';
import type {
  ConditionType, Container, ContainerStateTerminated, ContainerStateView, ContainerStatusView, Pod, PodCondition, PodPhase, PodStatus,
} from './types.ts';

/** Waiting reasons, as the kubelet spells them. */
export const REASON = {
  containerCreating: 'ContainerCreating',
  podInitializing: 'PodInitializing',
  errImagePull: 'ErrImagePull',
  imagePullBackOff: 'ImagePullBackOff',
  errImageNeverPull: 'ErrImageNeverPull',
  crashLoopBackOff: 'CrashLoopBackOff',
  createContainerError: 'CreateContainerError',
  createContainerConfigError: 'CreateContainerConfigError',
  runContainerError: 'RunContainerError',
  postStartHookError: 'PostStartHookError',
} as const;

export interface WaitingReason {
  readonly reason: string;
  readonly message: string;
}

export interface StatusInput {
  readonly pod: Pod;
  readonly seen: ObservedPod;
  /** Readiness and startup probe results by container id. */
  readonly readiness: ReadonlyMap<string, ProbeResult>;
  readonly startup: ReadonlyMap<string, ProbeResult>;
  /** Why a container is waiting, by container name, as the last sync found it. */
  readonly reasons: ReadonlyMap<string, WaitingReason>;
  readonly previous?: PodStatus;
  readonly hostIp: string;
  readonly now: number;
  /** A final phase decided outside the containers (active deadline, rejection). */
  readonly terminal?: { readonly phase: 'Failed' | 'Succeeded'; readonly reason: string; readonly message: string };
}

export const CONTAINER_ID_PREFIX = 'containerd://';

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function terminatedOf(c: ObservedContainer): ContainerStateTerminated {
  const t: ContainerStateTerminated = {
    exitCode: c.exitCode,
    reason: c.reason || (c.exitCode === 0 ? 'Completed' : 'Error'),
    containerID: CONTAINER_ID_PREFIX + c.id,
  };
  if (c.exitCode > 128 && c.exitCode < 160) t.signal = c.exitCode - 128;
  if (c.message !== '') t.message = c.message;
  if (c.startedAtMs > 0) t.startedAt = formatTime(c.startedAtMs);
  if (c.finishedAtMs > 0) t.finishedAt = formatTime(Math.max(c.finishedAtMs, c.startedAtMs));
  return t;
}

function stateOf(c: ObservedContainer): ContainerStateView {
  switch (c.state) {
    case 'running':
      return { running: { startedAt: formatTime(c.startedAtMs > 0 ? c.startedAtMs : c.createdAtMs) } };
    case 'exited':
      return { terminated: terminatedOf(c) };
    case 'created':
      return { waiting: { reason: REASON.containerCreating } };
    case 'unknown':
      return { waiting: { reason: 'ContainerStatusUnknown', message: 'The container state could not be read from the runtime' } };
    default: {
      const never: never = c.state;
      throw new Error(`unknown container state ${String(never)}`);
    }
  }
}

function isStarted(c: Container, latest: ObservedContainer | undefined, startup: ReadonlyMap<string, ProbeResult>): boolean {
  if (latest?.state !== 'running') return false;
  if (c.startupProbe === undefined) return true;
  return startup.get(latest.id) === 'success';
}

function isReady(c: Container, latest: ObservedContainer | undefined, input: StatusInput): boolean {
  if (!isStarted(c, latest, input.startup)) return false;
  if (c.readinessProbe === undefined) return true;
  return input.readiness.get(latest!.id) === 'success';
}

function buildContainerStatuses(input: StatusInput, containers: readonly Container[], init: boolean): ContainerStatusView[] {
  const hasInit = (input.pod.spec.initContainers ?? []).length > 0;
  const defaultReason = hasInit ? REASON.podInitializing : REASON.containerCreating;
  return containers.map((c) => {
    const latest = latestContainer(input.seen, c.name);
    const prev = previousContainer(input.seen, c.name);
    const status: ContainerStatusView = {
      name: c.name,
      state: latest === undefined ? { waiting: { reason: defaultReason } } : stateOf(latest),
      lastState: prev?.state === 'exited' ? { terminated: terminatedOf(prev) } : {},
      ready: init ? hasSucceededInit(latest) : isReady(c, latest, input),
      restartCount: latest?.restartCount ?? 0,
      image: c.image,
      imageID: latest?.imageRef ?? '',
      started: init ? latest?.state === 'running' : isStarted(c, latest, input.startup),
    };
    if (latest !== undefined) status.containerID = CONTAINER_ID_PREFIX + latest.id;
    // A container the next sync will (re)start shows why it waits, when the last sync said why.
    const skipInit = init && hasSucceededInit(latest);
    const reason = input.reasons.get(c.name);
    if (!skipInit && reason !== undefined && input.terminal === undefined && shouldRestartContainer(input.pod.spec.restartPolicy, latest)) {
      if (status.state.terminated !== undefined) status.lastState = { terminated: status.state.terminated };
      status.state = { waiting: { reason: reason.reason, ...(reason.message !== '' ? { message: reason.message } : {}) } };
    }
    return status;
  });
}

function hasSucceededInit(latest: ObservedContainer | undefined): boolean {
  return latest?.state === 'exited' && latest.exitCode === 0;
}

/** kubelet's getPhase (without sidecars). */
export function computePhase(pod: Pod, initStatuses: readonly ContainerStatusView[], statuses: readonly ContainerStatusView[]): PodPhase {
  const spec = pod.spec;
  let pendingInit = 0;
  let failedInit = 0;
  for (const s of initStatuses) {
    if (s.state.running !== undefined) pendingInit++;
    else if (s.state.terminated !== undefined) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.state.waiting !== undefined) {
      if (s.lastState.terminated !== undefined) {
        if (s.lastState.terminated.exitCode !== 0) failedInit++;
      } else pendingInit++;
    } else pendingInit++;
  }
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of statuses) {
    if (s.state.running !== undefined) running++;
    else if (s.state.terminated !== undefined) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting !== undefined) {
      if (s.lastState.terminated !== undefined) stopped++;
      else waiting++;
    } else unknown++;
  }
  if (failedInit > 0 && spec.restartPolicy === 'Never') return 'Failed';
  if (pendingInit > 0 || failedInit > 0) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running > 0 && unknown > 0) return 'Pending';
  if (stopped === statuses.length && unknown === 0) {
    if (spec.restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (spec.restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(type: ConditionType, ok: boolean, input: StatusInput, reason?: string, message?: string): PodCondition {
  const status = ok ? 'True' : 'False';
  const old = input.previous?.conditions.find((c) => c.type === type);
  const c: PodCondition = {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: old !== undefined && old.status === status ? old.lastTransitionTime : formatTime(input.now),
  };
  if (!ok && reason !== undefined) c.reason = reason;
  if (!ok && message !== undefined) c.message = message;
  return c;
}

export function buildPodStatus(input: StatusInput): PodStatus {
  const { pod, previous } = input;
  const spec = pod.spec;
  const initStatuses = buildContainerStatuses(input, spec.initContainers ?? [], true);
  const statuses = buildContainerStatuses(input, spec.containers, false);

  let phase: PodPhase;
  let reason: string | undefined;
  let message: string | undefined;
  if (previous !== undefined && (previous.phase === 'Succeeded' || previous.phase === 'Failed')) {
    phase = previous.phase;
    reason = previous.reason;
    message = previous.message;
  } else if (input.terminal !== undefined) {
    phase = input.terminal.phase;
    reason = input.terminal.reason;
    message = input.terminal.message;
  } else {
    phase = computePhase(pod, initStatuses, statuses);
  }

  const unreadyInit = initStatuses.filter((s) => !s.ready).map((s) => s.name);
  const regularCreated = spec.containers.some((c) => latestContainer(input.seen, c.name) !== undefined);
  const initialized = unreadyInit.length === 0 || regularCreated;
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  const completed = phase === 'Succeeded';
  const conditions: PodCondition[] = [
    condition('PodScheduled', true, input),
    condition('Initialized', initialized || completed, input, 'ContainersNotInitialized', `containers with incomplete status: [${unreadyInit.join(' ')}]`),
    condition('ContainersReady', unready.length === 0 && !completed, input, completed ? 'PodCompleted' : 'ContainersNotReady', completed ? undefined : `containers with unready status: [${unready.join(' ')}]`),
    condition('Ready', unready.length === 0 && !completed, input, completed ? 'PodCompleted' : 'ContainersNotReady', completed ? undefined : `containers with unready status: [${unready.join(' ')}]`),
  ];

  const sandbox = input.seen.sandboxes[0];
  const podIp = spec.hostNetwork ? input.hostIp : sandbox !== undefined && sandbox.ip !== '' ? sandbox.ip : (previous?.podIP ?? '');
  const status: PodStatus = {
    phase,
    conditions,
    hostIP: input.hostIp,
    hostIPs: [{ ip: input.hostIp }],
    startTime: previous?.startTime ?? formatTime(input.now),
    containerStatuses: statuses,
    qosClass: computeQosClass(spec),
  };
  if (reason !== undefined) status.reason = reason;
  if (message !== undefined) status.message = message;
  if (podIp !== '') {
    status.podIP = podIp;
    status.podIPs = [{ ip: podIp }];
  }
  if (initStatuses.length > 0) status.initContainerStatuses = initStatuses;
  return status;
}

/** The status with its volatile parts removed, for "did anything change" comparisons. */
export function normaliseStatus(s: PodStatus): string {
  return JSON.stringify({ ...s, conditions: s.conditions.map((c) => ({ ...c, lastTransitionTime: '' })) });
}
