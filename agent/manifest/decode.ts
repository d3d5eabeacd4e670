// Turns one decoded manifest document (unknown JSON) into a typed v1 Pod with the API server's
// defaults applied, or the list of field errors that make it unacceptable, worded like the API
// server's ("spec.containers[0].image: Required value"). Pure. Unknown fields are ignored, as
// kubectl does without --validate=strict. Features the agent cannot honour without a control plane
// (configMap/secret references, other volume types) are errors, not silently dropped.

import { isQuantity, parseQuantity } from '../../common/quantity.ts';
import type {
  Container, ContainerPort, EnvVar, HostPathType, HttpGetAction, Lifecycle, LifecycleHandler, ObjectMeta, Pod, PodDnsConfig,
  PodSecurityContext, PodSpec, Probe, ResourceRequirements, SecurityContext, Volume, VolumeMount,
} from '../pod/types.ts';

export interface DecodeResult {
  readonly pod?: Pod;
  readonly errors: readonly string[];
}

type Obj = Record<string, unknown>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export const FIELD_REF_PATHS: readonly string[] = [
  'metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName',
  'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs',
];
const FIELD_REF_MAP = /^metadata\.(labels|annotations)\['([^']+)'\]$/;
export const RESOURCE_FIELD_REFS: readonly string[] = ['limits.cpu', 'limits.memory', 'requests.cpu', 'requests.memory', 'limits.ephemeral-storage', 'requests.ephemeral-storage'];
const UNSUPPORTED_VOLUME_TYPES = [
  'configMap', 'secret', 'persistentVolumeClaim', 'projected', 'downwardAPI', 'nfs', 'iscsi', 'csi', 'ephemeral', 'gitRepo', 'cephfs', 'rbd',
];
const HOST_PATH_TYPES: readonly HostPathType[] = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects errors with their field paths while reading a document. */
class Reader {
  readonly errors: string[] = [];

  fail(path: string, msg: string): void {
    this.errors.push(`${path}: ${msg}`);
  }

  obj(v: unknown, path: string, required = false): Obj | undefined {
    if (v === undefined || v === null) {
      if (required) this.fail(path, 'Required value');
      return undefined;
    }
    if (!isObj(v)) {
      this.fail(path, `Invalid value: must be an object`);
      return undefined;
    }
    return v;
  }

  str(v: unknown, path: string, required = false): string | undefined {
    if (v === undefined || v === null || (required && v === '')) {
      if (required) this.fail(path, 'Required value');
      return undefined;
    }
    if (typeof v !== 'string') {
      this.fail(path, `Invalid value: ${JSON.stringify(v)}: must be a string`);
      return undefined;
    }
    return v;
  }

  bool(v: unknown, path: string): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') {
      this.fail(path, `Invalid value: ${JSON.stringify(v)}: must be a boolean`);
      return undefined;
    }
    return v;
  }

  int(v: unknown, path: string, opts: { min?: number; max?: number; required?: boolean } = {}): number | undefined {
    if (v === undefined || v === null) {
      if (opts.required) this.fail(path, 'Required value');
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.fail(path, `Invalid value: ${JSON.stringify(v)}: must be an integer`);
      return undefined;
    }
    if (opts.min !== undefined && v < opts.min) {
      this.fail(path, `Invalid value: ${v}: must be greater than or equal to ${opts.min}`);
      return undefined;
    }
    if (opts.max !== undefined && v > opts.max) {
      this.fail(path, `Invalid value: ${v}: must be less than or equal to ${opts.max}`);
      return undefined;
    }
    return v;
  }

  arr(v: unknown, path: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.fail(path, 'Invalid value: must be a list');
      return [];
    }
    return v;
  }

  strings(v: unknown, path: string): string[] | undefined {
    if (v === undefined || v === null) return undefined;
    const out: string[] = [];
    this.arr(v, path).forEach((s, i) => {
      const ok = this.str(s, `${path}[${i}]`);
      if (ok !== undefined) out.push(ok);
    });
    return out;
  }

  stringMap(v: unknown, path: string): Record<string, string> | undefined {
    const o = this.obj(v, path);
    if (o === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(o)) {
      if (typeof val !== 'string') this.fail(`${path}[${k}]`, `Invalid value: ${JSON.stringify(val)}: must be a string`);
      else out[k] = val;
    }
    return out;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[], dflt: T): T {
    if (v === undefined || v === null || v === '') return dflt;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      this.fail(path, `Unsupported value: ${JSON.stringify(v)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`);
      return dflt;
    }
    return v as T;
  }
}

