// Container environment as the kubelet builds it: variables in order, `$(VAR)` references to
// earlier ones expanded (`$$` escapes a dollar), `valueFrom.fieldRef` from the pod and node,
// `valueFrom.resourceFieldRef` from the container's resources (node capacity when no limit is set);
// and the same expansion applied to command and args. Pure.

import type { KeyValue } from '../cri/types.ts';
import { parseQuantity } from '../../common/quantity.ts';
import { containerLimits, containerRequests } from './resources.ts';
import type { Container, EnvVar, Pod } from './types.ts';

export interface EnvContext {
  readonly pod: Pod;
  readonly nodeName: string;
  readonly hostIp: string;
  /** '' for a host-network pod before the sandbox exists; the node IP for host-network pods. */
  readonly podIp: string;
  readonly nodeCpuMilli: number;
  readonly nodeMemoryBytes: number;
}

/** Replace `$(NAME)` with its value when NAME is known; `$$` is a literal `$`; anything else stays. */
export function expandReferences(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close === -1) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = lookup(name);
      out += value ?? `$(${name})`;
      i = close + 1;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** The value a fieldRef path selects, or an Error naming the unsupported path. */
export function resolveFieldRef(fieldPath: string, ctx: EnvContext): string {
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (m !== null) {
    const map = m[1] === 'labels' ? ctx.pod.metadata.labels : ctx.pod.metadata.annotations;
    return map?.[m[2]] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return ctx.pod.metadata.name;
    case 'metadata.namespace':
      return ctx.pod.metadata.namespace;
    case 'metadata.uid':
      return ctx.pod.metadata.uid;
    case 'spec.nodeName':
      return ctx.nodeName;
    case 'spec.serviceAccountName':
      return ctx.pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIp;
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.podIp;
    default:
      throw new Error(`resolve field reference ${JSON.stringify(fieldPath)}: unsupported field path`);
  }
}

/** kubelet's ExtractContainerResourceValue: ceil(value / divisor); limits default to node capacity. */
export function resolveResourceFieldRef(ref: { resource: string; containerName?: string; divisor?: string | number }, container: Container, ctx: EnvContext): string {
  const target = ref.containerName
    ? [...(ctx.pod.spec.initContainers ?? []), ...ctx.pod.spec.containers].find((c) => c.name === ref.containerName)
    : container;
  if (target === undefined) throw new Error(`resolve resource field reference: no container ${JSON.stringify(ref.containerName)}`);
  const divisor = parseQuantity(ref.divisor ?? 1) ?? 1;
  const limits = containerLimits(target);
  const requests = containerRequests(target);
  switch (ref.resource) {
    case 'limits.cpu':
      return String(Math.ceil((limits.cpuMilli ?? ctx.nodeCpuMilli) / 1000 / divisor));
    case 'requests.cpu':
      return String(Math.ceil((requests.cpuMilli ?? 0) / 1000 / divisor));
    case 'limits.memory':
      return String(Math.ceil((limits.memoryBytes ?? ctx.nodeMemoryBytes) / divisor));
    case 'requests.memory':
      return String(Math.ceil((requests.memoryBytes ?? 0) / divisor));
    case 'limits.ephemeral-storage':
    case 'requests.ephemeral-storage': {
      const v = target.resources?.[ref.resource.startsWith('limits') ? 'limits' : 'requests']?.['ephemeral-storage'];
      return String(Math.ceil((v === undefined ? 0 : (parseQuantity(v) ?? 0)) / divisor));
    }
    default:
      throw new Error(`resolve resource field reference ${JSON.stringify(ref.resource)}: unsupported resource`);
  }
}

function resolveOne(e: EnvVar, container: Container, ctx: EnvContext, known: ReadonlyMap<string, string>): string {
  if (e.valueFrom?.fieldRef !== undefined) return resolveFieldRef(e.valueFrom.fieldRef.fieldPath, ctx);
  if (e.valueFrom?.resourceFieldRef !== undefined) return resolveResourceFieldRef(e.valueFrom.resourceFieldRef, container, ctx);
  return expandReferences(e.value ?? '', (name) => known.get(name));
}

/** The container's environment, in spec order (a repeated name keeps its last value at its first place). */
export function buildContainerEnv(container: Container, ctx: EnvContext): KeyValue[] {
  const values = new Map<string, string>();
  for (const e of container.env ?? []) values.set(e.name, resolveOne(e, container, ctx, values));
  return [...values].map(([key, value]) => ({ key, value }));
}

/** Command and args with `$(VAR)` expanded against the container's environment. */
export function expandCommand(container: Container, env: readonly KeyValue[]): { command?: string[]; args?: string[] } {
  const lookup = new Map(env.map((kv) => [kv.key, kv.value]));
  const expand = (list: string[] | undefined): string[] | undefined => list?.map((s) => expandReferences(s, (n) => lookup.get(n)));
  const out: { command?: string[]; args?: string[] } = {};
  const command = expand(container.command);
  const args = expand(container.args);
  if (command !== undefined) out.command = command;
  if (args !== undefined) out.args = args;
  return out;
}
