// The resource types Moor serves, declared once: group/version, names, scope, verbs, short names and
// subresources. Discovery, routing, storage keys and messages all read this table.

export interface SubresourceInfo {
  readonly name: string;
  readonly kind: string;
  readonly group?: string;
  readonly version?: string;
  readonly verbs: readonly string[];
}

export interface ResourceInfo {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly verbs: readonly string[];
  readonly subresources: readonly SubresourceInfo[];
  /** Has a status subresource: main-resource writes keep the stored status, /status writes keep the rest. */
  readonly hasStatus: boolean;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;
const STATUS_VERBS = ['get', 'patch', 'update'] as const;

function define(r: {
  group: string; version: string; resource: string; singular: string; kind: string; namespaced: boolean;
  shortNames?: string[]; categories?: string[]; verbs?: readonly string[]; subresources?: SubresourceInfo[];
}): ResourceInfo {
  const subresources = r.subresources ?? [];
  return {
    group: r.group, version: r.version, resource: r.resource, singular: r.singular, kind: r.kind, listKind: `${r.kind}List`,
    namespaced: r.namespaced, shortNames: r.shortNames ?? [], categories: r.categories ?? [], verbs: r.verbs ?? ALL_VERBS,
    subresources, hasStatus: subresources.some((s) => s.name === 'status'),
  };
}

function status(kind: string): SubresourceInfo {
  return { name: 'status', kind, verbs: STATUS_VERBS };
}

function scale(): SubresourceInfo {
  return { name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: STATUS_VERBS };
}

export const RESOURCES: readonly ResourceInfo[] = [
  define({ group: '', version: 'v1', resource: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], subresources: [status('Namespace')] }),
  define({ group: '', version: 'v1', resource: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'],
    subresources: [status('Node'), { name: 'proxy', kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }] }),
  define({ group: '', version: 'v1', resource: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'],
    subresources: [
      status('Pod'),
      { name: 'binding', kind: 'Binding', verbs: ['create'] },
      { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
    ] }),
  define({ group: '', version: 'v1', resource: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'],
    subresources: [status('Service')] }),
  define({ group: '', version: 'v1', resource: 'endpoints', singular: 'endpoints', kind: 'Endpoints', namespaced: true, shortNames: ['ep'] }),
  define({ group: '', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'] }),
  define({ group: '', version: 'v1', resource: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] }),
  define({ group: '', version: 'v1', resource: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true }),
  define({ group: '', version: 'v1', resource: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] }),
  define({ group: 'apps', version: 'v1', resource: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'],
    subresources: [status('Deployment'), scale()] }),
  define({ group: 'apps', version: 'v1', resource: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', namespaced: true, shortNames: ['rs'], categories: ['all'],
    subresources: [status('ReplicaSet'), scale()] }),
  define({ group: 'apps', version: 'v1', resource: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], categories: ['all'],
    subresources: [status('DaemonSet')] }),
  define({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases', singular: 'lease', kind: 'Lease', namespaced: true }),
];

/** Groups in discovery order, each with its one version. */
export const GROUPS: readonly { name: string; version: string }[] = [
  { name: 'apps', version: 'v1' },
  { name: 'coordination.k8s.io', version: 'v1' },
  { name: 'policy', version: 'v1' },
];

export function groupVersionString(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

export function apiVersionOf(info: ResourceInfo): string {
  return groupVersionString(info.group, info.version);
}

export function findResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function findResourceByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

export function resourcesIn(group: string, version: string): readonly ResourceInfo[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}

/** Storage key prefix: `/registry/pods/`, `/registry/apps/deployments/`. */
export function storagePrefix(info: ResourceInfo): string {
  return info.group === '' ? `/registry/${info.resource}/` : `/registry/${info.group}/${info.resource}/`;
}

export function storageKey(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return info.namespaced ? `${storagePrefix(info)}${namespace}/${name}` : `${storagePrefix(info)}${name}`;
}

/** Prefix for listing: one namespace, or all of them (namespace undefined). */
export function listPrefix(info: ResourceInfo, namespace: string | undefined): string {
  return info.namespaced && namespace !== undefined ? `${storagePrefix(info)}${namespace}/` : storagePrefix(info);
}
