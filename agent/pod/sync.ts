// The executor of a pod's plan: carries out PodActions against the runtime and the node, one step
// at a time, and returns one StepResult per step instead of stopping silently at the first error.
// The next sync plans again from what is really there, so a failed step is retried by replanning,
// not here. Also the full termination of a pod that left its source.

import { mkdir, rm, stat } from 'node:fs/promises';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { KeyedBackoff } from '../../common/backoff.ts';
import { isNameReserved, isNotFound } from '../cri/errors.ts';
import type { CriClient, Image, Mount, PodSandboxConfig, PodSandboxStatus } from '../cri/types.ts';
import { SingleFlight } from '../../common/single-flight.ts';
import { removePodCgroup } from '../host/cgroups.ts';
import { runHandler } from '../probe/runners.ts';
import type { VolumeManager } from '../volumes.ts';
import { buildContainerConfig, buildHostsFile, buildSandboxConfig, buildVolumeMounts, podLogDirectory } from './cri-config.ts';
import { buildContainerEnv } from './env.ts';
import { computeContainerHash, computeSandboxHash, LABEL_POD_UID } from './labels.ts';
import type { CreatedInSync } from './inspect.ts';
import type { ObservedContainer, ObservedPod } from './observed.ts';
import { latestContainer } from './observed.ts';
import type { KillReason, PodActions } from './plan.ts';
import { computeQosClass, podCgroupParent } from './resources.ts';
import { crashLoopKey, imagePullKey } from './restart.ts';
import { prepareTerminationMessageMount, removeTerminationMessageFile } from './termination-message.ts';
import { REASON, type WaitingReason } from './status.ts';
import type { Container, Pod } from './types.ts';

/** Image lookups and pulls in flight, by image reference. */
export interface ImageCalls {
  readonly status: SingleFlight<string, Image | undefined>;
  readonly pull: SingleFlight<string, string>;
}

export function newImageCalls(): ImageCalls {
  return { status: new SingleFlight(), pull: new SingleFlight() };
}

/** kubelet: containers always get at least this long between SIGTERM and SIGKILL. */
export const MIN_GRACE_PERIOD_SECONDS = 2;

export type StepAction =
  | 'kill-container'
  | 'run-pre-stop'
  | 'stop-sandbox'
  | 'prepare-volumes'
  | 'create-sandbox'
  | 'remove-container'
  | 'remove-sandbox'
  | 'backoff'
  | 'pull-image'
  | 'create-container'
  | 'start-container'
  | 'run-post-start'
  | 'remove-logs'
  | 'remove-volumes'
  | 'remove-cgroup';

export interface StepResult {
  readonly action: StepAction;
  readonly target: string;
  readonly error?: string;
  readonly message?: string;
}

export interface NodeFacts {
  readonly name: string;
  readonly ip: string;
  readonly memoryBytes: number;
  readonly cpuMilli: number;
  /** The node's /etc/resolv.conf text, merged into pods that bring their own dnsConfig. */
  readonly resolvConf: string;
}

export interface SyncContext {
  readonly cri: CriClient;
  readonly log: Logger;
  readonly volumes: VolumeManager;
  readonly node: NodeFacts;
  readonly podLogsDir: string;
  readonly cgroupRoot: string;
  readonly crashBackoff: KeyedBackoff;
  readonly imageBackoff: KeyedBackoff;
  /** Shares concurrent image lookups and pulls of one image between pods. */
  readonly images: ImageCalls;
  readonly now: () => number;
  /** Minimum SIGTERM-to-SIGKILL time; the kubelet's 2 s unless configured. */
  readonly minGracePeriodSeconds?: number;
  /** Told about every container started (for metrics). */
  readonly onContainerStarted?: (e: { podUid: string; name: string; restartCount: number }) => void;
}

