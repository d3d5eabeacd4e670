// URL + method → what the request is about, pure: discovery, a non-resource path, or a resource
// request (verb, resource, namespace, name, subresource), the way the real server's RequestInfo does.

import { findResource, type ResourceInfo } from './resources.ts';

export type ResourceVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export type RequestTarget =
  | { readonly type: 'nonResource'; readonly path: string }
  | { readonly type: 'apiVersions' }
  | { readonly type: 'groupList' }
  | { readonly type: 'group'; readonly group: string }
  | { readonly type: 'resourceList'; readonly group: string; readonly version: string }
  | {
    readonly type: 'resource';
    readonly verb: ResourceVerb;
    readonly info: ResourceInfo;
    readonly namespace?: string;
    readonly name?: string;
    readonly subresource?: string;
  }
  | { readonly type: 'unknownResource'; readonly group: string; readonly version: string; readonly resource: string };

function verbFor(method: string, hasName: boolean, watch: boolean): ResourceVerb | undefined {
  switch (method) {
    case 'GET': case 'HEAD': return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST': return 'create';
    case 'PUT': return hasName ? 'update' : undefined;
    case 'PATCH': return hasName ? 'patch' : undefined;
    case 'DELETE': return hasName ? 'delete' : 'deletecollection';
    default: return undefined;
  }
}

export function parseRequestTarget(method: string, pathname: string, query: URLSearchParams): RequestTarget | { readonly type: 'badMethod' } {
  const parts = pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length === 1) return { type: 'apiVersions' };
    group = '';
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length === 1) return { type: 'groupList' };
    if (parts.length === 2) return { type: 'group', group: parts[1] };
    group = parts[1];
    version = parts[2];
    rest = parts.slice(3);
  } else {
    return { type: 'nonResource', path: pathname };
  }
  if (rest.length === 0) return { type: 'resourceList', group, version };
  let watch = query.get('watch') === 'true' || query.get('watch') === '1';
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  let resource: string;
  let name: string | undefined;
  let subresource: string | undefined;
  // /namespaces/<ns>/<resource>/... is namespaced unless <resource> is a namespace subresource.
  if (rest[0] === 'namespaces' && rest.length >= 3 && findResource(group, version, rest[2])?.namespaced === true) {
    namespace = rest[1];
    [resource, name, subresource] = rest.slice(2);
  } else {
    [resource, name, subresource] = rest;
  }
  const info = findResource(group, version, resource);
  if (info === undefined) return { type: 'unknownResource', group, version, resource };
  if (rest.length > (namespace === undefined ? 3 : 5)) return { type: 'unknownResource', group, version, resource: rest.join('/') };
  const verb = verbFor(method, name !== undefined, watch);
  if (verb === undefined) return { type: 'badMethod' };
  return { type: 'resource', verb, info, namespace, name, subresource };
}
