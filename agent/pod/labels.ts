// The labels and annotations the agent puts on CRI sandboxes and containers, and reads back to
// adopt them after a restart. Pod identity and container bookkeeping use the kubelet's keys (so
// crictl shows pod names and a node's tools read them the same way); the sandbox spec hash is
// Moor's own. Pure.

import { createHash } from 'node:crypto';
import type { Labels } from '../cri/types.ts';
import type { Container, LifecycleHandler, Pod } from './types.ts';

export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';

export const ANNOTATION_CONTAINER_HASH = 'io.kubernetes.container.hash';
export const ANNOTATION_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const ANNOTATION_TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
export const ANNOTATION_TERMINATION_MESSAGE_POLICY = 'io.kubernetes.container.terminationMessagePolicy';
export const ANNOTATION_PRE_STOP = 'io.kubernetes.container.preStopHandler';
export const ANNOTATION_GRACE_PERIOD = 'io.kubernetes.pod.terminationGracePeriod';
export const ANNOTATION_CONTAINER_PORTS = 'io.kubernetes.container.ports';
/** Moor's: a hash of the pod fields that shape the sandbox; a change recreates the sandbox. */
export const ANNOTATION_SANDBOX_HASH = 'io.moor.sandbox.hash';
/** Moor's: "init" on init containers, so an orphan's kind is known without its spec. */
export const LABEL_CONTAINER_KIND = 'io.moor.container.kind';

/** JSON with object keys sorted, so equal values hash equally whatever the key order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function shortHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 16);
}

/** Any change of the container's spec changes this; a running container with another hash is replaced. */
export function computeContainerHash(c: Container): string {
  return shortHash(c);
}

/** The pod fields a sandbox is built from. */
export function computeSandboxHash(pod: Pod, qosClass: string): string {
  const s = pod.spec;
  const hostPorts = [...(s.initContainers ?? []), ...s.containers].flatMap((c) => (c.ports ?? []).filter((p) => p.hostPort !== undefined));
  return shortHash({
    hostNetwork: s.hostNetwork ?? false, hostPID: s.hostPID ?? false, hostIPC: s.hostIPC ?? false,
    hostname: s.hostname, subdomain: s.subdomain, dnsPolicy: s.dnsPolicy, dnsConfig: s.dnsConfig,
    securityContext: s.securityContext, hostPorts, qosClass,
  });
}

export function podIdentityLabels(pod: Pod): Record<string, string> {
  return { [LABEL_POD_NAME]: pod.metadata.name, [LABEL_POD_NAMESPACE]: pod.metadata.namespace, [LABEL_POD_UID]: pod.metadata.uid };
}

export function buildSandboxLabels(pod: Pod): Labels {
  return { ...(pod.metadata.labels ?? {}), ...podIdentityLabels(pod) };
}

export function buildSandboxAnnotations(pod: Pod, sandboxHash: string): Labels {
  return { ...(pod.metadata.annotations ?? {}), [ANNOTATION_SANDBOX_HASH]: sandboxHash };
}

export function buildContainerLabels(pod: Pod, c: Container, init: boolean): Labels {
  return { ...podIdentityLabels(pod), [LABEL_CONTAINER_NAME]: c.name, ...(init ? { [LABEL_CONTAINER_KIND]: 'init' } : {}) };
}

export function buildContainerAnnotations(pod: Pod, c: Container, restartCount: number): Labels {
  const out: Record<string, string> = {
    [ANNOTATION_CONTAINER_HASH]: computeContainerHash(c),
    [ANNOTATION_RESTART_COUNT]: String(restartCount),
    [ANNOTATION_TERMINATION_MESSAGE_PATH]: c.terminationMessagePath,
    [ANNOTATION_TERMINATION_MESSAGE_POLICY]: c.terminationMessagePolicy,
    [ANNOTATION_GRACE_PERIOD]: String(pod.spec.terminationGracePeriodSeconds),
  };
  if (c.lifecycle?.preStop !== undefined) out[ANNOTATION_PRE_STOP] = JSON.stringify(c.lifecycle.preStop);
  if (c.ports !== undefined && c.ports.length > 0) out[ANNOTATION_CONTAINER_PORTS] = JSON.stringify(c.ports);
  return out;
}

/** What a container's annotations say about it: restart count, spec hash, and how to stop it without its spec. */
export interface ContainerBookkeeping {
  readonly hash: string;
  readonly restartCount: number;
  readonly gracePeriodSeconds?: number;
  readonly preStop?: LifecycleHandler;
}

export function readContainerBookkeeping(annotations: Labels): ContainerBookkeeping {
  const restart = Number(annotations[ANNOTATION_RESTART_COUNT]);
  const grace = Number(annotations[ANNOTATION_GRACE_PERIOD]);
  let preStop: LifecycleHandler | undefined;
  const raw = annotations[ANNOTATION_PRE_STOP];
  if (raw !== undefined) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'object' && parsed !== null) preStop = parsed as LifecycleHandler;
    } catch {
      preStop = undefined; // a hand-made container with a broken annotation: stop it without the hook
    }
  }
  return {
    hash: annotations[ANNOTATION_CONTAINER_HASH] ?? '',
    restartCount: Number.isInteger(restart) && restart >= 0 ? restart : 0,
    ...(Number.isInteger(grace) && grace >= 0 ? { gracePeriodSeconds: grace } : {}),
    ...(preStop !== undefined ? { preStop } : {}),
  };
}