export interface ApplyInput {
  readonly pod: Pod;
  readonly seen: ObservedPod;
  readonly actions: PodActions;
  /** Why containers wait, by name: updated in place (set on failures and backoff, cleared on start). */
  readonly reasons: Map<string, WaitingReason>;
  /** Filled in with what this sync created, so the caller can read just those back. */
  readonly created?: CreatedInSync;
}

function step(action: StepAction, target: string, extra: { error?: unknown; message?: string } = {}): StepResult {
  return {
    action,
    target,
    ...(extra.error !== undefined ? { error: errorMessage(extra.error) } : {}),
    ...(extra.message !== undefined ? { message: extra.message } : {}),
  };
}

function allContainers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

/** The sandbox configuration a pod's sandbox of `attempt` was (or will be) created with. */
export function sandboxConfigFor(ctx: SyncContext, pod: Pod, attempt: number): PodSandboxConfig {
  const qos = computeQosClass(pod.spec);
  return buildSandboxConfig(pod, {
    attempt,
    podLogsDir: ctx.podLogsDir,
    cgroupRoot: ctx.cgroupRoot,
    qos,
    sandboxHash: computeSandboxHash(pod, qos),
    hostResolvConf: ctx.node.resolvConf,
  });
}

// --- killing ---------------------------------------------------------------------------------

interface KillInput {
  readonly c: ObservedContainer;
  readonly pod?: Pod;
  readonly reason: KillReason | 'pod-killed';
  readonly podIp: string;
  readonly gracePeriodOverride?: number;
}

/**
 * Stop one container: run its PreStop hook (from the spec, or from its annotation when the spec is
 * gone) within the grace period, then StopContainer with what remains of it (at least the minimum).
 */
export async function killContainer(ctx: SyncContext, k: KillInput): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  const spec = k.pod ? allContainers(k.pod).find((x) => x.name === k.c.name) : undefined;
  const probeGrace = k.reason === 'liveness' ? spec?.livenessProbe?.terminationGracePeriodSeconds : k.reason === 'startup' ? spec?.startupProbe?.terminationGracePeriodSeconds : undefined;
  let grace = k.gracePeriodOverride ?? probeGrace ?? k.pod?.spec.terminationGracePeriodSeconds ?? k.c.gracePeriodSeconds ?? 30;
  const preStop = spec?.lifecycle?.preStop ?? k.c.preStop;
  if (preStop !== undefined && grace > 0 && k.c.state === 'running') {
    const started = ctx.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      runHandler(preStop, { cri: ctx.cri, containerId: k.c.id, podIp: k.podIp, ...(spec ? { container: spec } : {}), timeoutSeconds: grace }),
      new Promise<{ result: 'failure'; message: string }>((resolve) => {
        timer = setTimeout(() => resolve({ result: 'failure', message: `did not finish within ${grace}s` }), grace * 1000);
      }),
    ]).finally(() => clearTimeout(timer));
    const elapsedSeconds = Math.floor((ctx.now() - started) / 1000);
    steps.push(step('run-pre-stop', k.c.name, outcome.result === 'success' ? { message: outcome.message } : { error: `pre-stop hook of ${k.c.name}: ${outcome.message}` }));
    grace -= elapsedSeconds;
  }
  // Always a minimal shutdown window, unless the caller overrides the grace period outright.
  if (k.gracePeriodOverride === undefined) grace = Math.max(grace, ctx.minGracePeriodSeconds ?? MIN_GRACE_PERIOD_SECONDS);
  else grace = Math.max(0, grace);
  try {
    await ctx.cri.stopContainer(k.c.id, grace);
    steps.push(step('kill-container', k.c.name, { message: `${k.reason}, grace ${grace}s` }));
  } catch (err) {
    if (isNotFound(err)) steps.push(step('kill-container', k.c.name, { message: 'already gone' }));
    else steps.push(step('kill-container', k.c.name, { error: err }));
  }
  return steps;
}

