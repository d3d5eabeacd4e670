// Authorization: system:masters may do everything; other authenticated users get discovery only; node
// identities (`system:node:<name>`, group system:nodes) get what the Node authorizer and the
// NodeRestriction admission plugin allow upstream: read what a node needs, write their own Node and
// Lease, events, and the status (and deletion) of pods bound to them; secrets and config maps only when
// a pod on the node refers to them. A node may create one kind of pod: the mirror of one of its static
// pods, bound to itself, owned by nothing but its own Node, referring to no other API object
// (NodeRestriction's rules). Decisions are computed here; object lookups are passed in.

import type { UserInfo } from './tokens.ts';
import { MASTERS_GROUP, NODES_GROUP, NODE_USER_PREFIX } from './tokens.ts';
import { forbidden, type ApiError } from './errors.ts';

type Obj = Record<string, unknown>;

export interface Attributes {
  readonly user: UserInfo;
  readonly verb: string;
  readonly path: string;
  readonly resource?: { readonly group: string; readonly resource: string; readonly subresource?: string; readonly namespace?: string; readonly name?: string };
}

export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Lookups the node rules need: one pod, the pods bound to a node, and a Node (to check a mirror pod's owner UID). */
export interface NodeGraph {
  getPod(namespace: string, name: string): Promise<Obj | undefined>;
  podsOnNode(nodeName: string): Promise<readonly Obj[]>;
  /** Without it, a mirror pod's owner reference is checked for everything but the Node's UID. */
  getNode?(name: string): Promise<Obj | undefined>;
}

/** The annotation that makes a pod the mirror of a static pod (its value: the static pod's config hash). */
export const ANNOTATION_MIRROR = 'kubernetes.io/config.mirror';

const ALLOW: Decision = { allowed: true };

function deny(reason: string): Decision {
  return { allowed: false, reason };
}

const DISCOVERY_PREFIXES = ['/api', '/apis', '/version', '/openapi', '/healthz', '/livez', '/readyz'];

export function nodeNameOf(user: UserInfo): string | undefined {
  if (!user.groups.includes(NODES_GROUP) || !user.name.startsWith(NODE_USER_PREFIX)) return undefined;
  const name = user.name.slice(NODE_USER_PREFIX.length);
  return name === '' ? undefined : name;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Names of secrets / config maps a pod refers to (volumes, env, envFrom, imagePullSecrets, projected). */
export function podReferences(pod: Obj): { secrets: Set<string>; configMaps: Set<string> } {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  const spec = isObj(pod.spec) ? pod.spec : {};
  for (const s of Array.isArray(spec.imagePullSecrets) ? spec.imagePullSecrets : []) if (isObj(s) && typeof s.name === 'string') secrets.add(s.name);
  const visitSources = (v: Obj): void => {
    if (isObj(v.secret) && typeof v.secret.secretName === 'string') secrets.add(v.secret.secretName);
    if (isObj(v.secret) && typeof v.secret.name === 'string') secrets.add(v.secret.name);
    if (isObj(v.configMap) && typeof v.configMap.name === 'string') configMaps.add(v.configMap.name);
    if (isObj(v.projected) && Array.isArray(v.projected.sources)) for (const s of v.projected.sources) if (isObj(s)) visitSources(s);
  };
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) if (isObj(v)) visitSources(v);
  const containers = [spec.containers, spec.initContainers, spec.ephemeralContainers].flatMap((l) => (Array.isArray(l) ? l : []));
  for (const c of containers) {
    if (!isObj(c)) continue;
    for (const e of Array.isArray(c.env) ? c.env : []) {
      if (!isObj(e) || !isObj(e.valueFrom)) continue;
      if (isObj(e.valueFrom.secretKeyRef) && typeof e.valueFrom.secretKeyRef.name === 'string') secrets.add(e.valueFrom.secretKeyRef.name);
      if (isObj(e.valueFrom.configMapKeyRef) && typeof e.valueFrom.configMapKeyRef.name === 'string') configMaps.add(e.valueFrom.configMapKeyRef.name);
    }
    for (const e of Array.isArray(c.envFrom) ? c.envFrom : []) {
      if (!isObj(e)) continue;
      if (isObj(e.secretRef) && typeof e.secretRef.name === 'string') secrets.add(e.secretRef.name);
      if (isObj(e.configMapRef) && typeof e.configMapRef.name === 'string') configMaps.add(e.configMapRef.name);
    }
  }
  return { secrets, configMaps };
}

const READ = new Set(['get', 'list', 'watch']);

/**
 * Why node `node` may not create `pod`, or undefined when it may (the Node's UID aside, which the
 * caller checks against the owner reference's). NodeRestriction's rules: a mirror pod, bound to the
 * node, at most one owner reference and that one the node itself as controller, without
 * blockOwnerDeletion, and no reference to a service account, secret, config map, persistent volume
 * claim or generic ephemeral volume. Pure.
 */
export function nodePodCreateRefusal(node: string, pod: unknown): string | undefined {
  if (!isObj(pod)) return `node "${node}" can only create mirror pods: no pod in the request`;
  const md = isObj(pod.metadata) ? pod.metadata : {};
  const spec = isObj(pod.spec) ? pod.spec : {};
  const annotations = isObj(md.annotations) ? md.annotations : {};
  if (annotations[ANNOTATION_MIRROR] === undefined) return `pod does not have "${ANNOTATION_MIRROR}" annotation, node "${node}" can only create mirror pods`;
  if (spec.nodeName !== node) return `node "${node}" can only create pods with spec.nodeName set to itself, not ${JSON.stringify(spec.nodeName ?? '')}`;
  const refs = Array.isArray(md.ownerReferences) ? md.ownerReferences : [];
  if (refs.length > 1) return `node "${node}" can only create pods with a single owner reference set to itself`;
  if (refs.length === 1) {
    const ref = isObj(refs[0]) ? refs[0] : {};
    if (ref.apiVersion !== 'v1' || ref.kind !== 'Node' || ref.name !== node) return `node "${node}" can only create pods with an owner reference set to itself, not ${String(ref.kind)} ${JSON.stringify(ref.name ?? '')}`;
    if (ref.controller !== true) return `node "${node}" can only create pods with a controller owner reference set to itself`;
    if (ref.blockOwnerDeletion === true) return `node "${node}" must not set blockOwnerDeletion on an owner reference`;
  }
  for (const field of ['serviceAccountName', 'serviceAccount'] as const) {
    if (typeof spec[field] === 'string' && spec[field] !== '') return `node "${node}" can not create pods that reference a service account (spec.${field} ${JSON.stringify(spec[field])})`;
  }
  const refsOf = podReferences(pod);
  if (refsOf.secrets.size > 0) return `node "${node}" can not create pods that reference secrets (${[...refsOf.secrets].join(', ')})`;
  if (refsOf.configMaps.size > 0) return `node "${node}" can not create pods that reference configmaps (${[...refsOf.configMaps].join(', ')})`;
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
    if (!isObj(v)) continue;
    if (v.persistentVolumeClaim !== undefined) return `node "${node}" can not create pods that reference persistentvolumeclaims (volume ${JSON.stringify(v.name ?? '')})`;
    if (v.ephemeral !== undefined) return `node "${node}" can not create pods that use generic ephemeral volumes (volume ${JSON.stringify(v.name ?? '')})`;
    const sources = isObj(v.projected) && Array.isArray(v.projected.sources) ? v.projected.sources : [];
    if (sources.some((s) => isObj(s) && s.serviceAccountToken !== undefined)) return `node "${node}" can not create pods that use service account tokens (volume ${JSON.stringify(v.name ?? '')})`;
  }
  return undefined;
}

