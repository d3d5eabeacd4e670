// The API schema: Moor's proto text (proto/k8s/*.proto, field numbers and names as upstream) loaded
// with protobufjs. It is the only importer of protobufjs. Two uses: fieldValidation asks which JSON
// fields a kind does not have, and protobuf request bodies are decoded into the JSON object shape.
// Fields typed moor.schema.Opaque are known by name only (content unchecked, not decoded).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
const OPAQUE = 'moor.schema.Opaque';
/** Leaf types whose JSON form is a string or number, or free-form JSON. */
const LEAVES = new Set([`${META}.Time`, `${META}.MicroTime`, `${META}.Duration`, `${META}.FieldsV1`, 'k8s.io.apimachinery.pkg.api.resource.Quantity', 'k8s.io.apimachinery.pkg.util.intstr.IntOrString', 'k8s.io.apimachinery.pkg.runtime.RawExtension', OPAQUE]);
/** Go structs embedded inline in JSON: their fields appear in the parent object. */
const INLINED = new Set(['volumeSource', 'handler', 'localObjectReference', 'ephemeralContainerCommon']);

const PACKAGES: Record<string, string> = {
  v1: 'k8s.io.api.core.v1',
  'apps/v1': 'k8s.io.api.apps.v1',
  'coordination.k8s.io/v1': 'k8s.io.api.coordination.v1',
  'policy/v1': 'k8s.io.api.policy.v1',
  'policy/v1beta1': 'k8s.io.api.policy.v1',
  'autoscaling/v1': 'k8s.io.api.autoscaling.v1',
  'authorization.k8s.io/v1': 'k8s.io.api.authorization.v1',
  'authentication.k8s.io/v1': 'k8s.io.api.authentication.v1',
};

function findProtoDir(): string {
  const candidates = ['./proto/k8s', '../../proto/k8s', '../proto/k8s'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((p) => existsSync(join(p, 'core.proto')));
  if (found === undefined) throw new Error(`load api schema: proto/k8s not found in ${candidates.join(', ')}`);
  return found;
}

let root: protobuf.Root | undefined;

function schemaRoot(): protobuf.Root {
  if (root !== undefined) return root;
  const dir = findProtoDir();
  const r = new protobuf.Root();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.proto')).sort()) {
    protobuf.parse(readFileSync(join(dir, file), 'utf8'), r, { keepCase: true });
  }
  r.resolveAll();
  root = r;
  return r;
}

export type MessageType = protobuf.Type;

/** The message type of a kind in an API version (`apps/v1`, `Deployment`), or undefined. */
export function messageTypeOf(apiVersion: string, kind: string): MessageType | undefined {
  const r = schemaRoot();
  const name = kind === 'DeleteOptions' ? `${META}.DeleteOptions` : PACKAGES[apiVersion] === undefined ? undefined : `${PACKAGES[apiVersion]}.${kind}`;
  if (name === undefined) return undefined;
  try {
    return r.lookupType(name);
  } catch {
    return undefined; // not a kind we describe: no schema, no checks
  }
}

function typeName(t: protobuf.Type): string {
  return t.fullName.replace(/^\./, '');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function fieldByJsonName(t: protobuf.Type, key: string): { field: protobuf.Field; via: readonly protobuf.Field[] } | undefined {
  const direct = t.fields[key];
  if (direct !== undefined && !INLINED.has(key)) return { field: direct, via: [] };
  for (const f of t.fieldsArray) {
    if (!INLINED.has(f.name) || !(f.resolvedType instanceof protobuf.Type)) continue;
    const inner = fieldByJsonName(f.resolvedType, key);
    if (inner !== undefined) return { field: inner.field, via: [f, ...inner.via] };
  }
  return undefined;
}

/** JSON paths (`spec.template.spec.containers[0].foo`) of fields the type does not have. */
export function unknownFields(t: MessageType, value: unknown, path = '', top = true): string[] {
  if (!isObject(value)) return [];
  const out: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (top && (key === 'apiVersion' || key === 'kind')) continue;
    if (key.startsWith('$')) continue; // strategic merge patch directives ($patch, $setElementOrder/…)
    const p = path === '' ? key : `${path}.${key}`;
    const hit = fieldByJsonName(t, key);
    if (hit === undefined) { out.push(p); continue; }
    const { field } = hit;
    const sub = field.resolvedType;
    if (!(sub instanceof protobuf.Type) || LEAVES.has(typeName(sub)) || v === null) continue;
    if (field instanceof protobuf.MapField) {
      if (isObject(v)) for (const [k, mv] of Object.entries(v)) out.push(...unknownFields(sub, mv, `${p}[${k}]`, false));
    } else if (field.repeated) {
      if (Array.isArray(v)) v.forEach((e, i) => out.push(...unknownFields(sub, e, `${p}[${i}]`, false)));
    } else {
      out.push(...unknownFields(sub, v, p, false));
    }
  }
  return out;
}

