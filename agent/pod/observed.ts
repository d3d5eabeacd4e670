// What the runtime says about one pod, in the shape the planner and the status builder read:
// its sandboxes and containers, newest first, with the bookkeeping read back from their
// annotations. Built (purely) from CRI list and status answers by buildObservedPod.

import type { ContainerState, ContainerStatus, PodSandbox, PodSandboxState, PodSandboxStatus } from '../cri/types.ts';
import { ANNOTATION_SANDBOX_HASH, ANNOTATION_TERMINATION_MESSAGE_PATH, LABEL_CONTAINER_KIND, LABEL_CONTAINER_NAME, readContainerBookkeeping } from './labels.ts';
import type { LifecycleHandler } from './types.ts';

export interface ObservedSandbox {
  readonly id: string;
  /** The pod's name and namespace as the sandbox was created with. */
  readonly name: string;
  readonly namespace: string;
  readonly attempt: number;
  readonly state: PodSandboxState;
  readonly createdAtMs: number;
  /** '' for host-network pods, stopped sandboxes, and sandboxes whose status was not read. */
  readonly ip: string;
  readonly hostNetwork: boolean;
  readonly sandboxHash: string;
}

export interface ObservedContainer {
  readonly id: string;
  readonly name: string;
  readonly sandboxId: string;
  readonly attempt: number;
  readonly init: boolean;
  readonly state: ContainerState;
  readonly createdAtMs: number;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  readonly exitCode: number;
  /** Completed, Error, OOMKilled, StartError or ''. */
  readonly reason: string;
  readonly message: string;
  readonly image: string;
  readonly imageRef: string;
  readonly logPath: string;
  /** The host file mounted at its terminationMessagePath, when it has one. */
  readonly terminationMessageFile?: string;
  readonly hash: string;
  readonly restartCount: number;
  readonly gracePeriodSeconds?: number;
  readonly preStop?: LifecycleHandler;
}

export interface ObservedPod {
  readonly uid: string;
  /** Newest first. */
  readonly sandboxes: readonly ObservedSandbox[];
  /** Newest first (by creation time). */
  readonly containers: readonly ObservedContainer[];
}

export function emptyObservedPod(uid: string): ObservedPod {
  return { uid, sandboxes: [], containers: [] };
}

export function buildObservedSandbox(s: PodSandbox, status?: PodSandboxStatus): ObservedSandbox {
  return {
    id: s.id,
    name: s.metadata.name,
    namespace: s.metadata.namespace,
    attempt: s.metadata.attempt,
    state: status?.state ?? s.state,
    createdAtMs: s.createdAtMs,
    ip: status?.ip ?? '',
    hostNetwork: (status?.namespaceOptions?.network ?? 'pod') === 'node',
    sandboxHash: s.annotations[ANNOTATION_SANDBOX_HASH] ?? '',
  };
}

/** The host file behind the container's terminationMessagePath, from its CRI status. */
export function terminationMessageFile(status: Pick<ContainerStatus, 'annotations' | 'mounts'>): string | undefined {
  const path = status.annotations[ANNOTATION_TERMINATION_MESSAGE_PATH];
  if (path === undefined || path === '') return undefined;
  return status.mounts.find((m) => m.containerPath === path)?.hostPath;
}

export function buildObservedContainer(podSandboxId: string, s: ContainerStatus): ObservedContainer {
  const book = readContainerBookkeeping(s.annotations);
  const messageFile = terminationMessageFile(s);
  return {
    id: s.id,
    name: s.labels[LABEL_CONTAINER_NAME] ?? s.metadata.name,
    sandboxId: podSandboxId,
    attempt: s.metadata.attempt,
    init: s.labels[LABEL_CONTAINER_KIND] === 'init',
    state: s.state,
    createdAtMs: s.createdAtMs,
    startedAtMs: s.startedAtMs,
    finishedAtMs: s.finishedAtMs,
    exitCode: s.exitCode,
    reason: s.reason,
    message: s.message,
    image: s.image,
    imageRef: s.imageRef,
    logPath: s.logPath,
    ...(messageFile !== undefined ? { terminationMessageFile: messageFile } : {}),
    hash: book.hash,
    restartCount: book.restartCount,
    ...(book.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: book.gracePeriodSeconds } : {}),
    ...(book.preStop !== undefined ? { preStop: book.preStop } : {}),
  };
}

export function buildObservedPod(uid: string, sandboxes: readonly ObservedSandbox[], containers: readonly ObservedContainer[]): ObservedPod {
  return {
    uid,
    sandboxes: [...sandboxes].sort((a, b) => b.createdAtMs - a.createdAtMs || b.attempt - a.attempt),
    containers: [...containers].sort((a, b) => b.createdAtMs - a.createdAtMs || b.attempt - a.attempt),
  };
}

/** The newest instance of a container name, across all the pod's sandboxes. */
export function latestContainer(seen: ObservedPod, name: string, sandboxId?: string): ObservedContainer | undefined {
  return seen.containers.find((c) => c.name === name && (sandboxId === undefined || c.sandboxId === sandboxId));
}

/** The instance before the newest one: the status's lastState. */
export function previousContainer(seen: ObservedPod, name: string): ObservedContainer | undefined {
  return seen.containers.filter((c) => c.name === name)[1];
}
