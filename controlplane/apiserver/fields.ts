// Field selector support per kind, pure: which fields each kind can be selected on and their values
// for one object (the field set upstream registers in each strategy's GetAttrs).

type Obj = Record<string, unknown>;

function o(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function s(v: unknown): string {
  if (v === undefined || v === null) return '';
  return String(v);
}

const SUPPORTED: Record<string, readonly string[]> = {
  Pod: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  Node: ['spec.unschedulable'],
  Namespace: ['status.phase'],
  Secret: ['type'],
  ReplicaSet: ['status.replicas'],
  Event: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
};

export function supportedFields(kind: string): readonly string[] {
  return SUPPORTED[kind] ?? [];
}

/** The selectable fields of one object. */
export function objectFields(kind: string, obj: Obj): Record<string, string> {
  const md = o(obj.metadata);
  const out: Record<string, string> = { 'metadata.name': s(md.name), 'metadata.namespace': s(md.namespace) };
  const spec = o(obj.spec);
  const status = o(obj.status);
  switch (kind) {
    case 'Pod':
      out['spec.nodeName'] = s(spec.nodeName);
      out['spec.restartPolicy'] = s(spec.restartPolicy);
      out['spec.schedulerName'] = s(spec.schedulerName);
      out['spec.serviceAccountName'] = s(spec.serviceAccountName);
      out['spec.hostNetwork'] = spec.hostNetwork === true ? 'true' : 'false';
      out['status.phase'] = s(status.phase);
      out['status.podIP'] = s(status.podIP);
      out['status.nominatedNodeName'] = s(status.nominatedNodeName);
      break;
    case 'Node':
      out['spec.unschedulable'] = spec.unschedulable === true ? 'true' : 'false';
      break;
    case 'Namespace':
      out['status.phase'] = s(status.phase);
      break;
    case 'Secret':
      out.type = s(obj.type);
      break;
    case 'ReplicaSet':
      out['status.replicas'] = s(status.replicas ?? 0);
      break;
    case 'Event': {
      const inv = o(obj.involvedObject);
      for (const f of ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) out[`involvedObject.${f}`] = s(inv[f]);
      out.reason = s(obj.reason);
      out.reportingComponent = s(obj.reportingComponent);
      out.source = s(o(obj.source).component);
      out.type = s(obj.type);
      break;
    }
    default:
      break;
  }
  return out;
}