/** Fields where a zero value means something: Go pointers in the API types. */
const ZERO_MATTERS = new Set([
  'replicas', 'gracePeriodSeconds', 'terminationGracePeriodSeconds', 'activeDeadlineSeconds', 'runAsUser', 'runAsGroup', 'fsGroup',
  'defaultMode', 'mode', 'revisionHistoryLimit', 'progressDeadlineSeconds', 'optional', 'privileged', 'runAsNonRoot', 'readOnlyRootFilesystem',
  'allowPrivilegeEscalation', 'automountServiceAccountToken', 'enableServiceLinks', 'shareProcessNamespace', 'setHostnameAsFQDN', 'hostUsers',
  'immutable', 'allocateLoadBalancerNodePorts', 'orphanDependents', 'controller', 'blockOwnerDeletion', 'priority', 'tolerationSeconds',
  'deletionGracePeriodSeconds', 'leaseDurationSeconds', 'leaseTransitions', 'count', 'exitCode', 'ready', 'restartCount', 'unschedulable',
]);

function timeToJson(v: unknown): string | undefined {
  if (!isObject(v)) return undefined;
  const seconds = Number(v.seconds ?? 0);
  const nanos = Number(v.nanos ?? 0);
  if (seconds === 0 && nanos === 0) return undefined;
  const iso = new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString();
  return nanos === 0 ? iso.replace('.000Z', 'Z') : iso.replace(/\.\d{3}Z$/, `.${String(nanos).padStart(9, '0').slice(0, 6)}Z`);
}

function leafToJson(name: string, v: unknown): unknown {
  switch (name) {
    case `${META}.Time`: case `${META}.MicroTime`: return timeToJson(v);
    case 'k8s.io.apimachinery.pkg.api.resource.Quantity': return isObject(v) && typeof v.string === 'string' ? v.string : undefined;
    case 'k8s.io.apimachinery.pkg.util.intstr.IntOrString':
      if (!isObject(v)) return undefined;
      return Number(v.type ?? 0) === 1 ? String(v.strVal ?? '') : Number(v.intVal ?? 0);
    case 'k8s.io.apimachinery.pkg.runtime.RawExtension': case `${META}.FieldsV1`: {
      const raw = isObject(v) ? (v.raw ?? v.Raw) : undefined;
      if (typeof raw !== 'string' || raw === '') return undefined;
      try { return JSON.parse(Buffer.from(raw, 'base64').toString('utf8')); } catch { return undefined; }
    }
    case `${META}.Duration`: return undefined;
    default: return undefined; // Opaque
  }
}

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false;
}

/** Convert a decoded message (protobufjs toObject form) into the Kubernetes JSON shape. */
function toJson(t: protobuf.Type, o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of t.fieldsArray) {
    const v = o[field.name];
    if (v === undefined || v === null) continue;
    const sub = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const convert = (x: unknown): unknown => {
      if (sub === undefined) return x;
      if (LEAVES.has(typeName(sub))) return leafToJson(typeName(sub), x);
      return isObject(x) ? toJson(sub, x) : undefined;
    };
    if (field instanceof protobuf.MapField) {
      if (!isObject(v)) continue;
      const m: Record<string, unknown> = {};
      for (const [k, mv] of Object.entries(v)) {
        const c = convert(mv);
        if (c !== undefined) m[k] = c;
      }
      if (Object.keys(m).length > 0) out[field.name] = m;
    } else if (field.repeated) {
      if (!Array.isArray(v) || v.length === 0) continue;
      out[field.name] = v.map(convert).filter((x) => x !== undefined);
    } else if (INLINED.has(field.name) && sub !== undefined && isObject(v)) {
      Object.assign(out, toJson(sub, v));
    } else {
      const c = convert(v);
      if (c === undefined) continue;
      if (sub === undefined && isZero(c) && !ZERO_MATTERS.has(field.name)) continue;
      out[field.name] = c;
    }
  }
  return out;
}

/** Decode one message of type `t` into the JSON object shape. */
export function decodeMessage(t: MessageType, bytes: Uint8Array): Record<string, unknown> {
  const msg = t.decode(bytes);
  const plain = t.toObject(msg, { longs: Number, bytes: String, defaults: false, arrays: false, objects: false }) as Record<string, unknown>;
  return toJson(t, plain);
}

/** runtime.Unknown: the envelope of every protobuf body. */
export function decodeUnknown(bytes: Uint8Array): { apiVersion: string; kind: string; raw: Uint8Array } {
  const t = schemaRoot().lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const msg = t.toObject(t.decode(bytes), { bytes: Buffer as unknown as typeof String, defaults: true }) as { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array };
  return { apiVersion: msg.typeMeta?.apiVersion ?? '', kind: msg.typeMeta?.kind ?? '', raw: msg.raw ?? new Uint8Array() };
}

/** Encode a JSON-shaped message (tests build protobuf bodies with it). */
export function encodeMessage(typeFullName: string, value: Record<string, unknown>): Uint8Array {
  const t = schemaRoot().lookupType(typeFullName);
  return t.encode(t.fromObject(value)).finish();
}
