// Restart policy, init-container ordering and crash-loop backoff decisions, as small pure
// functions with the kubelet's rules (ShouldContainerBeRestarted, findNextInitContainerToRun,
// doBackOff). The backoff state itself lives in backoff.ts; here it is only read.

import type { ObservedContainer, ObservedPod } from './observed.ts';
import { latestContainer } from './observed.ts';
import type { PodSpec, RestartPolicy } from './types.ts';

/** Upstream crash-loop backoff: 10 s doubling to 5 min, forgotten after 10 min without a restart. */
export const DEFAULT_CRASH_LOOP_BACKOFF = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 } as const;
/** Upstream image pull backoff. */
export const DEFAULT_IMAGE_PULL_BACKOFF = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 } as const;

/**
 * Whether a container whose newest instance is `latest` must be (re)started: never seen, created
 * but not started, or in an unknown state always; exited according to the restart policy.
 */
export function shouldRestartContainer(policy: RestartPolicy, latest: Pick<ObservedContainer, 'state' | 'exitCode'> | undefined): boolean {
  if (latest === undefined) return true;
  switch (latest.state) {
    case 'running':
      return false;
    case 'created':
    case 'unknown':
      return true;
    case 'exited':
      if (policy === 'Never') return false;
      if (policy === 'OnFailure') return latest.exitCode !== 0;
      return true;
    default: {
      const never: never = latest.state;
      throw new Error(`unknown container state ${String(never)}`);
    }
  }
}

/** A failed init container: exited non-zero, or in an unknown state. */
export function isInitFailed(c: Pick<ObservedContainer, 'state' | 'exitCode'>): boolean {
  return (c.state === 'exited' && c.exitCode !== 0) || c.state === 'unknown';
}

export function hasSucceeded(c: Pick<ObservedContainer, 'state' | 'exitCode'> | undefined): boolean {
  return c !== undefined && c.state === 'exited' && c.exitCode === 0;
}

export interface InitProgress {
  /** Every init container has exited 0 (or there are none, or a regular container already runs). */
  readonly done: boolean;
  /** Index into spec.initContainers of the one to (re)start; undefined while one runs. */
  readonly next?: number;
  /** The newest failed init container, when `next` is a restart of it. */
  readonly failed?: ObservedContainer;
}

/**
 * Where initialisation stands in the sandbox `sandboxId`: init containers run one at a time, in
 * order, each to exit 0 before the next; a failed one is the next to run again.
 */
export function findNextInit(spec: Pick<PodSpec, 'initContainers' | 'containers'>, seen: ObservedPod, sandboxId: string): InitProgress {
  const inits = spec.initContainers ?? [];
  if (inits.length === 0) return { done: true };
  // A regular container running here means initialisation completed at some point.
  if (spec.containers.some((c) => latestContainer(seen, c.name, sandboxId)?.state === 'running')) return { done: true };
  for (let i = inits.length - 1; i >= 0; i--) {
    const s = latestContainer(seen, inits[i].name, sandboxId);
    if (s !== undefined && isInitFailed(s)) return { done: false, next: i, failed: s };
  }
  for (let i = inits.length - 1; i >= 0; i--) {
    const s = latestContainer(seen, inits[i].name, sandboxId);
    if (s === undefined) continue;
    if (s.state === 'running') return { done: false };
    if (s.state === 'exited') return i === inits.length - 1 ? { done: true } : { done: false, next: i + 1 };
  }
  return { done: false, next: 0 };
}

/** The crash-loop backoff key: pod, container and its spec hash, so a changed spec starts afresh. */
export function crashLoopKey(podUid: string, containerName: string, containerHash: string): string {
  return `${podUid}/${containerName}/${containerHash}`;
}

export function imagePullKey(podUid: string, image: string): string {
  return `${podUid}/${image}`;
}

/** Read access to a KeyedBackoff. */
export interface BackoffReader {
  notBefore(key: string, sinceMs: number, atMs?: number): number | undefined;
}

/**
 * For each container whose newest instance exited and whose backoff is still running, the moment
 * it may start again (measured from its exit, like the kubelet's doBackOff). Pure given the reader.
 */
export function computeBackoffView(opts: {
  readonly backoff: BackoffReader;
  readonly podUid: string;
  readonly spec: Pick<PodSpec, 'initContainers' | 'containers'>;
  readonly seen: ObservedPod;
  readonly hashOf: (name: string) => string;
  readonly now: number;
}): Map<string, number> {
  const view = new Map<string, number>();
  for (const c of [...(opts.spec.initContainers ?? []), ...opts.spec.containers]) {
    const latest = latestContainer(opts.seen, c.name);
    if (latest === undefined || latest.state !== 'exited') continue;
    const since = latest.finishedAtMs > 0 ? latest.finishedAtMs : latest.createdAtMs;
    const until = opts.backoff.notBefore(crashLoopKey(opts.podUid, c.name, opts.hashOf(c.name)), since, opts.now);
    if (until !== undefined && until > opts.now) view.set(c.name, until);
  }
  return view;
}

/** restartCount for the next instance: one more than the newest instance's, 0 for the first. */
export function nextRestartCount(seen: ObservedPod, name: string): number {
  const latest = latestContainer(seen, name);
  return latest === undefined ? 0 : latest.restartCount + 1;
}
