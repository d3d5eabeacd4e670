// PATCH semantics, pure: RFC 7386 JSON merge patch, RFC 6902 JSON patch and Kubernetes strategic merge
// patch. Strategic merge needs each list's merge key; `listStrategy` holds the keys kubectl's apply,
// set image, rollout, scale and cordon rely on (the patchMergeKey/patchStrategy tags of the API types).

import { badRequest, ApiError } from './errors.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

// ---------- RFC 7386 ----------

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...(target as JsonObject) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v) as Json;
  }
  return out;
}

// ---------- RFC 6902 ----------

export interface JsonPatchOp {
  readonly op: string;
  readonly path: string;
  readonly from?: string;
  readonly value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer "${pointer}": must start with /`);
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function patchFailed(msg: string): ApiError {
  return new ApiError({ httpCode: 422, reason: 'Invalid', message: `the server rejected our request due to an error in our request: ${msg}` });
}

function getAt(doc: unknown, tokens: readonly string[], pointer: string): unknown {
  let cur: unknown = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      const i = Number(t);
      if (!/^\d+$/.test(t) || i >= cur.length) throw patchFailed(`path ${pointer}: index ${t} out of range`);
      cur = cur[i];
    } else if (isObject(cur)) {
      if (!(t in cur)) throw patchFailed(`path ${pointer}: missing value`);
      cur = cur[t];
    } else {
      throw patchFailed(`path ${pointer}: missing value`);
    }
  }
  return cur;
}

/** Returns the new document (the root may be replaced). */
function addAt(doc: unknown, tokens: readonly string[], value: unknown, pointer: string, replace: boolean): unknown {
  if (tokens.length === 0) return clone(value);
  const parent = getAt(doc, tokens.slice(0, -1), pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    if (last === '-' && !replace) { parent.push(clone(value)); return doc; }
    const i = Number(last);
    if (!/^\d+$/.test(last) || i > parent.length || (replace && i >= parent.length)) throw patchFailed(`path ${pointer}: index ${last} out of range`);
    if (replace) parent[i] = clone(value); else parent.splice(i, 0, clone(value));
  } else if (isObject(parent)) {
    if (replace && !(last in parent)) throw patchFailed(`path ${pointer}: missing value`);
    parent[last] = clone(value) as Json;
  } else {
    throw patchFailed(`path ${pointer}: parent is not a container`);
  }
  return doc;
}

function removeAt(doc: unknown, tokens: readonly string[], pointer: string): unknown {
  if (tokens.length === 0) throw patchFailed('cannot remove the whole document');
  const parent = getAt(doc, tokens.slice(0, -1), pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!/^\d+$/.test(last) || i >= parent.length) throw patchFailed(`path ${pointer}: index ${last} out of range`);
    parent.splice(i, 1);
  } else if (isObject(parent)) {
    if (!(last in parent)) throw patchFailed(`path ${pointer}: missing value`);
    delete parent[last];
  } else {
    throw patchFailed(`path ${pointer}: missing value`);
  }
  return doc;
}

export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw badRequest(`invalid json patch operation ${JSON.stringify(raw)}`);
    const op = raw as unknown as JsonPatchOp;
    const tokens = parsePointer(op.path);
    switch (op.op) {
      case 'add': doc = addAt(doc, tokens, op.value, op.path, false); break;
      case 'replace': doc = addAt(doc, tokens, op.value, op.path, true); break;
      case 'remove': doc = removeAt(doc, tokens, op.path); break;
      case 'move': {
        if (op.from === undefined) throw badRequest('json patch move needs "from"');
        const from = parsePointer(op.from);
        const v = clone(getAt(doc, from, op.from));
        doc = removeAt(doc, from, op.from);
        doc = addAt(doc, tokens, v, op.path, false);
        break;
      }
      case 'copy': {
        if (op.from === undefined) throw badRequest('json patch copy needs "from"');
        doc = addAt(doc, tokens, getAt(doc, parsePointer(op.from), op.from), op.path, false);
        break;
      }
      case 'test': {
        const actual = getAt(doc, tokens, op.path);
        if (canonicalJson(actual) !== canonicalJson(op.value)) throw patchFailed(`testing value ${op.path} failed`);
        break;
      }
      default: throw badRequest(`unknown json patch operation "${op.op}"`);
    }
  }
  return doc;
}

/** JSON with object keys sorted: for semantic comparison. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

// ---------- strategic merge ----------

export type ListStrategy = { readonly kind: 'merge'; readonly key: string } | { readonly kind: 'set' } | { readonly kind: 'replace' };

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);
const BY_NAME = new Set(['containers', 'initContainers', 'ephemeralContainers', 'env', 'volumes', 'imagePullSecrets', 'resourceClaims', 'schedulingGates']);

/**
 * How the list at `path` (field names from the object root, list indexes left out) merges for `kind`.
 * Lists not named here are replaced, as upstream does for fields without a patch strategy (node
 * taints among them: `kubectl taint k-` sends the remaining list and expects it to replace).
 */
export function listStrategy(kind: string, path: readonly string[]): ListStrategy {
  const field = path[path.length - 1];
  const parent = path[path.length - 2];
  if (BY_NAME.has(field)) return { kind: 'merge', key: 'name' };
  switch (field) {
    case 'ports':
      if (parent !== undefined && CONTAINER_LISTS.has(parent)) return { kind: 'merge', key: 'containerPort' };
      if (kind === 'Service' && path.length === 2 && path[0] === 'spec') return { kind: 'merge', key: 'port' };
      return { kind: 'replace' };
    case 'volumeMounts': return { kind: 'merge', key: 'mountPath' };
    case 'volumeDevices': return { kind: 'merge', key: 'devicePath' };
    case 'conditions': return { kind: 'merge', key: 'type' };
    case 'ownerReferences': return { kind: 'merge', key: 'uid' };
    case 'finalizers': return path.length === 2 && path[0] === 'metadata' ? { kind: 'set' } : { kind: 'replace' };
    case 'hostAliases': return { kind: 'merge', key: 'ip' };
    case 'addresses': return kind === 'Node' ? { kind: 'merge', key: 'type' } : { kind: 'replace' };
    case 'podIPs': case 'hostIPs': return { kind: 'merge', key: 'ip' };
    case 'topologySpreadConstraints': return { kind: 'merge', key: 'topologyKey' };
    default: return { kind: 'replace' };
  }
}

const SET_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE = '$deleteFromPrimitiveList/';

/** Remove directives from a value that is added whole (nothing in the original to merge into). */
function stripDirectives(v: Json, kind: string, path: readonly string[]): Json | undefined {
  if (Array.isArray(v)) {
    const out: Json[] = [];
    for (const e of v) {
      if (isObject(e) && e.$patch === 'delete') continue;
      if (isObject(e) && e.$patch === 'replace' && Object.keys(e).length === 1) continue;
      const s = stripDirectives(e, kind, path);
      if (s !== undefined) out.push(s);
    }
    return out;
  }
  if (isObject(v)) {
    if (v.$patch === 'delete') return undefined;
    const out: JsonObject = {};
    for (const [k, e] of Object.entries(v)) {
      if (k.startsWith('$')) continue;
      if (e === null) continue;
      const s = stripDirectives(e, kind, [...path, k]);
      if (s !== undefined) out[k] = s;
    }
    return out;
  }
  return v;
}

function keyOf(e: Json, key: string): string | undefined {
  return isObject(e) && e[key] !== undefined ? JSON.stringify(e[key]) : undefined;
}

function mergeList(kind: string, path: readonly string[], original: Json[], patch: Json[], strategy: ListStrategy): Json[] {
  if (strategy.kind === 'replace') return stripDirectives(patch, kind, path) as Json[];
  if (strategy.kind === 'set') {
    if (patch.some((e) => isObject(e) && e.$patch === 'replace')) return patch.filter((e) => !isObject(e));
    const out = [...original];
    for (const e of patch) if (!out.some((o) => canonicalJson(o) === canonicalJson(e))) out.push(e);
    return out;
  }
  if (patch.some((e) => isObject(e) && e.$patch === 'replace')) {
    return stripDirectives(patch.filter((e) => !(isObject(e) && e.$patch === 'replace')), kind, path) as Json[];
  }
  const out = original.map((e) => clone(e));
  for (const p of patch) {
    if (!isObject(p)) { out.push(p); continue; }
    const k = keyOf(p, strategy.key);
    const idx = k === undefined ? -1 : out.findIndex((o) => keyOf(o, strategy.key) === k);
    if (p.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) {
      const merged = mergeObject(kind, path, out[idx] as JsonObject, p);
      if (merged === undefined) out.splice(idx, 1); else out[idx] = merged;
    } else {
      const s = stripDirectives(p, kind, path);
      if (s !== undefined) out.push(s);
    }
  }
  return out;
}

function orderList(list: Json[], order: Json[], strategy: ListStrategy): Json[] {
  const ident = (e: Json): string => (strategy.kind === 'merge' && isObject(e) ? keyOf(e, strategy.key) ?? '' : canonicalJson(e));
  const rank = new Map<string, number>();
  order.forEach((o, i) => rank.set(ident(o), i));
  const inOrder = list.filter((e) => rank.has(ident(e))).sort((a, b) => rank.get(ident(a))! - rank.get(ident(b))!);
  const rest = list.filter((e) => !rank.has(ident(e)));
  return [...inOrder, ...rest];
}

function mergeObject(kind: string, path: readonly string[], original: JsonObject, patch: JsonObject): JsonObject | undefined {
  if (patch.$patch === 'delete') return undefined;
  if (patch.$patch === 'replace') return stripDirectives(patch, kind, path) as JsonObject;
  let out: JsonObject = { ...original };
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) {
    const keep = new Set(retain.map(String));
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith(SET_ORDER)) continue;
    if (k.startsWith(DELETE_FROM_PRIMITIVE)) {
      const field = k.slice(DELETE_FROM_PRIMITIVE.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v)) {
        const drop = new Set(v.map((x) => canonicalJson(x)));
        out[field] = cur.filter((x) => !drop.has(canonicalJson(x)));
      }
      continue;
    }
    const childPath = [...path, k];
    if (v === null) { delete out[k]; continue; }
    const cur = out[k];
    if (Array.isArray(v)) {
      const strategy = listStrategy(kind, childPath);
      out[k] = mergeList(kind, childPath, Array.isArray(cur) ? cur : [], v, strategy);
    } else if (isObject(v)) {
      if (isObject(cur)) {
        const merged = mergeObject(kind, childPath, cur, v);
        if (merged === undefined) delete out[k]; else out[k] = merged;
      } else {
        const s = stripDirectives(v, kind, childPath);
        if (s === undefined) delete out[k]; else out[k] = s;
      }
    } else {
      out[k] = v;
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(SET_ORDER) || !Array.isArray(v)) continue;
    const field = k.slice(SET_ORDER.length);
    const cur = out[field];
    if (Array.isArray(cur)) out[field] = orderList(cur, v, listStrategy(kind, [...path, field]));
  }
  return out;
}

export function applyStrategicMergePatch(kind: string, original: unknown, patch: unknown): unknown {
  if (!isObject(patch)) throw badRequest('strategic merge patch must be a JSON object');
  const merged = mergeObject(kind, [], isObject(original) ? original : {}, patch);
  return merged ?? {};
}

export type PatchType = 'merge' | 'json' | 'strategic';

export function patchTypeOf(contentType: string): PatchType | undefined {
  const ct = contentType.split(';')[0].trim().toLowerCase();
  switch (ct) {
    case 'application/merge-patch+json': return 'merge';
    case 'application/json-patch+json': return 'json';
    case 'application/strategic-merge-patch+json': return 'strategic';
    default: return undefined;
  }
}

export function applyPatch(type: PatchType, kind: string, original: unknown, patch: unknown): unknown {
  switch (type) {
    case 'merge': return applyMergePatch(original, patch);
    case 'json': return applyJsonPatch(original, patch);
    case 'strategic': return applyStrategicMergePatch(kind, original, patch);
  }
}