/** A create of a pod by node `node`: the pure rules, then the owner reference's UID against the live Node. */
async function admitNodePodCreate(node: string, pod: unknown, graph: NodeGraph): Promise<Decision> {
  const refusal = nodePodCreateRefusal(node, pod);
  if (refusal !== undefined) return deny(refusal);
  const md = isObj(pod) && isObj(pod.metadata) ? pod.metadata : {};
  const ref = Array.isArray(md.ownerReferences) && isObj(md.ownerReferences[0]) ? md.ownerReferences[0] : undefined;
  if (ref === undefined || graph.getNode === undefined) return ALLOW;
  const live = await graph.getNode(node);
  if (live === undefined) return deny(`node "${node}" cannot create pods with an owner reference to a node that does not exist`);
  const uid = isObj(live.metadata) ? live.metadata.uid : undefined;
  return ref.uid === uid ? ALLOW : deny(`node "${node}" UID mismatch: expected ${String(uid)} got ${String(ref.uid)}`);
}

/** Node authorizer + NodeRestriction, for a request by node `node`. `bodyName` is the name in a create body, `body` the body. */
async function authorizeNode(node: string, a: Attributes, graph: NodeGraph, bodyName: string | undefined, body: unknown): Promise<Decision> {
  const r = a.resource;
  if (r === undefined) return DISCOVERY_PREFIXES.some((p) => a.path === p || a.path.startsWith(`${p}/`)) ? ALLOW : deny('');
  const name = r.name ?? bodyName;
  const full = r.subresource === undefined ? r.resource : `${r.resource}/${r.subresource}`;
  if (r.group === '') {
    switch (full) {
      case 'nodes': case 'nodes/status':
        if (READ.has(a.verb)) return ALLOW;
        if (['create', 'update', 'patch', 'delete'].includes(a.verb)) {
          return name === node ? ALLOW : deny(`node '${node}' cannot modify node '${name ?? ''}'`);
        }
        return deny(`node '${node}' cannot ${a.verb} nodes`);
      case 'pods':
        if (READ.has(a.verb)) return ALLOW;
        if (a.verb === 'delete' && r.namespace !== undefined && name !== undefined) return boundToNode(node, await graph.getPod(r.namespace, name));
        if (a.verb === 'create') return admitNodePodCreate(node, body, graph);
        return deny(`node '${node}' can only create mirror pods and delete pods bound to it, not ${a.verb} them`);
      case 'pods/status': case 'pods/eviction':
        if (a.verb === 'get') return ALLOW;
        if (r.namespace !== undefined && name !== undefined) return boundToNode(node, await graph.getPod(r.namespace, name));
        return deny('no relationship found between node and this object');
      case 'events':
        return ['create', 'update', 'patch', 'get', 'list', 'watch'].includes(a.verb) ? ALLOW : deny(`node '${node}' cannot ${a.verb} events`);
      case 'services': case 'endpoints': case 'namespaces':
        return READ.has(a.verb) ? ALLOW : deny(`node '${node}' can only read ${r.resource}`);
      case 'secrets': case 'configmaps': {
        if (a.verb !== 'get' || r.namespace === undefined || name === undefined) return deny(`node '${node}' can only get individual ${r.resource}`);
        for (const pod of await graph.podsOnNode(node)) {
          const md = isObj(pod.metadata) ? pod.metadata : {};
          if (md.namespace !== r.namespace) continue;
          const refs = podReferences(pod);
          if ((r.resource === 'secrets' ? refs.secrets : refs.configMaps).has(name)) return ALLOW;
        }
        return deny(`no relationship found between node '${node}' and this object`);
      }
      case 'serviceaccounts':
        return a.verb === 'get' ? ALLOW : deny(`node '${node}' can only get serviceaccounts`);
      default:
        return deny(`node '${node}' has no access to ${full}`);
    }
  }
  if (r.group === 'coordination.k8s.io' && r.resource === 'leases') {
    if (r.namespace !== 'kube-node-lease') return deny(`node '${node}' can only use leases in kube-node-lease`);
    if (a.verb === 'get' || a.verb === 'list' || a.verb === 'watch') return ALLOW;
    return name === node ? ALLOW : deny(`node '${node}' cannot modify lease '${name ?? ''}'`);
  }
  if (r.group === 'apps' && READ.has(a.verb) && r.subresource === undefined) return ALLOW;
  return deny(`node '${node}' has no access to ${full} in API group "${r.group}"`);
}

