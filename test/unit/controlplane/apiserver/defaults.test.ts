import t from 'tap';
import { applyDefaults, computeQosClass, DEFAULT_DEFAULTS_OPTIONS, defaultPullPolicy, type DefaultsOptions } from '../../../../controlplane/apiserver/defaults.ts';

t.test('image pull policy', async (t) => {
  const cases: [string, string][] = [['nginx', 'Always'], ['nginx:latest', 'Always'], ['nginx:1.25', 'IfNotPresent'], ['localhost:5000/busybox', 'Always'], ['localhost:5000/busybox:1', 'IfNotPresent'], ['busybox@sha256:abc', 'IfNotPresent']];
  for (const [image, want] of cases) t.equal(defaultPullPolicy(image), want, image);
});

t.test('pod defaults', async (t) => {
  const pod: Record<string, any> = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 80 }], readinessProbe: { httpGet: { port: 80 } } }] } };
  applyDefaults('Pod', pod);
  const c = pod.spec.containers[0];
  t.equal(c.imagePullPolicy, 'Always');
  t.equal(c.ports[0].protocol, 'TCP');
  t.same(c.readinessProbe, { httpGet: { port: 80, scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  t.equal(c.terminationMessagePath, '/dev/termination-log');
  t.equal(pod.spec.restartPolicy, 'Always');
  t.equal(pod.spec.dnsPolicy, 'ClusterFirst');
  t.equal(pod.spec.schedulerName, 'default-scheduler');
  t.equal(pod.spec.terminationGracePeriodSeconds, 30);
  t.equal(pod.status.phase, 'Pending');
  t.equal(pod.status.qosClass, 'BestEffort');
});

t.test('workload and service defaults', async (t) => {
  const d: Record<string, any> = { spec: { strategy: {}, template: { spec: { containers: [{ name: 'c', image: 'i:1' }] } } } };
  applyDefaults('Deployment', d);
  t.same(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  t.equal(d.spec.replicas, 1);
  t.equal(d.spec.revisionHistoryLimit, 10);
  t.equal(d.spec.progressDeadlineSeconds, 600);
  t.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  const zero: Record<string, any> = { spec: { replicas: 0 } };
  applyDefaults('Deployment', zero);
  t.equal(zero.spec.replicas, 0, 'explicit zero kept');
  const s: Record<string, any> = { spec: { ports: [{ port: 80 }] } };
  applyDefaults('Service', s);
  t.same(s.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
  t.equal(s.spec.type, 'ClusterIP');
  t.equal(s.spec.sessionAffinity, 'None');
  const ns: Record<string, any> = { metadata: { name: 'team' } };
  applyDefaults('Namespace', ns);
  t.same(ns.metadata.labels, { 'kubernetes.io/metadata.name': 'team' });
  t.same(ns.status, { phase: 'Active' });
});

t.test('qos class', async (t) => {
  t.equal(computeQosClass({ containers: [{ resources: { limits: { cpu: '1', memory: '1Gi' } } }] }), 'Guaranteed');
  t.equal(computeQosClass({ containers: [{ resources: { requests: { cpu: '1' } } }] }), 'Burstable');
  t.equal(computeQosClass({ containers: [{}] }), 'BestEffort');
});

t.test('default tolerations: added when the pod does not tolerate the taint, as DefaultTolerationSeconds adds them', async (t) => {
  const notReady = (s: number) => ({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: s });
  const unreachable = (s: number) => ({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: s });
  const gpu = { key: 'gpu', operator: 'Exists', effect: 'NoSchedule' };
  const cases: [string, unknown, DefaultsOptions | undefined, unknown[]][] = [
    ['none: both, 300 s by default', undefined, undefined, [notReady(300), unreachable(300)]],
    ['none: both, with the flags\' seconds', undefined, { notReadyTolerationSeconds: 5, unreachableTolerationSeconds: 7 }, [notReady(5), unreachable(7)]],
    ['others kept, defaults appended', [gpu], undefined, [gpu, notReady(300), unreachable(300)]],
    ['own unreachable kept with its seconds', [unreachable(1)], undefined, [unreachable(1), notReady(300)]],
    ['own forever toleration kept', [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }], undefined, [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }, unreachable(300)]],
    ['empty key and effect tolerate everything', [{ operator: 'Exists' }], undefined, [{ operator: 'Exists' }]],
    ['empty effect tolerates NoExecute', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }], undefined, [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }, notReady(300)]],
    ['NoSchedule does not tolerate NoExecute', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoSchedule' }], undefined, [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoSchedule' }, notReady(300), unreachable(300)]],
    ['applied twice (update): nothing more', [notReady(300), unreachable(300)], undefined, [notReady(300), unreachable(300)]],
  ];
  for (const [name, tolerations, opts, want] of cases) {
    const pod: Record<string, any> = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i:1' }], ...(tolerations === undefined ? {} : { tolerations: structuredClone(tolerations) }) } };
    applyDefaults('Pod', pod, opts);
    t.same(pod.spec.tolerations, want, name);
  }
  t.same(DEFAULT_DEFAULTS_OPTIONS, { notReadyTolerationSeconds: 300, unreachableTolerationSeconds: 300 }, 'kube-apiserver\'s defaults: 300 s');
  const d: Record<string, any> = { spec: { template: { spec: { containers: [{ name: 'c', image: 'i:1' }] } } } };
  applyDefaults('Deployment', d, { notReadyTolerationSeconds: 5, unreachableTolerationSeconds: 5 });
  t.equal(d.spec.template.spec.tolerations, undefined, 'pod templates are left alone (the pods get them)');
});
