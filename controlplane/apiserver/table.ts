// Server-side Table output, pure: the columns the real API server sends for each resource we serve,
// the pod STATUS column computed as kubectl users know it, and ages in kubectl's human format.
// kubectl shows `priority: 1` columns only with `-o wide`; we always send them.

import { labelSelectorFromObject, formatLabelSelector } from './selectors.ts';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function o(v: unknown): Obj {
  return isObj(v) ? v : {};
}

function list(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

export interface ColumnDefinition {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

type Cell = string | number | boolean;

interface TableSpec {
  readonly columns: readonly ColumnDefinition[];
  readonly row: (obj: Obj, nowMs: number) => Cell[];
}

function col(name: string, type: ColumnDefinition['type'] = 'string', priority = 0, format = ''): ColumnDefinition {
  return { name, type, format, description: `${name} of the object`, priority };
}

const NAME = { ...col('Name', 'string', 0, 'name'), description: 'Name must be unique within a namespace.' };
const AGE = { ...col('Age'), description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };

/** kubectl's duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function age(ts: unknown, nowMs: number): string {
  if (typeof ts !== 'string') return '<unknown>';
  const t = Date.parse(ts);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(nowMs - t);
}

function meta(obj: Obj): Obj {
  return o(obj.metadata);
}

/** The STATUS column of `kubectl get pods`, as the real server computes it. */
export function computePodStatus(pod: Obj): string {
  const status = o(pod.status);
  const spec = o(pod.spec);
  let reason = typeof status.reason === 'string' && status.reason !== '' ? status.reason : (typeof status.phase === 'string' ? status.phase : 'Unknown');
  const initStatuses = list(status.initContainerStatuses);
  const initCount = list(spec.initContainers).length;
  let initializing = false;
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    const state = o(cs.state);
    const term = isObj(state.terminated) ? state.terminated : undefined;
    const wait = isObj(state.waiting) ? state.waiting : undefined;
    if (term !== undefined && term.exitCode === 0) continue;
    // A restartable init container (sidecar) that started counts as done.
    if (cs.started === true && list(spec.initContainers)[i]?.restartPolicy === 'Always') continue;
    if (term !== undefined) {
      if (typeof term.reason === 'string' && term.reason !== '') reason = `Init:${term.reason}`;
      else if (num(term.signal) !== 0) reason = `Init:Signal:${num(term.signal)}`;
      else reason = `Init:ExitCode:${num(term.exitCode)}`;
    } else if (wait !== undefined && typeof wait.reason === 'string' && wait.reason !== '' && wait.reason !== 'PodInitializing') {
      reason = `Init:${wait.reason}`;
    } else {
      reason = `Init:${i}/${initCount}`;
    }
    initializing = true;
    break;
  }
  if (!initializing) {
    let hasRunning = false;
    const statuses = list(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const state = o(statuses[i].state);
      const wait = isObj(state.waiting) ? state.waiting : undefined;
      const term = isObj(state.terminated) ? state.terminated : undefined;
      if (wait !== undefined && typeof wait.reason === 'string' && wait.reason !== '') reason = wait.reason;
      else if (term !== undefined && typeof term.reason === 'string' && term.reason !== '') reason = term.reason;
      else if (term !== undefined) reason = num(term.signal) !== 0 ? `Signal:${num(term.signal)}` : `ExitCode:${num(term.exitCode)}`;
      else if (isObj(state.running) && statuses[i].ready === true) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) {
      const ready = list(status.conditions).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }
  if (meta(pod).deletionTimestamp !== undefined && meta(pod).deletionTimestamp !== null) {
    reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  }
  return reason;
}

function podRow(pod: Obj, nowMs: number): Cell[] {
  const spec = o(pod.spec);
  const status = o(pod.status);
  const statuses = list(status.containerStatuses);
  const total = list(spec.containers).length;
  const ready = statuses.filter((c) => c.ready === true).length;
  let restarts = 0;
  let lastRestartMs = 0;
  for (const cs of [...statuses, ...list(status.initContainerStatuses)]) {
    restarts += num(cs.restartCount);
    const fin = o(o(cs.lastState).terminated).finishedAt;
    if (typeof fin === 'string') lastRestartMs = Math.max(lastRestartMs, Date.parse(fin) || 0);
  }
  const restartCell = restarts > 0 && lastRestartMs > 0 ? `${restarts} (${humanDuration(nowMs - lastRestartMs)} ago)` : String(restarts);
  const gates = list(spec.readinessGates);
  let gatesCell = '<none>';
  if (gates.length > 0) {
    const conds = list(status.conditions);
    const ok = gates.filter((g) => conds.some((c) => c.type === g.conditionType && c.status === 'True')).length;
    gatesCell = `${ok}/${gates.length}`;
  }
  return [
    String(meta(pod).name ?? ''), `${ready}/${total}`, computePodStatus(pod), restartCell, age(meta(pod).creationTimestamp, nowMs),
    typeof status.podIP === 'string' && status.podIP !== '' ? status.podIP : '<none>',
    typeof spec.nodeName === 'string' && spec.nodeName !== '' ? spec.nodeName : '<none>',
    typeof status.nominatedNodeName === 'string' && status.nominatedNodeName !== '' ? status.nominatedNodeName : '<none>',
    gatesCell,
  ];
}

function nodeRow(node: Obj, nowMs: number): Cell[] {
  const status = o(node.status);
  const spec = o(node.spec);
  const ready = list(status.conditions).find((c) => c.type === 'Ready');
  // As kubectl prints nodes: Ready when True, NotReady for False and Unknown alike, Unknown only without the condition.
  let st = ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady';
  if (spec.unschedulable === true) st += ',SchedulingDisabled';
  const labels = o(meta(node).labels);
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith('node-role.kubernetes.io/') && k.length > 'node-role.kubernetes.io/'.length) roles.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && typeof v === 'string' && v !== '') roles.add(v);
  }
  const info = o(status.nodeInfo);
  const addr = (type: string): string => String(list(status.addresses).find((a) => a.type === type)?.address ?? '<none>');
  const str = (v: unknown): string => (typeof v === 'string' && v !== '' ? v : '<unknown>');
  return [
    String(meta(node).name ?? ''), st, roles.size === 0 ? '<none>' : [...roles].sort().join(','), age(meta(node).creationTimestamp, nowMs),
    typeof info.kubeletVersion === 'string' ? info.kubeletVersion : '',
    addr('InternalIP'), addr('ExternalIP'), str(info.osImage), str(info.kernelVersion), str(info.containerRuntimeVersion),
  ];
}