/** Stop every running container of the pod (concurrently), then its ready sandboxes. */
export async function killPod(ctx: SyncContext, opts: { pod?: Pod; seen: ObservedPod; gracePeriodOverride?: number }): Promise<StepResult[]> {
  const podIp = opts.seen.sandboxes.find((s) => s.state === 'ready')?.ip ?? '';
  const running = opts.seen.containers.filter((c) => c.state === 'running' || c.state === 'unknown');
  const results = await Promise.all(running.map((c) => killContainer(ctx, {
    c, reason: 'pod-killed', podIp,
    ...(opts.pod ? { pod: opts.pod } : {}),
    ...(opts.gracePeriodOverride !== undefined ? { gracePeriodOverride: opts.gracePeriodOverride } : {}),
  })));
  const steps = results.flat();
  for (const s of opts.seen.sandboxes.filter((x) => x.state === 'ready')) {
    try {
      await ctx.cri.stopPodSandbox(s.id);
      steps.push(step('stop-sandbox', s.id));
    } catch (err) {
      steps.push(isNotFound(err) ? step('stop-sandbox', s.id, { message: 'already gone' }) : step('stop-sandbox', s.id, { error: err }));
    }
  }
  return steps;
}

// --- garbage ---------------------------------------------------------------------------------

async function removeContainers(ctx: SyncContext, seen: ObservedPod, ids: readonly string[]): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  for (const id of ids) {
    const c = seen.containers.find((x) => x.id === id);
    try {
      await ctx.cri.removeContainer(id);
      // containerd leaves the log file; removing it is the agent's job, like the kubelet's.
      if (c?.logPath) await rm(c.logPath, { force: true });
      await removeTerminationMessageFile(c?.terminationMessageFile);
      steps.push(step('remove-container', c ? `${c.name} ${id.slice(0, 12)}` : id));
    } catch (err) {
      steps.push(isNotFound(err) ? step('remove-container', id, { message: 'already gone' }) : step('remove-container', id, { error: err }));
    }
  }
  return steps;
}

async function removeSandboxes(ctx: SyncContext, ids: readonly string[]): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  for (const id of ids) {
    try {
      await ctx.cri.removePodSandbox(id);
      steps.push(step('remove-sandbox', id));
    } catch (err) {
      steps.push(step('remove-sandbox', id, { error: err }));
    }
  }
  return steps;
}

// --- creating ----------------------------------------------------------------------------------

interface SandboxReady {
  readonly sandboxId: string;
  readonly config: PodSandboxConfig;
  readonly podIp: string;
  /** Its status as read for the IP (not for host-network pods). */
  readonly status?: PodSandboxStatus;
}

/**
 * RunPodSandbox for the plan's attempt, after preparing volumes and the log directory. A sandbox
 * that fails half-way is left NOTREADY by containerd; it is removed here, before the error is
 * returned, so that failing attempts do not pile up (the next sync tries a new attempt).
 */
