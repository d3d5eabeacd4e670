// Pods and nodes for the scheduler's table tests.
import type { Node, Pod } from '../../../../controlplane/client/types.ts';

export function node(name: string, opts: { cpu?: string; memory?: string; pods?: number; labels?: Record<string, string>; ready?: 'True' | 'False' | 'Unknown' | null } = {}): Node {
  const alloc = { cpu: opts.cpu ?? '4', memory: opts.memory ?? '8Gi', pods: String(opts.pods ?? 110) };
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...opts.labels } },
    spec: {},
    status: { capacity: alloc, allocatable: alloc, conditions: opts.ready === null ? [] : [{ type: 'Ready', status: opts.ready ?? 'True' }] },
  };
}

export function pod(name: string, opts: { cpu?: string; memory?: string; owner?: string; hostPort?: number; nodeName?: string } = {}): Pod {
  const requests: Record<string, string> = {};
  if (opts.cpu !== undefined) requests.cpu = opts.cpu;
  if (opts.memory !== undefined) requests.memory = opts.memory;
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...(opts.owner === undefined ? {} : { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: opts.owner, controller: true }] }) },
    spec: {
      ...(opts.nodeName === undefined ? {} : { nodeName: opts.nodeName }),
      containers: [{ name: 'c', image: 'x', resources: { requests }, ...(opts.hostPort === undefined ? {} : { ports: [{ containerPort: 80, hostPort: opts.hostPort, protocol: 'TCP' }] }) }],
    },
  };
}