/** `Always` for `:latest` or no tag, else `IfNotPresent`; a digest counts as a tag. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const lastColon = image.lastIndexOf(':');
  if (lastColon <= lastSlash) return 'Always';
  return image.slice(lastColon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

function readMetadata(r: Reader, v: unknown): ObjectMeta {
  const m = r.obj(v, 'metadata', true) ?? {};
  const name = r.str(m.name, 'metadata.name', true) ?? '';
  if (name !== '' && (!DNS_SUBDOMAIN.test(name) || name.length > 253)) {
    r.fail('metadata.name', `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`);
  }
  const namespace = r.str(m.namespace, 'metadata.namespace') || 'default';
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) r.fail('metadata.namespace', `Invalid value: ${JSON.stringify(namespace)}: must be a lowercase RFC 1123 label`);
  const out: ObjectMeta = { ...m, name, namespace, uid: r.str(m.uid, 'metadata.uid') ?? '' };
  const labels = r.stringMap(m.labels, 'metadata.labels');
  const annotations = r.stringMap(m.annotations, 'metadata.annotations');
  if (labels !== undefined) out.labels = labels;
  else delete out.labels;
  if (annotations !== undefined) out.annotations = annotations;
  else delete out.annotations;
  return out;
}

function readHttpGet(r: Reader, v: Obj, path: string): HttpGetAction {
  const port = readPortRef(r, v.port, `${path}.port`);
  const out: HttpGetAction = {
    path: r.str(v.path, `${path}.path`) || '/',
    port,
    scheme: r.oneOf(v.scheme, `${path}.scheme`, ['HTTP', 'HTTPS'] as const, 'HTTP'),
  };
  const host = r.str(v.host, `${path}.host`);
  if (host) out.host = host;
  const headers = r.arr(v.httpHeaders, `${path}.httpHeaders`).map((h, i) => {
    const ho = r.obj(h, `${path}.httpHeaders[${i}]`) ?? {};
    return { name: r.str(ho.name, `${path}.httpHeaders[${i}].name`, true) ?? '', value: r.str(ho.value, `${path}.httpHeaders[${i}].value`) ?? '' };
  });
  if (headers.length > 0) out.httpHeaders = headers;
  return out;
}

function readPortRef(r: Reader, v: unknown, path: string): number | string {
  if (typeof v === 'number') return r.int(v, path, { min: 1, max: 65535 }) ?? 0;
  if (typeof v === 'string' && v !== '') {
    if (/^\d+$/.test(v)) return r.int(Number(v), path, { min: 1, max: 65535 }) ?? 0;
    if (!PORT_NAME.test(v) || v.length > 15) r.fail(path, `Invalid value: ${JSON.stringify(v)}: must be a port number or an IANA service name`);
    return v;
  }
  r.fail(path, 'Required value');
  return 0;
}

function readHandler(r: Reader, v: Obj, path: string, kinds: readonly ('exec' | 'httpGet' | 'tcpSocket')[]): LifecycleHandler {
  const present = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter((k) => v[k] !== undefined && v[k] !== null);
  if (present.length === 0) {
    r.fail(path, `Required value: must specify a handler type`);
    return {};
  }
  if (present.length > 1) {
    r.fail(path, `Forbidden: may not specify more than 1 handler type`);
    return {};
  }
  const kind = present[0];
  if (kind === 'grpc' || !kinds.includes(kind)) {
    r.fail(`${path}.${kind}`, `Unsupported value: supported handler types: ${kinds.join(', ')}`);
    return {};
  }
  if (kind === 'exec') {
    const e = r.obj(v.exec, `${path}.exec`) ?? {};
    const command = r.strings(e.command, `${path}.exec.command`) ?? [];
    if (command.length === 0) r.fail(`${path}.exec.command`, 'Required value');
    return { exec: { command } };
  }
  if (kind === 'httpGet') return { httpGet: readHttpGet(r, r.obj(v.httpGet, `${path}.httpGet`) ?? {}, `${path}.httpGet`) };
  const t = r.obj(v.tcpSocket, `${path}.tcpSocket`) ?? {};
  const out: { port: number | string; host?: string } = { port: readPortRef(r, t.port, `${path}.tcpSocket.port`) };
  const host = r.str(t.host, `${path}.tcpSocket.host`);
  if (host) out.host = host;
  return { tcpSocket: out };
}

function readProbe(r: Reader, v: unknown, path: string, kind: 'liveness' | 'readiness' | 'startup'): Probe | undefined {
  const o = r.obj(v, path);
  if (o === undefined) return undefined;
  const handler = readHandler(r, o, path, ['exec', 'httpGet', 'tcpSocket']);
  const probe: Probe = {
    ...handler,
    initialDelaySeconds: r.int(o.initialDelaySeconds, `${path}.initialDelaySeconds`, { min: 0 }) ?? 0,
    timeoutSeconds: r.int(o.timeoutSeconds, `${path}.timeoutSeconds`, { min: 1 }) ?? 1,
    periodSeconds: r.int(o.periodSeconds, `${path}.periodSeconds`, { min: 1 }) ?? 10,
    successThreshold: r.int(o.successThreshold, `${path}.successThreshold`, { min: 1 }) ?? 1,
    failureThreshold: r.int(o.failureThreshold, `${path}.failureThreshold`, { min: 1 }) ?? 3,
  };
  const tgps = r.int(o.terminationGracePeriodSeconds, `${path}.terminationGracePeriodSeconds`, { min: 1 });
  if (tgps !== undefined) {
    if (kind === 'readiness') r.fail(`${path}.terminationGracePeriodSeconds`, 'Invalid value: must not be set for readinessProbes');
    probe.terminationGracePeriodSeconds = tgps;
  }
  if (kind !== 'readiness' && probe.successThreshold !== 1) r.fail(`${path}.successThreshold`, `Invalid value: ${probe.successThreshold}: must be 1`);
  return probe;
}

function readResources(r: Reader, v: unknown, path: string): ResourceRequirements | undefined {
  const o = r.obj(v, path);
  if (o === undefined) return undefined;
  const out: ResourceRequirements = {};
  for (const key of ['limits', 'requests'] as const) {
    const m = r.obj(o[key], `${path}.${key}`);
    if (m === undefined) continue;
    const vals: Record<string, string | number> = {};
    for (const [res, q] of Object.entries(m)) {
      if (!isQuantity(q)) r.fail(`${path}.${key}[${res}]`, `Invalid value: ${JSON.stringify(q)}: must be a quantity`);
      else if ((parseQuantity(q as string | number) ?? 0) < 0) r.fail(`${path}.${key}[${res}]`, `Invalid value: ${JSON.stringify(q)}: must be greater than or equal to 0`);
      else vals[res] = q as string | number;
    }
    out[key] = vals;
  }
  for (const [res, q] of Object.entries(out.requests ?? {})) {
    const limit = out.limits?.[res];
    if (limit !== undefined && (parseQuantity(q) ?? 0) > (parseQuantity(limit) ?? 0)) {
      r.fail(`${path}.requests[${res}]`, `Invalid value: ${JSON.stringify(q)}: must be less than or equal to ${res} limit of ${limit}`);
    }
  }
  return out;
}

function readEnv(r: Reader, v: unknown, path: string): EnvVar[] | undefined {
  if (v === undefined || v === null) return undefined;
  return r.arr(v, path).map((e, i) => {
    const p = `${path}[${i}]`;
    const o = r.obj(e, p) ?? {};
    const name = r.str(o.name, `${p}.name`, true) ?? '';
    if (name !== '' && !ENV_NAME.test(name)) r.fail(`${p}.name`, `Invalid value: ${JSON.stringify(name)}: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit`);
    const out: EnvVar = { name };
    const value = r.str(o.value, `${p}.value`);
    if (value !== undefined) out.value = value;
    const from = r.obj(o.valueFrom, `${p}.valueFrom`);
    if (from !== undefined) {
      if (value !== undefined && value !== '') r.fail(`${p}.valueFrom`, "Invalid value: may not be specified when `value` is not empty");
      const kinds = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'].filter((k) => from[k] !== undefined && from[k] !== null);
      if (kinds.length !== 1) r.fail(`${p}.valueFrom`, 'Invalid value: must specify exactly one of fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef');
      if (from.fieldRef !== undefined) {
        const fr = r.obj(from.fieldRef, `${p}.valueFrom.fieldRef`) ?? {};
        const fieldPath = r.str(fr.fieldPath, `${p}.valueFrom.fieldRef.fieldPath`, true) ?? '';
        if (fieldPath !== '' && !FIELD_REF_PATHS.includes(fieldPath) && !FIELD_REF_MAP.test(fieldPath)) {
          r.fail(`${p}.valueFrom.fieldRef.fieldPath`, `Unsupported value: ${JSON.stringify(fieldPath)}: supported values: ${[...FIELD_REF_PATHS, "metadata.labels['<KEY>']", "metadata.annotations['<KEY>']"].map((s) => `"${s}"`).join(', ')}`);
        }
        out.valueFrom = { fieldRef: { apiVersion: r.str(fr.apiVersion, `${p}.valueFrom.fieldRef.apiVersion`) || 'v1', fieldPath } };
      }
      if (from.resourceFieldRef !== undefined) {
        const rf = r.obj(from.resourceFieldRef, `${p}.valueFrom.resourceFieldRef`) ?? {};
        const resource = r.str(rf.resource, `${p}.valueFrom.resourceFieldRef.resource`, true) ?? '';
        if (resource !== '' && !RESOURCE_FIELD_REFS.includes(resource)) r.fail(`${p}.valueFrom.resourceFieldRef.resource`, `Unsupported value: ${JSON.stringify(resource)}`);
        const divisor = rf.divisor;
        if (divisor !== undefined && (!isQuantity(divisor) || parseQuantity(divisor as string) === 0)) r.fail(`${p}.valueFrom.resourceFieldRef.divisor`, `Invalid value: ${JSON.stringify(divisor)}`);
        const ref: { resource: string; containerName?: string; divisor?: string | number } = { resource };
        const cn = r.str(rf.containerName, `${p}.valueFrom.resourceFieldRef.containerName`);
        if (cn) ref.containerName = cn;
        if (divisor !== undefined) ref.divisor = divisor as string | number;
        out.valueFrom = { resourceFieldRef: ref };
      }
      for (const k of ['configMapKeyRef', 'secretKeyRef']) {
        if (from[k] !== undefined && from[k] !== null) r.fail(`${p}.valueFrom.${k}`, 'Forbidden: needs a control plane: a standalone agent has no ConfigMaps or Secrets');
      }
    }
    return out;
  });
}

function readPorts(r: Reader, v: unknown, path: string, hostNetwork: boolean): ContainerPort[] | undefined {
  if (v === undefined || v === null) return undefined;
  return r.arr(v, path).map((e, i) => {
    const p = `${path}[${i}]`;
    const o = r.obj(e, p) ?? {};
    const containerPort = r.int(o.containerPort, `${p}.containerPort`, { min: 1, max: 65535, required: true }) ?? 0;
    const out: ContainerPort = { containerPort, protocol: r.oneOf(o.protocol, `${p}.protocol`, ['TCP', 'UDP', 'SCTP'] as const, 'TCP') };
    const name = r.str(o.name, `${p}.name`);
    if (name) {
      if (!PORT_NAME.test(name) || name.length > 15) r.fail(`${p}.name`, `Invalid value: ${JSON.stringify(name)}: must be an IANA service name`);
      out.name = name;
    }
    let hostPort = r.int(o.hostPort, `${p}.hostPort`, { min: 0, max: 65535 });
    if (hostNetwork) {
      // API defaulting: with hostNetwork the host port is the container port.
      if (hostPort === undefined || hostPort === 0) hostPort = containerPort;
      else if (hostPort !== containerPort) r.fail(`${p}.hostPort`, `Invalid value: ${hostPort}: must match containerPort when hostNetwork is true`);
    }
    if (hostPort !== undefined && hostPort !== 0) out.hostPort = hostPort;
    const hostIP = r.str(o.hostIP, `${p}.hostIP`);
    if (hostIP) out.hostIP = hostIP;
    return out;
  });
}

function readSecurityContext(r: Reader, v: unknown, path: string): SecurityContext | undefined {
  const o = r.obj(v, path);
  if (o === undefined) return undefined;
  const out: SecurityContext = {};
  const set = <K extends keyof SecurityContext>(k: K, val: SecurityContext[K] | undefined): void => {
    if (val !== undefined) out[k] = val;
  };
  set('runAsUser', r.int(o.runAsUser, `${path}.runAsUser`, { min: 0 }));
  set('runAsGroup', r.int(o.runAsGroup, `${path}.runAsGroup`, { min: 0 }));
  set('runAsNonRoot', r.bool(o.runAsNonRoot, `${path}.runAsNonRoot`));
  set('privileged', r.bool(o.privileged, `${path}.privileged`));
  set('readOnlyRootFilesystem', r.bool(o.readOnlyRootFilesystem, `${path}.readOnlyRootFilesystem`));
  set('allowPrivilegeEscalation', r.bool(o.allowPrivilegeEscalation, `${path}.allowPrivilegeEscalation`));
  const caps = r.obj(o.capabilities, `${path}.capabilities`);
  if (caps !== undefined) {
    const c: { add?: string[]; drop?: string[] } = {};
    const add = r.strings(caps.add, `${path}.capabilities.add`);
    const drop = r.strings(caps.drop, `${path}.capabilities.drop`);
    if (add) c.add = add;
    if (drop) c.drop = drop;
    out.capabilities = c;
  }
  if (out.privileged === true && out.allowPrivilegeEscalation === false) r.fail(path, 'Invalid value: cannot set `allowPrivilegeEscalation` to false and `privileged` to true');
  return out;
}

function readLifecycle(r: Reader, v: unknown, path: string): Lifecycle | undefined {
  const o = r.obj(v, path);
  if (o === undefined) return undefined;
  const out: Lifecycle = {};
  for (const k of ['postStart', 'preStop'] as const) {
    const h = r.obj(o[k], `${path}.${k}`);
    if (h !== undefined) out[k] = readHandler(r, h, `${path}.${k}`, ['exec', 'httpGet']);
  }
  return out;
}

function readContainer(r: Reader, v: unknown, path: string, ctx: { init: boolean; hostNetwork: boolean; volumes: ReadonlySet<string> }): Container {
  const o = r.obj(v, path, true) ?? {};
  const name = r.str(o.name, `${path}.name`, true) ?? '';
  if (name !== '' && (!DNS_LABEL.test(name) || name.length > 63)) r.fail(`${path}.name`, `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`);
  const image = (r.str(o.image, `${path}.image`, true) ?? '').trim();
  const c: Container = {
    name,
    image,
    imagePullPolicy: r.oneOf(o.imagePullPolicy, `${path}.imagePullPolicy`, ['Always', 'IfNotPresent', 'Never'] as const, defaultPullPolicy(image)),
    terminationMessagePath: r.str(o.terminationMessagePath, `${path}.terminationMessagePath`) || '/dev/termination-log',
    terminationMessagePolicy: r.oneOf(o.terminationMessagePolicy, `${path}.terminationMessagePolicy`, ['File', 'FallbackToLogsOnError'] as const, 'File'),
  };
  const command = r.strings(o.command, `${path}.command`);
  if (command) c.command = command;
  const args = r.strings(o.args, `${path}.args`);
  if (args) c.args = args;
  const workingDir = r.str(o.workingDir, `${path}.workingDir`);
  if (workingDir) c.workingDir = workingDir;
  const ports = readPorts(r, o.ports, `${path}.ports`, ctx.hostNetwork);
  if (ports) c.ports = ports;
  const env = readEnv(r, o.env, `${path}.env`);
  if (env) c.env = env;
  if (o.envFrom !== undefined && o.envFrom !== null) r.fail(`${path}.envFrom`, 'Forbidden: needs a control plane: a standalone agent has no ConfigMaps or Secrets');
  const resources = readResources(r, o.resources, `${path}.resources`);
  if (resources) c.resources = resources;
  const mounts: VolumeMount[] = [];
  const mountPaths = new Set<string>();
  r.arr(o.volumeMounts, `${path}.volumeMounts`).forEach((m, i) => {
    const p = `${path}.volumeMounts[${i}]`;
    const mo = r.obj(m, p) ?? {};
    const vname = r.str(mo.name, `${p}.name`, true) ?? '';
    if (vname !== '' && !ctx.volumes.has(vname)) r.fail(`${p}.name`, `Not found: ${JSON.stringify(vname)}`);
    const mountPath = r.str(mo.mountPath, `${p}.mountPath`, true) ?? '';
    if (mountPath !== '' && !mountPath.startsWith('/')) r.fail(`${p}.mountPath`, `Invalid value: ${JSON.stringify(mountPath)}: must be an absolute path`);
    if (mountPaths.has(mountPath)) r.fail(`${p}.mountPath`, `Invalid value: ${JSON.stringify(mountPath)}: must be unique`);
    mountPaths.add(mountPath);
    const vm: VolumeMount = { name: vname, mountPath };
    const ro = r.bool(mo.readOnly, `${p}.readOnly`);
    if (ro !== undefined) vm.readOnly = ro;
    const subPath = r.str(mo.subPath, `${p}.subPath`);
    if (subPath) {
      if (subPath.startsWith('/') || subPath.split('/').includes('..')) r.fail(`${p}.subPath`, `Invalid value: ${JSON.stringify(subPath)}: must be a relative path without '..'`);
      vm.subPath = subPath;
    }
    mounts.push(vm);
  });
  if (mounts.length > 0) c.volumeMounts = mounts;
  for (const kind of ['liveness', 'readiness', 'startup'] as const) {
    const key = `${kind}Probe` as const;
    if (o[key] === undefined || o[key] === null) continue;
    if (ctx.init) {
      r.fail(`${path}.${key}`, 'Forbidden: may not be set for init containers');
      continue;
    }
    const probe = readProbe(r, o[key], `${path}.${key}`, kind);
    if (probe) c[key] = probe;
  }
  if (o.lifecycle !== undefined && o.lifecycle !== null) {
    if (ctx.init) r.fail(`${path}.lifecycle`, 'Forbidden: may not be set for init containers');
    else {
      const lc = readLifecycle(r, o.lifecycle, `${path}.lifecycle`);
      if (lc) c.lifecycle = lc;
    }
  }
  if (ctx.init && o.restartPolicy !== undefined) r.fail(`${path}.restartPolicy`, 'Forbidden: sidecar containers are not supported');
  const sc = readSecurityContext(r, o.securityContext, `${path}.securityContext`);
  if (sc) c.securityContext = sc;
  for (const k of ['stdin', 'stdinOnce', 'tty'] as const) {
    const b = r.bool(o[k], `${path}.${k}`);
    if (b !== undefined) c[k] = b;
  }
  return c;
}

function readVolume(r: Reader, v: unknown, path: string): Volume {
  const o = r.obj(v, path) ?? {};
  const name = r.str(o.name, `${path}.name`, true) ?? '';
  if (name !== '' && (!DNS_LABEL.test(name) || name.length > 63)) r.fail(`${path}.name`, `Invalid value: ${JSON.stringify(name)}: must be a lowercase RFC 1123 label`);
  const vol: Volume = { name };
  for (const t of UNSUPPORTED_VOLUME_TYPES) {
    if (o[t] !== undefined && o[t] !== null) r.fail(`${path}.${t}`, `Unsupported value: volume type ${t}: supported types: emptyDir, hostPath`);
  }
  const sources = ['emptyDir', 'hostPath'].filter((k) => o[k] !== undefined && o[k] !== null);
  if (sources.length > 1) r.fail(path, 'Forbidden: may not specify more than 1 volume type');
  if (sources.length === 0 && !UNSUPPORTED_VOLUME_TYPES.some((t) => o[t] !== undefined && o[t] !== null)) r.fail(path, 'Required value: must specify a volume type');
  if (o.emptyDir !== undefined && o.emptyDir !== null) {
    const e = r.obj(o.emptyDir, `${path}.emptyDir`) ?? {};
    const medium = r.oneOf(e.medium, `${path}.emptyDir.medium`, ['', 'Memory'] as const, '');
    vol.emptyDir = { medium };
    if (e.sizeLimit !== undefined) {
      if (!isQuantity(e.sizeLimit)) r.fail(`${path}.emptyDir.sizeLimit`, `Invalid value: ${JSON.stringify(e.sizeLimit)}: must be a quantity`);
      else vol.emptyDir.sizeLimit = e.sizeLimit as string | number;
    }
  }
  if (o.hostPath !== undefined && o.hostPath !== null) {
    const h = r.obj(o.hostPath, `${path}.hostPath`) ?? {};
    const hp = r.str(h.path, `${path}.hostPath.path`, true) ?? '';
    if (hp !== '' && !hp.startsWith('/')) r.fail(`${path}.hostPath.path`, `Invalid value: ${JSON.stringify(hp)}: must be an absolute path`);
    if (hp.split('/').includes('..')) r.fail(`${path}.hostPath.path`, `Invalid value: ${JSON.stringify(hp)}: must not contain '..'`);
    vol.hostPath = { path: hp, type: r.oneOf(h.type, `${path}.hostPath.type`, HOST_PATH_TYPES, '') };
  }
  return vol;
}

function readDnsConfig(r: Reader, v: unknown, path: string): PodDnsConfig | undefined {
  const o = r.obj(v, path);
  if (o === undefined) return undefined;
  const out: PodDnsConfig = {};
  const ns = r.strings(o.nameservers, `${path}.nameservers`);
  if (ns) out.nameservers = ns;
  const searches = r.strings(o.searches, `${path}.searches`);
  if (searches) out.searches = searches;
  const options = r.arr(o.options, `${path}.options`).map((e, i) => {
    const eo = r.obj(e, `${path}.options[${i}]`) ?? {};
    const opt: { name: string; value?: string } = { name: r.str(eo.name, `${path}.options[${i}].name`, true) ?? '' };
    const value = r.str(eo.value, `${path}.options[${i}].value`);
    if (value !== undefined) opt.value = value;
    return opt;
  });
  if (options.length > 0) out.options = options;
  if ((out.nameservers?.length ?? 0) > 3) r.fail(`${path}.nameservers`, 'Invalid value: must not have more than 3 nameservers');
  return out;
}

function readPodSecurityContext(r: Reader, v: unknown, path: string): PodSecurityContext | undefined {
  const o = r.obj(v, path);
  if (o === undefined) return undefined;
  const out: PodSecurityContext = {};
  const ru = r.int(o.runAsUser, `${path}.runAsUser`, { min: 0 });
  if (ru !== undefined) out.runAsUser = ru;
  const rg = r.int(o.runAsGroup, `${path}.runAsGroup`, { min: 0 });
  if (rg !== undefined) out.runAsGroup = rg;
  const nr = r.bool(o.runAsNonRoot, `${path}.runAsNonRoot`);
  if (nr !== undefined) out.runAsNonRoot = nr;
  const fg = r.int(o.fsGroup, `${path}.fsGroup`, { min: 0 });
  if (fg !== undefined) out.fsGroup = fg;
  const sg = r.arr(o.supplementalGroups, `${path}.supplementalGroups`).map((g, i) => r.int(g, `${path}.supplementalGroups[${i}]`, { min: 0 }) ?? 0);
  if (sg.length > 0) out.supplementalGroups = sg;
  const sysctls = r.arr(o.sysctls, `${path}.sysctls`).map((s, i) => {
    const so = r.obj(s, `${path}.sysctls[${i}]`) ?? {};
    return { name: r.str(so.name, `${path}.sysctls[${i}].name`, true) ?? '', value: r.str(so.value, `${path}.sysctls[${i}].value`) ?? '' };
  });
  if (sysctls.length > 0) out.sysctls = sysctls;
  return out;
}

function readSpec(r: Reader, v: unknown): PodSpec {
  const s = r.obj(v, 'spec', true) ?? {};
  const hostNetwork = r.bool(s.hostNetwork, 'spec.hostNetwork') ?? false;
  const volumes = r.arr(s.volumes, 'spec.volumes').map((vol, i) => readVolume(r, vol, `spec.volumes[${i}]`));
  const volumeNames = new Set<string>();
  volumes.forEach((vol, i) => {
    if (volumeNames.has(vol.name)) r.fail(`spec.volumes[${i}].name`, `Duplicate value: ${JSON.stringify(vol.name)}`);
    volumeNames.add(vol.name);
  });
  const containersRaw = r.arr(s.containers, 'spec.containers');
  if (s.containers === undefined || containersRaw.length === 0) r.fail('spec.containers', 'Required value');
  const containers = containersRaw.map((c, i) => readContainer(r, c, `spec.containers[${i}]`, { init: false, hostNetwork, volumes: volumeNames }));
  const initContainers = r.arr(s.initContainers, 'spec.initContainers').map((c, i) => readContainer(r, c, `spec.initContainers[${i}]`, { init: true, hostNetwork, volumes: volumeNames }));
  const names = new Set<string>();
  for (const [list, field] of [[initContainers, 'spec.initContainers'], [containers, 'spec.containers']] as const) {
    list.forEach((c, i) => {
      if (c.name === '') return;
      if (names.has(c.name)) r.fail(`${field}[${i}].name`, `Duplicate value: ${JSON.stringify(c.name)}`);
      names.add(c.name);
    });
  }
  // Named probe and hook ports must resolve to a port of the same container.
  containers.forEach((c, i) => {
    const portNames = new Set((c.ports ?? []).flatMap((p) => (p.name ? [p.name] : [])));
    const handlers: [string, LifecycleHandler | undefined][] = [
      ['livenessProbe', c.livenessProbe], ['readinessProbe', c.readinessProbe], ['startupProbe', c.startupProbe],
      ['lifecycle.postStart', c.lifecycle?.postStart], ['lifecycle.preStop', c.lifecycle?.preStop],
    ];
    for (const [field, h] of handlers) {
      const port = h?.httpGet?.port ?? h?.tcpSocket?.port;
      if (typeof port === 'string' && !portNames.has(port)) r.fail(`spec.containers[${i}].${field}`, `Invalid value: ${JSON.stringify(port)}: no container port of that name`);
    }
  });
  const hostPorts = new Set<string>();
  containers.forEach((c, i) => (c.ports ?? []).forEach((p, j) => {
    if (p.hostPort === undefined) return;
    const key = `${p.protocol}/${p.hostIP ?? ''}/${p.hostPort}`;
    if (hostPorts.has(key)) r.fail(`spec.containers[${i}].ports[${j}].hostPort`, `Duplicate value: "${p.hostPort}/${p.protocol}"`);
    hostPorts.add(key);
  }));
  const spec: PodSpec = {
    ...s,
    containers,
    restartPolicy: r.oneOf(s.restartPolicy, 'spec.restartPolicy', ['Always', 'OnFailure', 'Never'] as const, 'Always'),
    terminationGracePeriodSeconds: r.int(s.terminationGracePeriodSeconds, 'spec.terminationGracePeriodSeconds', { min: 0 }) ?? 30,
    dnsPolicy: r.oneOf(s.dnsPolicy, 'spec.dnsPolicy', ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'] as const, 'ClusterFirst'),
    hostNetwork,
    schedulerName: r.str(s.schedulerName, 'spec.schedulerName') || 'default-scheduler',
    enableServiceLinks: r.bool(s.enableServiceLinks, 'spec.enableServiceLinks') ?? true,
    securityContext: readPodSecurityContext(r, s.securityContext, 'spec.securityContext') ?? {},
  };
  if (initContainers.length > 0) spec.initContainers = initContainers;
  else delete spec.initContainers;
  if (volumes.length > 0) spec.volumes = volumes;
  else delete spec.volumes;
  const ads = r.int(s.activeDeadlineSeconds, 'spec.activeDeadlineSeconds', { min: 1 });
  if (ads !== undefined) spec.activeDeadlineSeconds = ads;
  const dnsConfig = readDnsConfig(r, s.dnsConfig, 'spec.dnsConfig');
  if (dnsConfig) spec.dnsConfig = dnsConfig;
  else delete spec.dnsConfig;
  if (spec.dnsPolicy === 'None' && dnsConfig === undefined) r.fail('spec.dnsConfig', 'Required value: must provide `dnsConfig` when `dnsPolicy` is None');
  for (const k of ['hostPID', 'hostIPC'] as const) {
    const b = r.bool(s[k], `spec.${k}`);
    if (b !== undefined) spec[k] = b;
  }
  for (const k of ['hostname', 'subdomain'] as const) {
    const h = r.str(s[k], `spec.${k}`);
    if (h !== undefined && h !== '' && (!DNS_LABEL.test(h) || h.length > 63)) r.fail(`spec.${k}`, `Invalid value: ${JSON.stringify(h)}: must be a lowercase RFC 1123 label`);
  }
  const sa = r.str(s.serviceAccountName, 'spec.serviceAccountName');
  if (sa) spec.serviceAccountName = sa;
  return spec;
}

/** Validate one manifest document and apply the API server's defaults. */
export function decodePod(doc: unknown): DecodeResult {
  const r = new Reader();
  if (!isObj(doc)) return { errors: ['document: Invalid value: must be an object (a v1 Pod)'] };
  if (doc.apiVersion !== 'v1') r.fail('apiVersion', `Unsupported value: ${JSON.stringify(doc.apiVersion ?? null)}: supported values: "v1"`);
  if (doc.kind !== 'Pod') r.fail('kind', `Unsupported value: ${JSON.stringify(doc.kind ?? null)}: supported values: "Pod"`);
  if (r.errors.length > 0) return { errors: r.errors };
  const metadata = readMetadata(r, doc.metadata);
  const spec = readSpec(r, doc.spec);
  if (r.errors.length > 0) return { errors: r.errors };
  return { pod: { apiVersion: 'v1', kind: 'Pod', metadata, spec }, errors: [] };
}
