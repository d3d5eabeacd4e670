// Container resources: the QoS class of a pod, and requests/limits as CRI Linux resources, with
// the kubelet's formulas (cgroup v1, cgroupfs): cpu shares from the request (minimum 2), CFS quota
// from the limit over a 100 ms period (minimum 1 ms), memory limit in bytes, oom_score_adj by QoS.
// Pure; only cpu and memory are considered, like the kubelet's QoS rules.

import type { LinuxContainerResources } from '../cri/types.ts';
import { bytes, milliCpu } from '../../common/quantity.ts';
import type { Container, PodSpec, QosClass } from './types.ts';

export const MIN_CPU_SHARES = 2;
export const MAX_CPU_SHARES = 262144;
export const CPU_PERIOD_US = 100000;
export const MIN_CPU_QUOTA_US = 1000;

/** kubelet's oom_score_adj values. */
export const OOM_SCORE_GUARANTEED = -997;
export const OOM_SCORE_BEST_EFFORT = 1000;

interface CpuMem {
  cpuMilli?: number;
  memoryBytes?: number;
}

function pick(values: Record<string, string | number> | undefined): CpuMem {
  if (values === undefined) return {};
  const out: CpuMem = {};
  if (values.cpu !== undefined) out.cpuMilli = milliCpu(values.cpu);
  if (values.memory !== undefined) out.memoryBytes = bytes(values.memory);
  return out;
}

/** Requests, with the API's defaulting applied: a resource with a limit and no request requests the limit. */
export function containerRequests(c: Container): CpuMem {
  const limits = pick(c.resources?.limits);
  const requests = pick(c.resources?.requests);
  return { cpuMilli: requests.cpuMilli ?? limits.cpuMilli, memoryBytes: requests.memoryBytes ?? limits.memoryBytes };
}

export function containerLimits(c: Container): CpuMem {
  return pick(c.resources?.limits);
}

/**
 * Guaranteed: every container has cpu and memory limits equal to its requests. BestEffort: no
 * container has any cpu or memory request or limit. Burstable otherwise.
 */
export function computeQosClass(spec: Pick<PodSpec, 'containers' | 'initContainers'>): QosClass {
  const all = [...(spec.initContainers ?? []), ...spec.containers];
  let any = false;
  let guaranteed = true;
  for (const c of all) {
    const req = containerRequests(c);
    const lim = containerLimits(c);
    if (req.cpuMilli !== undefined || req.memoryBytes !== undefined || lim.cpuMilli !== undefined || lim.memoryBytes !== undefined) any = true;
    if (lim.cpuMilli === undefined || lim.memoryBytes === undefined) guaranteed = false;
    else if (req.cpuMilli !== lim.cpuMilli || req.memoryBytes !== lim.memoryBytes) guaranteed = false;
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export function milliCpuToShares(milli: number | undefined): number {
  if (milli === undefined || milli === 0) return MIN_CPU_SHARES;
  const shares = Math.floor((milli * 1024) / 1000);
  return Math.min(MAX_CPU_SHARES, Math.max(MIN_CPU_SHARES, shares));
}

export function milliCpuToQuota(milli: number, periodUs = CPU_PERIOD_US): number {
  return Math.max(MIN_CPU_QUOTA_US, Math.floor((milli * periodUs) / 1000));
}

/** kubelet's GetContainerOOMScoreAdjust: Burstable scales with the memory request's share of the node. */
export function computeOomScoreAdj(qos: QosClass, c: Container, nodeMemoryBytes: number): number {
  if (qos === 'Guaranteed') return OOM_SCORE_GUARANTEED;
  if (qos === 'BestEffort') return OOM_SCORE_BEST_EFFORT;
  const request = containerRequests(c).memoryBytes ?? 0;
  const adj = 1000 - Math.floor((1000 * request) / nodeMemoryBytes);
  return Math.min(999, Math.max(2, adj));
}

export function buildLinuxResources(opts: { container: Container; qos: QosClass; nodeMemoryBytes: number }): LinuxContainerResources {
  const req = containerRequests(opts.container);
  const lim = containerLimits(opts.container);
  const out: { -readonly [K in keyof LinuxContainerResources]: LinuxContainerResources[K] } = {
    cpuShares: milliCpuToShares(req.cpuMilli),
    oomScoreAdj: computeOomScoreAdj(opts.qos, opts.container, opts.nodeMemoryBytes),
  };
  if (lim.cpuMilli !== undefined) {
    out.cpuPeriod = CPU_PERIOD_US;
    out.cpuQuota = milliCpuToQuota(lim.cpuMilli);
  }
  if (lim.memoryBytes !== undefined) out.memoryLimitInBytes = lim.memoryBytes;
  return out;
}

/** cgroupfs parent of a pod, by QoS class, like the kubelet's cgroups-per-QoS layout. */
export function podCgroupParent(opts: { cgroupRoot: string; qos: QosClass; podUid: string }): string {
  const root = opts.cgroupRoot.replace(/\/+$/, '');
  const qosDir = opts.qos === 'Guaranteed' ? '' : `/${opts.qos.toLowerCase()}`;
  return `${root}/kubepods${qosDir}/pod${opts.podUid}`;
}
