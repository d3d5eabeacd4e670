// Server-side defaults, pure: the values Kubernetes fills in so that `describe`, rollouts and the agent
// see complete objects (contract §9). Called on every create and update, after patches are applied.
// Allocations that need state (service cluster IPs, node ports) live in the registry, not here.

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function obj(parent: Obj, key: string): Obj {
  const v = parent[key];
  if (isObj(v)) return v;
  const fresh: Obj = {};
  parent[key] = fresh;
  return fresh;
}

function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

/** `Always` for `:latest` or no tag, else `IfNotPresent` (digests count as a tag). */
export function defaultPullPolicy(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const lastColon = image.lastIndexOf(':');
  if (lastColon <= lastSlash) return 'Always';
  return image.slice(lastColon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(p: unknown): void {
  if (!isObj(p)) return;
  setDefault(p, 'timeoutSeconds', 1);
  setDefault(p, 'periodSeconds', 10);
  setDefault(p, 'successThreshold', 1);
  setDefault(p, 'failureThreshold', 3);
  if (isObj(p.httpGet)) setDefault(p.httpGet, 'scheme', 'HTTP');
}

function defaultContainer(c: Obj): void {
  setDefault(c, 'imagePullPolicy', defaultPullPolicy(c.image));
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  setDefault(c, 'resources', {});
  for (const port of arr(c.ports)) setDefault(port, 'protocol', 'TCP');
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  for (const e of arr(c.env)) {
    if (isObj(e.valueFrom) && isObj(e.valueFrom.fieldRef)) setDefault(e.valueFrom.fieldRef, 'apiVersion', 'v1');
  }
}

/** Pod spec defaults, shared by pods and the templates of workloads. */
export function applyPodSpecDefaults(spec: Obj): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  for (const c of arr(spec.containers)) defaultContainer(c);
  for (const c of arr(spec.initContainers)) defaultContainer(c);
  for (const v of arr(spec.volumes)) {
    if (isObj(v.configMap)) setDefault(v.configMap, 'defaultMode', 420);
    if (isObj(v.secret)) setDefault(v.secret, 'defaultMode', 420);
    if (isObj(v.hostPath)) setDefault(v.hostPath, 'type', '');
  }
}

/** QoS class as upstream computes it: Guaranteed, Burstable or BestEffort. */
export function computeQosClass(spec: Obj): string {
  const containers = [...arr(spec.containers), ...arr(spec.initContainers)];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const res = isObj(c.resources) ? c.resources : {};
    const req = isObj(res.requests) ? res.requests : {};
    const lim = isObj(res.limits) ? res.limits : {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) any = true;
    for (const r of ['cpu', 'memory']) {
      const l = lim[r];
      const q = req[r] ?? l;
      if (l === undefined || String(q) !== String(l)) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function defaultTemplate(spec: Obj): void {
  const template = obj(spec, 'template');
  applyPodSpecDefaults(obj(template, 'spec'));
}

function defaultRollingUpdate(spec: Obj): void {
  const strategy = obj(spec, 'strategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const ru = obj(strategy, 'rollingUpdate');
    setDefault(ru, 'maxUnavailable', '25%');
    setDefault(ru, 'maxSurge', '25%');
  }
}

/** Settings of the defaults that kube-apiserver takes as flags. */
export interface DefaultsOptions {
  /** --default-not-ready-toleration-seconds: how long pods tolerate node.kubernetes.io/not-ready:NoExecute. */
  readonly notReadyTolerationSeconds: number;
  /** --default-unreachable-toleration-seconds: how long pods tolerate node.kubernetes.io/unreachable:NoExecute. */
  readonly unreachableTolerationSeconds: number;
}

/** kube-apiserver's defaults: 300 s each. */
export const DEFAULT_DEFAULTS_OPTIONS: DefaultsOptions = Object.freeze({ notReadyTolerationSeconds: 300, unreachableTolerationSeconds: 300 });

const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';

/** Does one of the tolerations match key:NoExecute (an empty key or effect matches any)? */
function toleratesNoExecute(tolerations: readonly Obj[], key: string): boolean {
  return tolerations.some((t) => (t.key === key || t.key === undefined || t.key === '') && (t.effect === 'NoExecute' || t.effect === undefined || t.effect === ''));
}

/**
 * The DefaultTolerationSeconds admission plugin: a pod that does not already tolerate the not-ready
 * or unreachable NoExecute taint gets a toleration of it for the configured seconds, so the node
 * lifecycle controller deletes it that long after its node was tainted. Runs on create and update,
 * as upstream does; tolerations the pod has are never changed.
 */
export function addDefaultTolerations(spec: Obj, opts: DefaultsOptions = DEFAULT_DEFAULTS_OPTIONS): void {
  const current = arr(spec.tolerations);
  const added: Obj[] = [];
  if (!toleratesNoExecute(current, TAINT_NOT_READY)) added.push({ key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: opts.notReadyTolerationSeconds });
  if (!toleratesNoExecute(current, TAINT_UNREACHABLE)) added.push({ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: opts.unreachableTolerationSeconds });
  if (added.length > 0) spec.tolerations = [...(Array.isArray(spec.tolerations) ? spec.tolerations : []), ...added];
}

/** Apply the defaults of `kind` to `o` in place (o is a fresh copy owned by the caller). */
export function applyDefaults(kind: string, o: Obj, opts: DefaultsOptions = DEFAULT_DEFAULTS_OPTIONS): void {
  const metadata = obj(o, 'metadata');
  switch (kind) {
    case 'Pod': {
      const spec = obj(o, 'spec');
      applyPodSpecDefaults(spec);
      // A static pod's mirror gets no service account: upstream's ServiceAccount admission leaves them alone.
      const annotations = metadata.annotations;
      const mirror = annotations !== null && typeof annotations === 'object' && 'kubernetes.io/config.mirror' in annotations;
      if (!mirror) {
        setDefault(spec, 'serviceAccountName', 'default');
        setDefault(spec, 'serviceAccount', spec.serviceAccountName);
      }
      setDefault(spec, 'enableServiceLinks', true);
      setDefault(spec, 'priority', 0);
      addDefaultTolerations(spec, opts);
      const status = obj(o, 'status');
      setDefault(status, 'phase', 'Pending');
      setDefault(status, 'qosClass', computeQosClass(spec));
      break;
    }
    case 'Deployment': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'replicas', 1);
      defaultRollingUpdate(spec);
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'progressDeadlineSeconds', 600);
      defaultTemplate(spec);
      break;
    }
    case 'ReplicaSet': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'replicas', 1);
      defaultTemplate(spec);
      break;
    }
    case 'DaemonSet': {
      const spec = obj(o, 'spec');
      const strategy = obj(spec, 'updateStrategy');
      setDefault(strategy, 'type', 'RollingUpdate');
      if (strategy.type === 'RollingUpdate') {
        const ru = obj(strategy, 'rollingUpdate');
        setDefault(ru, 'maxUnavailable', 1);
        setDefault(ru, 'maxSurge', 0);
      }
      setDefault(spec, 'revisionHistoryLimit', 10);
      defaultTemplate(spec);
      break;
    }
    case 'Service': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'type', 'ClusterIP');
      setDefault(spec, 'sessionAffinity', 'None');
      if (spec.type !== 'ExternalName') {
        setDefault(spec, 'ipFamilies', ['IPv4']);
        setDefault(spec, 'ipFamilyPolicy', 'SingleStack');
        setDefault(spec, 'internalTrafficPolicy', 'Cluster');
      }
      if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
      for (const p of arr(spec.ports)) {
        setDefault(p, 'protocol', 'TCP');
        setDefault(p, 'targetPort', p.port);
      }
      setDefault(o, 'status', { loadBalancer: {} });
      break;
    }
    case 'Namespace': {
      const labels = obj(metadata, 'labels');
      if (typeof metadata.name === 'string') labels['kubernetes.io/metadata.name'] = metadata.name;
      const spec = obj(o, 'spec');
      setDefault(spec, 'finalizers', ['kubernetes']);
      const status = obj(o, 'status');
      setDefault(status, 'phase', 'Active');
      break;
    }
    case 'Secret':
      setDefault(o, 'type', 'Opaque');
      break;
    case 'Event': {
      setDefault(o, 'type', 'Normal');
      setDefault(o, 'count', 1);
      break;
    }
    default:
      break;
  }
}