function templateCells(obj: Obj): Cell[] {
  const spec = o(obj.spec);
  const containers = list(o(o(spec.template).spec).containers);
  const sel = labelSelectorFromObject(spec.selector);
  return [
    containers.map((c) => String(c.name ?? '')).join(','),
    containers.map((c) => String(c.image ?? '')).join(','),
    sel === undefined ? '<invalid>' : formatLabelSelector(sel),
  ];
}

function servicePorts(spec: Obj): string {
  const ports = list(spec.ports);
  if (ports.length === 0) return '<none>';
  return ports.map((p) => (p.nodePort !== undefined && p.nodePort !== 0 ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

function serviceExternalIp(svc: Obj): string {
  const spec = o(svc.spec);
  const external = Array.isArray(spec.externalIPs) ? spec.externalIPs.map(String) : [];
  switch (spec.type) {
    case 'ExternalName': return String(spec.externalName ?? '<none>');
    case 'LoadBalancer': {
      const ingress = list(o(o(svc.status).loadBalancer).ingress).map((i) => String(i.ip ?? i.hostname ?? ''));
      const all = [...ingress, ...external];
      return all.length === 0 ? '<pending>' : all.join(',');
    }
    default: return external.length === 0 ? '<none>' : external.join(',');
  }
}

function endpointsCell(ep: Obj): string {
  const parts: string[] = [];
  let total = 0;
  for (const subset of list(ep.subsets)) {
    const ports = list(subset.ports);
    for (const a of list(subset.addresses)) {
      if (ports.length === 0) { total++; if (parts.length < 3) parts.push(String(a.ip)); continue; }
      for (const p of ports) {
        total++;
        if (parts.length < 3) parts.push(`${a.ip}:${p.port}`);
      }
    }
  }
  if (total === 0) return '<none>';
  return total > 3 ? `${parts.join(',')} + ${total - 3} more...` : parts.join(',');
}

function eventRow(ev: Obj, nowMs: number): Cell[] {
  const inv = o(ev.involvedObject);
  const series = o(ev.series);
  const last = ev.lastTimestamp ?? series.lastObservedTime ?? ev.eventTime ?? meta(ev).creationTimestamp;
  const first = ev.firstTimestamp ?? ev.eventTime ?? meta(ev).creationTimestamp;
  const src = o(ev.source);
  const source = src.component === undefined ? String(ev.reportingComponent ?? '') : (src.host === undefined ? String(src.component) : `${src.component}, ${src.host}`);
  return [
    age(last, nowMs), String(ev.type ?? ''), String(ev.reason ?? ''),
    `${String(inv.kind ?? '').toLowerCase()}/${String(inv.name ?? '')}`, String(ev.message ?? ''),
    String(inv.fieldPath ?? ''), source, age(first, nowMs), num(ev.count) === 0 ? 1 : num(ev.count), String(meta(ev).name ?? ''),
  ];
}

const TABLES: Record<string, TableSpec> = {
  Pod: {
    columns: [NAME, col('Ready'), col('Status'), col('Restarts'), AGE, col('IP', 'string', 1), col('Node', 'string', 1), col('Nominated Node', 'string', 1), col('Readiness Gates', 'string', 1)],
    row: podRow,
  },
  Node: {
    columns: [NAME, col('Status'), col('Roles'), AGE, col('Version'), col('Internal-IP', 'string', 1), col('External-IP', 'string', 1), col('OS-Image', 'string', 1), col('Kernel-Version', 'string', 1), col('Container-Runtime', 'string', 1)],
    row: nodeRow,
  },
  Namespace: {
    columns: [NAME, col('Status'), AGE],
    row: (n, now) => [String(meta(n).name ?? ''), String(o(n.status).phase ?? 'Active'), age(meta(n).creationTimestamp, now)],
  },
  Deployment: {
    columns: [NAME, col('Ready'), col('Up-to-date', 'integer'), col('Available', 'integer'), AGE, col('Containers', 'string', 1), col('Images', 'string', 1), col('Selector', 'string', 1)],
    row: (d, now) => {
      const st = o(d.status);
      return [String(meta(d).name ?? ''), `${num(st.readyReplicas)}/${num(o(d.spec).replicas)}`, num(st.updatedReplicas), num(st.availableReplicas), age(meta(d).creationTimestamp, now), ...templateCells(d)];
    },
  },
  ReplicaSet: {
    columns: [NAME, col('Desired', 'integer'), col('Current', 'integer'), col('Ready', 'integer'), AGE, col('Containers', 'string', 1), col('Images', 'string', 1), col('Selector', 'string', 1)],
    row: (r, now) => {
      const st = o(r.status);
      return [String(meta(r).name ?? ''), num(o(r.spec).replicas), num(st.replicas), num(st.readyReplicas), age(meta(r).creationTimestamp, now), ...templateCells(r)];
    },
  },
  DaemonSet: {
    columns: [NAME, col('Desired', 'integer'), col('Current', 'integer'), col('Ready', 'integer'), col('Up-to-date', 'integer'), col('Available', 'integer'), col('Node Selector'), AGE, col('Containers', 'string', 1), col('Images', 'string', 1), col('Selector', 'string', 1)],
    row: (d, now) => {
      const st = o(d.status);
      const ns = o(o(o(o(d.spec).template).spec).nodeSelector);
      const nsText = Object.keys(ns).length === 0 ? '<none>' : Object.entries(ns).map(([k, v]) => `${k}=${v}`).join(',');
      return [String(meta(d).name ?? ''), num(st.desiredNumberScheduled), num(st.currentNumberScheduled), num(st.numberReady), num(st.updatedNumberScheduled), num(st.numberAvailable), nsText, age(meta(d).creationTimestamp, now), ...templateCells(d)];
    },
  },
  Service: {
    columns: [NAME, col('Type'), col('Cluster-IP'), col('External-IP'), col('Port(s)'), AGE, col('Selector', 'string', 1)],
    row: (s, now) => {
      const spec = o(s.spec);
      const sel = o(spec.selector);
      const selText = Object.keys(sel).length === 0 ? '<none>' : Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',');
      return [String(meta(s).name ?? ''), String(spec.type ?? 'ClusterIP'), typeof spec.clusterIP === 'string' && spec.clusterIP !== '' ? spec.clusterIP : '<none>', serviceExternalIp(s), servicePorts(spec), age(meta(s).creationTimestamp, now), selText];
    },
  },
  Endpoints: {
    columns: [NAME, col('Endpoints'), AGE],
    row: (e, now) => [String(meta(e).name ?? ''), endpointsCell(e), age(meta(e).creationTimestamp, now)],
  },
  Event: {
    columns: [col('Last Seen'), col('Type'), col('Reason'), col('Object'), col('Message'), col('Subobject', 'string', 1), col('Source', 'string', 1), col('First Seen', 'string', 1), col('Count', 'integer', 1), { ...NAME, priority: 1 }],
    row: eventRow,
  },
  ConfigMap: {
    columns: [NAME, col('Data', 'integer'), AGE],
    row: (c, now) => [String(meta(c).name ?? ''), Object.keys(o(c.data)).length + Object.keys(o(c.binaryData)).length, age(meta(c).creationTimestamp, now)],
  },
  Secret: {
    columns: [NAME, col('Type'), col('Data', 'integer'), AGE],
    row: (s, now) => [String(meta(s).name ?? ''), String(s.type ?? 'Opaque'), Object.keys(o(s.data)).length, age(meta(s).creationTimestamp, now)],
  },
  ServiceAccount: {
    columns: [NAME, col('Secrets', 'integer'), AGE],
    row: (s, now) => [String(meta(s).name ?? ''), list(s.secrets).length, age(meta(s).creationTimestamp, now)],
  },
  Lease: {
    columns: [NAME, col('Holder'), AGE],
    row: (l, now) => [String(meta(l).name ?? ''), String(o(l.spec).holderIdentity ?? ''), age(meta(l).creationTimestamp, now)],
  },
};

const DEFAULT_TABLE: TableSpec = {
  columns: [NAME, AGE],
  row: (x, now) => [String(meta(x).name ?? ''), age(meta(x).creationTimestamp, now)],
};

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function parseIncludeObject(v: string | undefined): IncludeObject {
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

export interface TableRow {
  cells: Cell[];
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: readonly ColumnDefinition[];
  rows: TableRow[];
}

export function buildTableRow(kind: string, obj: Obj, opts: { nowMs: number; include: IncludeObject }): TableRow {
  const spec = TABLES[kind] ?? DEFAULT_TABLE;
  const row: TableRow = { cells: spec.row(obj, opts.nowMs) };
  if (opts.include === 'Object') row.object = obj;
  else if (opts.include === 'Metadata') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
  return row;
}

export function buildTable(kind: string, objs: readonly Obj[], opts: { nowMs: number; include: IncludeObject; resourceVersion?: string; continueToken?: string; withColumns?: boolean }): Table {
  const spec = TABLES[kind] ?? DEFAULT_TABLE;
  const metadata: Table['metadata'] = {};
  if (opts.resourceVersion !== undefined) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continueToken !== undefined) metadata.continue = opts.continueToken;
  return {
    kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata,
    columnDefinitions: opts.withColumns === false ? [] : spec.columns,
    rows: objs.map((x) => buildTableRow(kind, x, opts)),
  };
}

/** Does the Accept header ask for a Table (meta.k8s.io v1 or v1beta1)? */
export function wantsTable(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params.includes('as=Table') && params.some((p) => p === 'g=meta.k8s.io');
  });
}
