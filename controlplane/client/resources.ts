// The resource types the client knows, as path builders: group, version, plural and scope. Pure.
// This is the client's own view of the REST layout (it does not read the server's tables), so the
// agent can use it without the API server's code.

import type { CoreEvent, Deployment, Endpoints, KubeObject, Lease, Namespace, Node, Pod, ReplicaSet, Service } from './types.ts';

/** A resource type; `T` is the object shape its calls return. */
export interface Resource<T extends KubeObject = KubeObject> {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Phantom field carrying T for inference; never set. */
  readonly __type?: T;
}

function define<T extends KubeObject>(group: string, version: string, plural: string, kind: string, namespaced: boolean): Resource<T> {
  return { group, version, plural, kind, namespaced };
}

export const PODS = define<Pod>('', 'v1', 'pods', 'Pod', true);
export const NODES = define<Node>('', 'v1', 'nodes', 'Node', false);
export const NAMESPACES = define<Namespace>('', 'v1', 'namespaces', 'Namespace', false);
export const SERVICES = define<Service>('', 'v1', 'services', 'Service', true);
export const ENDPOINTS = define<Endpoints>('', 'v1', 'endpoints', 'Endpoints', true);
export const EVENTS = define<CoreEvent>('', 'v1', 'events', 'Event', true);
export const CONFIGMAPS = define<KubeObject>('', 'v1', 'configmaps', 'ConfigMap', true);
export const SECRETS = define<KubeObject>('', 'v1', 'secrets', 'Secret', true);
export const SERVICEACCOUNTS = define<KubeObject>('', 'v1', 'serviceaccounts', 'ServiceAccount', true);
export const DEPLOYMENTS = define<Deployment>('apps', 'v1', 'deployments', 'Deployment', true);
export const REPLICASETS = define<ReplicaSet>('apps', 'v1', 'replicasets', 'ReplicaSet', true);
export const DAEMONSETS = define<KubeObject>('apps', 'v1', 'daemonsets', 'DaemonSet', true);
export const LEASES = define<Lease>('coordination.k8s.io', 'v1', 'leases', 'Lease', true);

export const KNOWN_RESOURCES: readonly Resource[] = [
  PODS, NODES, NAMESPACES, SERVICES, ENDPOINTS, EVENTS, CONFIGMAPS, SECRETS, SERVICEACCOUNTS, DEPLOYMENTS, REPLICASETS, DAEMONSETS, LEASES,
] as Resource[];

export function apiVersionOf(r: Resource<KubeObject>): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** The resource for an ownerReference's apiVersion and kind, when the client knows it. */
export function resourceForKind(apiVersion: string, kind: string): Resource | undefined {
  return KNOWN_RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/**
 * `/api/v1/namespaces/default/pods/web/status`, `/apis/apps/v1/deployments` (all namespaces).
 * A namespaced resource without a namespace means "across all namespaces" (lists and watches only).
 */
export function resourcePath(r: Resource<KubeObject>, opts: { namespace?: string; name?: string; subresource?: string } = {}): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespaced && opts.namespace !== undefined && opts.namespace !== '' ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
  let path = `${base}${ns}/${r.plural}`;
  if (opts.name !== undefined) path += `/${encodeURIComponent(opts.name)}`;
  if (opts.subresource !== undefined) path += `/${opts.subresource}`;
  return path;
}

/** `default/web` for namespaced objects, `web` for cluster-scoped ones: the key caches and queues use. */
export function objectKey(o: { metadata: { namespace?: string; name?: string } }): string {
  const ns = o.metadata.namespace;
  return ns === undefined || ns === '' ? String(o.metadata.name) : `${ns}/${String(o.metadata.name)}`;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