async function createSandbox(ctx: SyncContext, pod: Pod, attempt: number, steps: StepResult[]): Promise<SandboxReady | undefined> {
  const uid = pod.metadata.uid;
  const config = sandboxConfigFor(ctx, pod, attempt);
  // Volumes and the log directory are first needed by CreateContainer: they are made while the
  // runtime sets up the sandbox (a few ms off every start), and waited for before the sandbox counts.
  const prepared = Promise.all([ctx.volumes.ensurePodVolumes(pod), mkdir(config.logDirectory!, { recursive: true, mode: 0o755 })]).then(
    () => step('prepare-volumes', uid),
    (err: unknown) => step('prepare-volumes', uid, { error: err }),
  );
  let sandboxId: string;
  try {
    sandboxId = await ctx.cri.runPodSandbox(config);
  } catch (err) {
    steps.push(await prepared);
    steps.push(step('create-sandbox', `attempt ${attempt}`, { error: err }));
    try {
      const left = await ctx.cri.listPodSandbox({ labelSelector: { [LABEL_POD_UID]: uid } });
      for (const s of left.filter((x) => x.metadata.attempt === attempt && x.state !== 'ready')) {
        await ctx.cri.removePodSandbox(s.id);
        steps.push(step('remove-sandbox', s.id, { message: 'left by the failed attempt' }));
      }
    } catch (cleanupErr) {
      steps.push(step('remove-sandbox', `attempt ${attempt}`, { error: cleanupErr }));
    }
    return undefined;
  }
  const prepareStep = await prepared;
  steps.push(prepareStep);
  // On failure the sandbox stays: the next sync finds it ready without containers and prepares again.
  if (prepareStep.error !== undefined) return undefined;
  let podIp = '';
  let status: PodSandboxStatus | undefined;
  if (pod.spec.hostNetwork) podIp = ctx.node.ip;
  else {
    try {
      status = await ctx.cri.podSandboxStatus(sandboxId);
      podIp = status.ip;
    } catch (err) {
      steps.push(step('create-sandbox', sandboxId, { error: err }));
      return undefined;
    }
    await ctx.volumes.writeHostsFile(uid, buildHostsFile({ podIp, hostname: config.hostname || pod.metadata.name, namespace: pod.metadata.namespace }));
  }
  steps.push(step('create-sandbox', sandboxId, { message: `attempt ${attempt}${podIp ? `, ip ${podIp}` : ''}` }));
  return { sandboxId, config, podIp, ...(status !== undefined ? { status } : {}) };
}

/** EnsureImageExists with the pull policy and the image pull backoff. Returns false (with a reason set) when the image is not there. */
async function ensureImage(ctx: SyncContext, pod: Pod, c: Container, reasons: Map<string, WaitingReason>, steps: StepResult[]): Promise<boolean> {
  const key = imagePullKey(pod.metadata.uid, c.image);
  if (c.imagePullPolicy !== 'Always') {
    let present = false;
    try {
      present = (await ctx.images.status.run(c.image, () => ctx.cri.imageStatus(c.image))) !== undefined;
    } catch (err) {
      steps.push(step('pull-image', c.image, { error: err }));
      reasons.set(c.name, { reason: REASON.errImagePull, message: errorMessage(err) });
      return false;
    }
    if (present) return true;
    if (c.imagePullPolicy === 'Never') {
      const message = `Container image "${c.image}" is not present with pull policy of Never`;
      reasons.set(c.name, { reason: REASON.errImageNeverPull, message });
      steps.push(step('pull-image', c.image, { error: message }));
      return false;
    }
  }
  const now = ctx.now();
  if (ctx.imageBackoff.isInBackoffSinceUpdate(key, now)) {
    const message = `Back-off pulling image "${c.image}"`;
    reasons.set(c.name, { reason: REASON.imagePullBackOff, message });
    steps.push(step('backoff', c.name, { message }));
    return false;
  }
  try {
    const started = ctx.now();
    await ctx.images.pull.run(c.image, () => ctx.cri.pullImage(c.image));
    steps.push(step('pull-image', c.image, { message: `pulled in ${ctx.now() - started} ms` }));
    return true;
  } catch (err) {
    ctx.imageBackoff.next(key, now);
    reasons.set(c.name, { reason: REASON.errImagePull, message: errorMessage(err) });
    steps.push(step('pull-image', c.image, { error: err }));
    return false;
  }
}

/** An image check started ahead of the container that needs it, with its own steps. */
type ImageCheck = Promise<{ ok: boolean; steps: StepResult[] }>;

function checkImage(ctx: SyncContext, pod: Pod, c: Container, reasons: Map<string, WaitingReason>): ImageCheck {
  const steps: StepResult[] = [];
  return ensureImage(ctx, pod, c, reasons, steps).then((ok) => ({ ok, steps }));
}

interface StartTarget {
  readonly sandboxId: string;
  readonly sandboxConfig: PodSandboxConfig;
  readonly podIp: string;
  readonly volumePaths: ReadonlyMap<string, string>;
  readonly hostsFile?: string;
}

