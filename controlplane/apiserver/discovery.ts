// Discovery documents, pure: /version, /api, /apis, per group-version APIResourceLists, the aggregated
// (apidiscovery.k8s.io/v2) form kubectl 1.32 asks for, and the minimal /openapi/v2 document.

import { GROUPS, RESOURCES, resourcesIn, groupVersionString, type ResourceInfo } from './resources.ts';
import { VERSION } from '../../common/version.ts';

/** The Kubernetes version whose API surface we serve; its minor picks the client of kubectl's dispatcher. */
export const KUBE_MAJOR = '1';
export const KUBE_MINOR = '32';
export const KUBE_GIT_VERSION = `v1.32.0-moor.${VERSION}`;

export function versionInfo(): Record<string, string> {
  return {
    major: KUBE_MAJOR, minor: KUBE_MINOR, gitVersion: KUBE_GIT_VERSION, gitCommit: '', gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z', goVersion: `node${process.versions.node}`, compiler: 'moor', platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupEntry(name: string, version: string): object {
  const gv = { groupVersion: `${name}/${version}`, version };
  return { name, versions: [gv], preferredVersion: gv };
}

export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.map((g) => groupEntry(g.name, g.version)) };
}

export function apiGroup(name: string): object | undefined {
  const g = GROUPS.find((x) => x.name === name);
  return g === undefined ? undefined : { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(g.name, g.version) };
}

/** Resources of one group-version, including subresources and the policy group's pods/eviction. */
export function apiResourceList(group: string, version: string): object | undefined {
  if (group !== '' && !GROUPS.some((g) => g.name === group && g.version === version)) return undefined;
  if (group === '' && version !== 'v1') return undefined;
  const resources: object[] = [];
  for (const r of resourcesIn(group, version)) {
    const entry: Record<string, unknown> = { name: r.resource, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs };
    if (r.shortNames.length > 0) entry.shortNames = r.shortNames;
    if (r.categories.length > 0) entry.categories = r.categories;
    resources.push(entry);
    for (const s of r.subresources) {
      const sub: Record<string, unknown> = { name: `${r.resource}/${s.name}`, singularName: '', namespaced: r.namespaced, kind: s.kind, verbs: s.verbs };
      if (s.group !== undefined) { sub.group = s.group; sub.version = s.version; }
      resources.push(sub);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersionString(group, version), resources };
}

function aggregatedResource(r: ResourceInfo): object {
  const entry: Record<string, unknown> = {
    resource: r.resource, responseKind: { group: r.group, version: r.version, kind: r.kind }, scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular, verbs: r.verbs,
  };
  if (r.shortNames.length > 0) entry.shortNames = r.shortNames;
  if (r.categories.length > 0) entry.categories = r.categories;
  if (r.subresources.length > 0) {
    entry.subresources = r.subresources.map((s) => ({
      subresource: s.name, responseKind: { group: s.group ?? r.group, version: s.version ?? r.version, kind: s.kind }, verbs: s.verbs,
    }));
  }
  return entry;
}

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Does the Accept header ask for aggregated discovery v2 (v2beta1 gets the legacy form)? */
export function wantsAggregated(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((part) => {
    const p = part.split(';').map((x) => x.trim());
    return p.includes('g=apidiscovery.k8s.io') && p.includes('v=v2') && p.includes('as=APIGroupDiscoveryList');
  });
}

/** `/api` (legacy: true) or `/apis` in aggregated form. */
export function aggregatedDiscovery(legacy: boolean): object {
  const groups = legacy ? [{ name: '', version: 'v1' }] : GROUPS;
  return {
    kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {},
    items: groups.map((g) => ({
      metadata: { name: g.name },
      versions: [{ version: g.version, freshness: 'Current', resources: resourcesIn(g.name, g.version).map(aggregatedResource) }],
    })),
  };
}

/** A protobuf openapi Document holding only `swagger: "2.0"` (contract §4): no schemas, no client-side validation. */
export const OPENAPI_V2_MINIMAL = Buffer.from([0x0a, 0x03, 0x32, 0x2e, 0x30]);

export function allResourceNames(): string[] {
  return RESOURCES.map((r) => r.resource);
}
