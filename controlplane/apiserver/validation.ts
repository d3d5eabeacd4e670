// Validation, pure: every rule returns FieldErrors naming the field path (`spec.containers[0].image`),
// and the registry turns a non-empty list into one 422 Invalid. Update rules receive the old object.
// Covers what users trip over; it is not the whole upstream rule book.

import type { FieldError } from './errors.ts';
import { labelSelectorFromObject, matchesLabels } from './selectors.ts';
import { canonicalJson } from './patch.ts';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

function required(field: string, detail = ''): FieldError {
  return { field, type: 'FieldValueRequired', detail };
}

function bad(field: string, value: unknown, detail: string): FieldError {
  return { field, type: 'FieldValueInvalid', value, detail };
}

const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

export function validateQualifiedKey(key: string): boolean {
  const slash = key.indexOf('/');
  const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return false;
  return name.length > 0 && name.length <= 63 && QUALIFIED_NAME.test(name);
}

function validateLabels(labels: unknown, field: string): FieldError[] {
  if (labels === undefined || labels === null) return [];
  if (!isObj(labels)) return [bad(field, labels, 'must be a map of string to string')];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!validateQualifiedKey(k)) errs.push(bad(field, k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) errs.push(bad(`${field}`, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
  }
  return errs;
}

export type NameRule = 'label' | 'subdomain' | 'any';

export function nameRuleFor(kind: string): NameRule {
  switch (kind) {
    case 'Namespace': case 'Service': return 'label';
    case 'Event': return 'any';
    default: return 'subdomain';
  }
}

export function validateMetadata(kind: string, o: Obj, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const md = isObj(o.metadata) ? o.metadata : {};
  const name = md.name;
  if (typeof name !== 'string' || name === '') {
    errs.push(required('metadata.name', 'name or generateName is required'));
  } else {
    const rule = nameRuleFor(kind);
    if (rule === 'label' && !isDnsLabel(name)) errs.push(bad('metadata.name', name, LABEL_MSG));
    if (rule === 'subdomain' && !isDnsSubdomain(name)) errs.push(bad('metadata.name', name, SUBDOMAIN_MSG));
    if (rule === 'any' && (name.includes('/') || name === '.' || name === '..')) errs.push(bad('metadata.name', name, 'may not contain \'/\''));
  }
  if (namespaced && (typeof md.namespace !== 'string' || md.namespace === '')) errs.push(required('metadata.namespace'));
  errs.push(...validateLabels(md.labels, 'metadata.labels'));
  if (md.annotations !== undefined && md.annotations !== null) {
    if (!isObj(md.annotations)) errs.push(bad('metadata.annotations', md.annotations, 'must be a map of string to string'));
    else {
      let size = 0;
      for (const [k, v] of Object.entries(md.annotations)) {
        if (!validateQualifiedKey(k)) errs.push(bad('metadata.annotations', k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
        if (typeof v !== 'string') errs.push(bad(`metadata.annotations`, v, 'must be a string'));
        else size += k.length + v.length;
      }
      if (size > 256 * 1024) errs.push({ field: 'metadata.annotations', type: 'FieldValueTooLong', detail: 'must have at most 262144 bytes' });
    }
  }
  return errs;
}

function validatePort(v: unknown, field: string): FieldError[] {
  if (v === undefined) return [required(field)];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) return [bad(field, v, 'must be between 1 and 65535, inclusive')];
  return [];
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

function validateContainers(list: unknown, field: string, names: Set<string>, requireList: boolean): FieldError[] {
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) return requireList ? [required(field)] : [];
  if (!Array.isArray(list)) return [bad(field, list, 'must be a list')];
  const errs: FieldError[] = [];
  list.forEach((c, i) => {
    const f = `${field}[${i}]`;
    if (!isObj(c)) { errs.push(bad(f, c, 'must be an object')); return; }
    if (typeof c.name !== 'string' || c.name === '') errs.push(required(`${f}.name`));
    else if (!isDnsLabel(c.name)) errs.push(bad(`${f}.name`, c.name, LABEL_MSG));
    else if (names.has(c.name)) errs.push({ field: `${f}.name`, type: 'FieldValueDuplicate', detail: '', value: c.name });
    else names.add(c.name);
    if (typeof c.image !== 'string' || c.image.trim() === '') errs.push(required(`${f}.image`));
    if (c.imagePullPolicy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(c.imagePullPolicy as string)) {
      errs.push({ field: `${f}.imagePullPolicy`, type: 'FieldValueNotSupported', value: c.imagePullPolicy, detail: 'supported values: "Always", "IfNotPresent", "Never"' });
    }
    if (Array.isArray(c.ports)) {
      c.ports.forEach((p: unknown, j: number) => {
        if (!isObj(p)) return;
        errs.push(...validatePort(p.containerPort, `${f}.ports[${j}].containerPort`));
        if (p.protocol !== undefined && !PROTOCOLS.includes(p.protocol as string)) {
          errs.push({ field: `${f}.ports[${j}].protocol`, type: 'FieldValueNotSupported', value: p.protocol, detail: 'supported values: "SCTP", "TCP", "UDP"' });
        }
      });
    }
    if (Array.isArray(c.env)) {
      c.env.forEach((e: unknown, j: number) => {
        if (!isObj(e) || typeof e.name !== 'string' || e.name === '') errs.push(required(`${f}.env[${j}].name`));
      });
    }
  });
  return errs;
}

export function validatePodSpec(spec: unknown, field: string): FieldError[] {
  if (!isObj(spec)) return [required(field)];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  errs.push(...validateContainers(spec.containers, `${field}.containers`, names, true));
  errs.push(...validateContainers(spec.initContainers, `${field}.initContainers`, names, false));
  if (spec.restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy as string)) {
    errs.push({ field: `${field}.restartPolicy`, type: 'FieldValueNotSupported', value: spec.restartPolicy, detail: 'supported values: "Always", "OnFailure", "Never"' });
  }
  const volumeNames = new Set<string>();
  if (Array.isArray(spec.volumes)) {
    spec.volumes.forEach((v: unknown, i: number) => {
      if (!isObj(v) || typeof v.name !== 'string' || v.name === '') { errs.push(required(`${field}.volumes[${i}].name`)); return; }
      if (volumeNames.has(v.name)) errs.push({ field: `${field}.volumes[${i}].name`, type: 'FieldValueDuplicate', detail: '', value: v.name });
      volumeNames.add(v.name);
    });
  }
  for (const list of ['containers', 'initContainers'] as const) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    cs.forEach((c: unknown, i: number) => {
      if (!isObj(c) || !Array.isArray(c.volumeMounts)) return;
      c.volumeMounts.forEach((m: unknown, j: number) => {
        if (!isObj(m)) return;
        const mf = `${field}.${list}[${i}].volumeMounts[${j}]`;
        if (typeof m.name !== 'string' || m.name === '') errs.push(required(`${mf}.name`));
        else if (!volumeNames.has(m.name)) errs.push({ field: `${mf}.name`, type: 'FieldValueNotSupported', value: m.name, detail: '' });
        if (typeof m.mountPath !== 'string' || m.mountPath === '') errs.push(required(`${mf}.mountPath`));
      });
    });
  }
  if (spec.terminationGracePeriodSeconds !== undefined && (typeof spec.terminationGracePeriodSeconds !== 'number' || spec.terminationGracePeriodSeconds < 0)) {
    errs.push(bad(`${field}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds, 'must be greater than or equal to 0'));
  }
  return errs;
}

function validateWorkload(o: Obj, kind: string, requireSelector: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const spec = isObj(o.spec) ? o.spec : undefined;
  if (spec === undefined) return [required('spec')];
  if (spec.replicas !== undefined && (typeof spec.replicas !== 'number' || !Number.isInteger(spec.replicas) || spec.replicas < 0)) {
    errs.push(bad('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  }
  const template = isObj(spec.template) ? spec.template : undefined;
  const selector = labelSelectorFromObject(spec.selector);
  if (spec.selector === undefined || spec.selector === null) {
    if (requireSelector) errs.push(required('spec.selector'));
  } else if (selector === undefined || selector.length === 0) {
    errs.push(bad('spec.selector', spec.selector, 'empty selector is invalid for deployment'));
  }
  if (template === undefined) {
    errs.push(required('spec.template'));
  } else {
    const labels = isObj(template.metadata) && isObj(template.metadata.labels) ? template.metadata.labels as Record<string, string> : {};
    if (selector !== undefined && selector.length > 0 && !matchesLabels(selector, labels)) {
      errs.push(bad('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
    }
    errs.push(...validateLabels(labels, 'spec.template.metadata.labels'));
    errs.push(...validatePodSpec(template.spec, 'spec.template.spec'));
    if (kind !== 'Pod' && isObj(template.spec) && template.spec.restartPolicy !== undefined && template.spec.restartPolicy !== 'Always') {
      errs.push({ field: 'spec.template.spec.restartPolicy', type: 'FieldValueNotSupported', value: template.spec.restartPolicy, detail: 'supported values: "Always"' });
    }
  }
  return errs;
}

function validateService(o: Obj): FieldError[] {
  const spec = isObj(o.spec) ? o.spec : {};
  const errs: FieldError[] = [];
  const types = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
  if (spec.type !== undefined && !types.includes(spec.type as string)) {
    errs.push({ field: 'spec.type', type: 'FieldValueNotSupported', value: spec.type, detail: 'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"' });
  }
  const headless = spec.clusterIP === 'None';
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  if (ports.length === 0 && spec.type !== 'ExternalName' && !headless) errs.push(required('spec.ports'));
  const seen = new Set<string>();
  ports.forEach((p: unknown, i: number) => {
    if (!isObj(p)) return;
    errs.push(...validatePort(p.port, `spec.ports[${i}].port`));
    if (ports.length > 1 && (typeof p.name !== 'string' || p.name === '')) errs.push(required(`spec.ports[${i}].name`));
    const key = `${p.port}/${p.protocol ?? 'TCP'}`;
    if (seen.has(key)) errs.push({ field: `spec.ports[${i}]`, type: 'FieldValueDuplicate', detail: '', value: key });
    seen.add(key);
  });
  if (spec.type === 'ExternalName' && (typeof spec.externalName !== 'string' || spec.externalName === '')) errs.push(required('spec.externalName'));
  return errs;
}

function validateDataKeys(data: unknown, field: string): FieldError[] {
  if (data === undefined || data === null) return [];
  if (!isObj(data)) return [bad(field, data, 'must be a map')];
  const errs: FieldError[] = [];
  for (const k of Object.keys(data)) {
    if (!CONFIG_KEY.test(k) || k.length > 253) errs.push(bad(field, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
  }
  return errs;
}

/** Rules for a new object (create) and, when `old` is given, for an update. */
export function validateObject(kind: string, o: Obj, namespaced: boolean, old?: Obj): FieldError[] {
  const errs = validateMetadata(kind, o, namespaced);
  switch (kind) {
    case 'Pod': {
      errs.push(...validatePodSpec(o.spec, 'spec'));
      if (old !== undefined) errs.push(...validatePodUpdate(o, old));
      break;
    }
    case 'Deployment': case 'ReplicaSet': case 'DaemonSet':
      errs.push(...validateWorkload(o, kind, true));
      if (old !== undefined && isObj(old.spec) && isObj(o.spec) && canonicalJson(old.spec.selector) !== canonicalJson(o.spec.selector)) {
        errs.push(bad('spec.selector', o.spec.selector, 'field is immutable'));
      }
      break;
    case 'Service':
      errs.push(...validateService(o));
      if (old !== undefined && isObj(old.spec) && isObj(o.spec) && old.spec.clusterIP !== undefined && o.spec.clusterIP !== undefined && old.spec.clusterIP !== o.spec.clusterIP && old.spec.type !== 'ExternalName') {
        errs.push(bad('spec.clusterIP', o.spec.clusterIP, 'field is immutable'));
      }
      break;
    case 'ConfigMap':
      errs.push(...validateDataKeys(o.data, 'data'), ...validateDataKeys(o.binaryData, 'binaryData'));
      break;
    case 'Secret': {
      errs.push(...validateDataKeys(o.data, 'data'), ...validateDataKeys(o.stringData, 'stringData'));
      if (isObj(o.data)) {
        for (const [k, v] of Object.entries(o.data)) {
          if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) errs.push(bad(`data[${k}]`, '<secret contents redacted>', 'must be base64 encoded'));
        }
      }
      break;
    }
    case 'Event':
      if (!isObj(o.involvedObject)) errs.push(required('involvedObject'));
      break;
    case 'Lease': {
      const spec = isObj(o.spec) ? o.spec : {};
      if (spec.leaseDurationSeconds !== undefined && (typeof spec.leaseDurationSeconds !== 'number' || spec.leaseDurationSeconds <= 0)) {
        errs.push(bad('spec.leaseDurationSeconds', spec.leaseDurationSeconds, 'must be greater than 0'));
      }
      break;
    }
    default:
      break;
  }
  return errs;
}

/** Pod updates may change only images, activeDeadlineSeconds, tolerations (additions) and grace period. */
function validatePodUpdate(o: Obj, old: Obj): FieldError[] {
  const strip = (spec: unknown): unknown => {
    if (!isObj(spec)) return spec;
    const copy = structuredClone(spec);
    for (const list of ['containers', 'initContainers'] as const) {
      const cs = copy[list];
      if (Array.isArray(cs)) for (const c of cs) if (isObj(c)) delete c.image;
    }
    delete copy.activeDeadlineSeconds;
    delete copy.tolerations;
    delete copy.terminationGracePeriodSeconds;
    if (!isObj(old.spec) || old.spec.nodeName === undefined) delete copy.nodeName;
    return copy;
  };
  if (canonicalJson(strip(o.spec)) !== canonicalJson(strip(old.spec))) {
    return [{ field: 'spec', type: 'FieldValueForbidden', detail: 'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)' }];
  }
  return [];
}