/**
 * startContainer as the kubelet does it: image, restart count and crash-loop bookkeeping,
 * CreateContainer, StartContainer, then the PostStart hook; a failing hook kills the container
 * (reason post-start-failed) and the restart policy decides what comes next.
 */
async function startContainer(ctx: SyncContext, input: ApplyInput, c: Container, init: boolean, t: StartTarget, image: ImageCheck): Promise<StepResult[]> {
  const { pod, seen, reasons } = input;
  const steps: StepResult[] = [];
  const { ok, steps: imageSteps } = await image;
  steps.push(...imageSteps);
  if (!ok) return steps;

  const latest = latestContainer(seen, c.name);
  if (latest?.state === 'exited') ctx.crashBackoff.next(crashLoopKey(pod.metadata.uid, c.name, computeContainerHash(c)), ctx.now());
  let restartCount = latest === undefined ? 0 : latest.restartCount + 1;

  let env;
  let mounts: Mount[];
  try {
    env = buildContainerEnv(c, { pod, nodeName: ctx.node.name, hostIp: ctx.node.ip, podIp: t.podIp, nodeCpuMilli: ctx.node.cpuMilli, nodeMemoryBytes: ctx.node.memoryBytes });
    mounts = buildVolumeMounts(c, t.volumePaths);
    if (t.hostsFile !== undefined && !mounts.some((m) => m.containerPath === '/etc/hosts')) mounts.push({ containerPath: '/etc/hosts', hostPath: t.hostsFile, readonly: false });
    const messageMount = await prepareTerminationMessageMount(ctx.volumes.podDir(pod.metadata.uid), c, mounts);
    if (messageMount !== undefined) mounts.push(messageMount);
  } catch (err) {
    reasons.set(c.name, { reason: REASON.createContainerConfigError, message: errorMessage(err) });
    steps.push(step('create-container', c.name, { error: err }));
    return steps;
  }
  const qos = computeQosClass(pod.spec);
  let containerId: string | undefined;
  for (let tries = 0; containerId === undefined; tries++) {
    const config = buildContainerConfig(pod, c, { restartCount, init, env, mounts, qos, nodeMemoryBytes: ctx.node.memoryBytes });
    try {
      containerId = await ctx.cri.createContainer(t.sandboxId, config, t.sandboxConfig);
    } catch (err) {
      // A leftover holds this attempt's name (its status was lost): take the next attempt.
      if (isNameReserved(err) && tries < 3) {
        restartCount++;
        continue;
      }
      reasons.set(c.name, { reason: REASON.createContainerError, message: errorMessage(err) });
      steps.push(step('create-container', c.name, { error: err }));
      return steps;
    }
  }
  steps.push(step('create-container', c.name, { message: `${containerId.slice(0, 12)} restart ${restartCount}` }));
  input.created?.containers.push({ id: containerId, sandboxId: t.sandboxId });
  try {
    await ctx.cri.startContainer(containerId);
  } catch (err) {
    reasons.set(c.name, { reason: REASON.runContainerError, message: errorMessage(err) });
    steps.push(step('start-container', c.name, { error: err }));
    return steps;
  }
  steps.push(step('start-container', c.name, { message: containerId.slice(0, 12) }));
  reasons.delete(c.name);
  ctx.onContainerStarted?.({ podUid: pod.metadata.uid, name: c.name, restartCount });

  const postStart = c.lifecycle?.postStart;
  if (postStart !== undefined) {
    const outcome = await runHandler(postStart, { cri: ctx.cri, containerId, podIp: t.podIp, container: c, timeoutSeconds: Math.max(1, pod.spec.terminationGracePeriodSeconds) });
    if (outcome.result === 'success') steps.push(step('run-post-start', c.name, { message: outcome.message }));
    else {
      steps.push(step('run-post-start', c.name, { error: `post-start hook of ${c.name}: ${outcome.message}` }));
      reasons.set(c.name, { reason: REASON.postStartHookError, message: `PostStartHookError: ${outcome.message}` });
      const observed: ObservedContainer = {
        id: containerId, name: c.name, sandboxId: t.sandboxId, attempt: restartCount, init, state: 'running', createdAtMs: ctx.now(), startedAtMs: ctx.now(),
        finishedAtMs: 0, exitCode: 0, reason: '', message: '', image: c.image, imageRef: '', logPath: '', hash: computeContainerHash(c), restartCount,
      };
      steps.push(...(await killContainer(ctx, { c: observed, pod, reason: 'post-start-failed', podIp: t.podIp })));
    }
  }
  return steps;
}