function boundToNode(node: string, pod: Obj | undefined): Decision {
  if (pod === undefined) return deny('no relationship found between node and this object');
  const spec = isObj(pod.spec) ? pod.spec : {};
  return spec.nodeName === node ? ALLOW : deny(`no relationship found between node '${node}' and this object`);
}

/** `bodyName` and `body`: the name and the object of a create (a node's pod creates are judged on the body). */
export async function authorize(a: Attributes, graph: NodeGraph, bodyName?: string, body?: unknown): Promise<Decision> {
  if (a.user.groups.includes(MASTERS_GROUP)) return ALLOW;
  const node = nodeNameOf(a.user);
  if (node !== undefined) return authorizeNode(node, a, graph, bodyName, body);
  if (a.resource === undefined && DISCOVERY_PREFIXES.some((p) => a.path === p || a.path.startsWith(`${p}/`))) return ALLOW;
  return deny('');
}

/** kubectl's usual 403 text: `pods "x" is forbidden: User "u" cannot update resource "pods/status" in API group "" in the namespace "ns"`. */
export function forbiddenError(a: Attributes, reason: string): ApiError {
  const r = a.resource;
  if (r === undefined) {
    return forbidden(`forbidden: User "${a.user.name}" cannot ${a.verb} path "${a.path}"${reason === '' ? '' : `: ${reason}`}`);
  }
  const full = r.subresource === undefined ? r.resource : `${r.resource}/${r.subresource}`;
  const qualified = r.group === '' ? r.resource : `${r.resource}.${r.group}`;
  const subject = r.name === undefined ? `${qualified} is forbidden` : `${qualified} "${r.name}" is forbidden`;
  const scope = r.namespace === undefined ? 'at the cluster scope' : `in the namespace "${r.namespace}"`;
  return forbidden(`${subject}: User "${a.user.name}" cannot ${a.verb} resource "${full}" in API group "${r.group}" ${scope}${reason === '' ? '' : `: ${reason}`}`,
    { name: r.name, group: r.group || undefined, kind: r.resource });
}
