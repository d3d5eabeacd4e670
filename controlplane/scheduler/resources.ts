// Resource arithmetic for scheduling, pure: a pod's effective requests (sum of its containers, at
// least the largest init container, plus overhead), the "non-zero" requests used for scoring (100m
// CPU and 200Mi memory for containers that ask for nothing, as kube-scheduler), and a node's
// allocatable amounts. Malformed quantities count as zero (the API server validates them).

import { bytes, milliCpu } from '../../common/quantity.ts';
import type { Container, Node, Pod, ResourceList } from '../client/types.ts';

export interface Resources {
  milliCpu: number;
  memory: number;
  /** Everything else by name (ephemeral-storage, extended resources), in base units. */
  scalar: Record<string, number>;
}

export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

export function emptyResources(): Resources {
  return { milliCpu: 0, memory: 0, scalar: {} };
}

function amount(name: string, q: string | number): number {
  try {
    return name === 'cpu' ? milliCpu(q) : bytes(q);
  } catch {
    return 0;
  }
}

function fromList(list: ResourceList | undefined): Resources {
  const r = emptyResources();
  for (const [name, q] of Object.entries(list ?? {})) {
    if (name === 'cpu') r.milliCpu = amount(name, q);
    else if (name === 'memory') r.memory = amount(name, q);
    else if (name !== 'pods') r.scalar[name] = amount(name, q);
  }
  return r;
}

function add(a: Resources, b: Resources): void {
  a.milliCpu += b.milliCpu;
  a.memory += b.memory;
  for (const [k, v] of Object.entries(b.scalar)) a.scalar[k] = (a.scalar[k] ?? 0) + v;
}

function max(a: Resources, b: Resources): void {
  a.milliCpu = Math.max(a.milliCpu, b.milliCpu);
  a.memory = Math.max(a.memory, b.memory);
  for (const [k, v] of Object.entries(b.scalar)) a.scalar[k] = Math.max(a.scalar[k] ?? 0, v);
}

function requestsOf(c: Container): ResourceList | undefined {
  // A limit without a request means request = limit (API defaulting); honour it if the server did not.
  const res = c.resources ?? {};
  return { ...(res.limits ?? {}), ...(res.requests ?? {}) };
}

/** What the pod asks of a node: max(sum of containers, each init container) + overhead. */
export function computePodRequests(pod: Pod): Resources {
  const total = emptyResources();
  for (const c of pod.spec.containers ?? []) add(total, fromList(requestsOf(c)));
  for (const c of pod.spec.initContainers ?? []) max(total, fromList(requestsOf(c)));
  if (pod.spec.overhead !== undefined) add(total, fromList(pod.spec.overhead));
  return total;
}

/** CPU and memory for scoring: containers without a request count as 100m / 200Mi. */
export function computeNonZeroRequests(pod: Pod): { milliCpu: number; memory: number } {
  let cpu = 0;
  let mem = 0;
  for (const c of pod.spec.containers ?? []) {
    const r = fromList(requestsOf(c));
    cpu += r.milliCpu === 0 && !hasRequest(c, 'cpu') ? DEFAULT_MILLI_CPU_REQUEST : r.milliCpu;
    mem += r.memory === 0 && !hasRequest(c, 'memory') ? DEFAULT_MEMORY_REQUEST : r.memory;
  }
  for (const c of pod.spec.initContainers ?? []) {
    const r = fromList(requestsOf(c));
    cpu = Math.max(cpu, r.milliCpu === 0 && !hasRequest(c, 'cpu') ? DEFAULT_MILLI_CPU_REQUEST : r.milliCpu);
    mem = Math.max(mem, r.memory === 0 && !hasRequest(c, 'memory') ? DEFAULT_MEMORY_REQUEST : r.memory);
  }
  return { milliCpu: cpu, memory: mem };
}

function hasRequest(c: Container, name: string): boolean {
  const list = requestsOf(c);
  return list !== undefined && list[name] !== undefined;
}

export interface Allocatable extends Resources {
  pods: number;
}

/** status.allocatable, else status.capacity; a missing amount is zero (nothing fits), as upstream. */
export function computeAllocatable(node: Node): Allocatable {
  const list = node.status?.allocatable ?? node.status?.capacity ?? {};
  const r = fromList(list);
  let pods = 0;
  if (list.pods !== undefined) {
    const n = Number(list.pods);
    pods = Number.isFinite(n) ? n : 0;
  }
  return { ...r, pods };
}