function volumePathsOf(ctx: SyncContext, pod: Pod): Map<string, string> {
  return new Map((pod.spec.volumes ?? []).map((v) => [v.name, ctx.volumes.volumePath(pod.metadata.uid, v)]));
}

async function fileExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Carry out a pod's plan. Steps, in the kubelet's order:
 *   1. kill the pod (all containers, then sandboxes) when the plan says so;
 *   2. kill the containers that must not run;
 *   3. create the sandbox (volumes, log directory, RunPodSandbox, pod IP, hosts file);
 *   4. remove garbage: exited containers beyond the limit, emptied dead sandboxes;
 *   5. record the crash-loop backoff of containers that must wait;
 *   6. start the next init container;
 *   7. start the regular containers, in spec order.
 */
export async function applyPodActions(ctx: SyncContext, input: ApplyInput): Promise<StepResult[]> {
  const { pod, seen, actions, reasons } = input;
  const steps: StepResult[] = [];
  const podIp = seen.sandboxes.find((s) => s.state === 'ready')?.ip ?? '';

  // Image checks (and pulls) of the containers to start run alongside steps 1-5.
  const toStart: { c: Container; init: boolean }[] = actions.nextInit !== undefined
    ? [{ c: pod.spec.initContainers![actions.nextInit], init: true }]
    : actions.start.map((i) => ({ c: pod.spec.containers[i], init: false }));
  const images = new Map(toStart.map(({ c }) => [c.name, checkImage(ctx, pod, c, reasons)]));

  // step 1: kill the pod
  if (actions.killPod) steps.push(...(await killPod(ctx, { pod, seen })));

  // step 2: kill unwanted containers
  if (!actions.killPod) {
    for (const k of actions.kill) {
      const c = seen.containers.find((x) => x.id === k.id);
      if (c !== undefined) steps.push(...(await killContainer(ctx, { c, pod, reason: k.reason, podIp })));
    }
  }

  // step 3: create the sandbox
  let target: StartTarget | undefined;
  if (actions.createSandbox) {
    const created = await createSandbox(ctx, pod, actions.sandboxAttempt, steps);
    if (created === undefined) return steps;
    input.created?.sandboxes.push({ id: created.sandboxId, ...(created.status !== undefined ? { status: created.status } : {}) });
    target = { sandboxId: created.sandboxId, sandboxConfig: created.config, podIp: created.podIp, volumePaths: new Map() };
  } else if (actions.sandboxId !== undefined) {
    const s = seen.sandboxes.find((x) => x.id === actions.sandboxId)!;
    target = { sandboxId: s.id, sandboxConfig: sandboxConfigFor(ctx, pod, s.attempt), podIp: pod.spec.hostNetwork ? ctx.node.ip : s.ip, volumePaths: new Map() };
  }

  // step 4: garbage
  if (actions.removeContainers.length > 0) steps.push(...(await removeContainers(ctx, seen, actions.removeContainers)));
  if (actions.removeSandboxes.length > 0) steps.push(...(await removeSandboxes(ctx, actions.removeSandboxes)));

  // step 5: crash-loop backoff
  for (const b of actions.backoff) {
    const delaySeconds = Math.max(1, Math.round((b.untilMs - ctx.now()) / 1000));
    const message = `back-off ${delaySeconds}s restarting failed container=${b.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
    reasons.set(b.name, { reason: REASON.crashLoopBackOff, message });
    steps.push(step('backoff', b.name, { message }));
  }

  if (target === undefined || (actions.nextInit === undefined && actions.start.length === 0)) return steps;
  // Volumes are ensured before every batch of starts in an existing sandbox (idempotent): an
  // adopted pod's tmpfs or hostPath may have gone while the agent was away. A sandbox made in
  // this sync has them already.
  if (actions.createSandbox) {
    target = { ...target, volumePaths: volumePathsOf(ctx, pod), ...(pod.spec.hostNetwork ? {} : { hostsFile: ctx.volumes.hostsFilePath(pod.metadata.uid) }) };
  } else {
    try {
      const volumePaths = await ctx.volumes.ensurePodVolumes(pod);
      let hostsFile: string | undefined;
      if (!pod.spec.hostNetwork) {
        hostsFile = ctx.volumes.hostsFilePath(pod.metadata.uid);
        if (!(await fileExists(hostsFile))) await ctx.volumes.writeHostsFile(pod.metadata.uid, buildHostsFile({ podIp: target.podIp, hostname: target.sandboxConfig.hostname || pod.metadata.name, namespace: pod.metadata.namespace }));
      }
      target = { ...target, volumePaths, ...(hostsFile !== undefined ? { hostsFile } : {}) };
    } catch (err) {
      steps.push(step('prepare-volumes', pod.metadata.uid, { error: err }));
      return steps;
    }
  }

  // step 6: the next init container, or step 7: the regular containers, in spec order
  for (const { c, init } of toStart) steps.push(...(await startContainer(ctx, input, c, init, target, images.get(c.name)!)));
  return steps;
}

/**
 * A pod that left its source: stop it (PreStop and grace period from the spec when known, from
 * the containers' annotations otherwise), then remove its containers, sandboxes, log directory,
 * volumes and pod cgroup. Every step runs even when an earlier one failed; a failure leaves the
 * pod for the next cleanup pass.
 */
export async function terminatePod(ctx: SyncContext, opts: { pod?: Pod; seen: ObservedPod; gracePeriodOverride?: number }): Promise<StepResult[]> {
  const steps = await killPod(ctx, opts);
  steps.push(...(await removeContainers(ctx, opts.seen, opts.seen.containers.map((c) => c.id))));
  steps.push(...(await removeSandboxes(ctx, opts.seen.sandboxes.map((s) => s.id))));
  const uid = opts.seen.uid;
  const meta = opts.pod?.metadata ?? (opts.seen.sandboxes[0] ? { name: opts.seen.sandboxes[0].name, namespace: opts.seen.sandboxes[0].namespace, uid } : undefined);
  if (meta !== undefined) {
    const dir = podLogDirectory(ctx.podLogsDir, { metadata: { ...meta, uid } });
    try {
      await rm(dir, { recursive: true, force: true });
      steps.push(step('remove-logs', dir));
    } catch (err) {
      steps.push(step('remove-logs', dir, { error: err }));
    }
  }
  try {
    await ctx.volumes.removePodDir(uid);
    steps.push(step('remove-volumes', uid));
  } catch (err) {
    steps.push(step('remove-volumes', uid, { error: err }));
  }
  for (const qos of ['Guaranteed', 'Burstable', 'BestEffort'] as const) {
    const path = podCgroupParent({ cgroupRoot: ctx.cgroupRoot, qos, podUid: uid });
    try {
      const left = await removePodCgroup(path, { log: ctx.log });
      if (left.length > 0) steps.push(step('remove-cgroup', path, { error: `still busy: ${left.length} hierarchies` }));
    } catch (err) {
      steps.push(step('remove-cgroup', path, { error: err }));
    }
  }
  return steps;
}

export function hasErrors(steps: readonly StepResult[]): boolean {
  return steps.some((s) => s.error !== undefined);
}
