import t from 'tap';
import { decodePod, defaultPullPolicy } from '../../../../agent/manifest/decode.ts';

const base = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web' },
  spec: { containers: [{ name: 'app', image: 'reg/app:1.0' }] },
});

t.test('defaults like the API server', async (t) => {
  const r = decodePod({
    ...base(),
    spec: {
      containers: [{
        name: 'app', image: 'reg/app',
        ports: [{ containerPort: 80 }],
        readinessProbe: { httpGet: { port: 80 } },
      }],
      volumes: [{ name: 'v', emptyDir: {} }],
    },
  });
  t.same(r.errors, []);
  const pod = r.pod!;
  t.equal(pod.metadata.namespace, 'default');
  t.equal(pod.spec.restartPolicy, 'Always');
  t.equal(pod.spec.terminationGracePeriodSeconds, 30);
  t.equal(pod.spec.dnsPolicy, 'ClusterFirst');
  const c = pod.spec.containers[0];
  t.equal(c.imagePullPolicy, 'Always', 'no tag means latest');
  t.equal(c.terminationMessagePath, '/dev/termination-log');
  t.equal(c.ports![0].protocol, 'TCP');
  t.same(c.readinessProbe, { httpGet: { path: '/', port: 80, scheme: 'HTTP' }, initialDelaySeconds: 0, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  t.same(pod.spec.volumes, [{ name: 'v', emptyDir: { medium: '' } }]);
});

t.test('pull policy defaults', async (t) => {
  const cases: [string, string][] = [
    ['busybox', 'Always'], ['busybox:latest', 'Always'], ['busybox:1.0', 'IfNotPresent'], ['127.0.0.1:5000/moor/busybox', 'Always'],
    ['127.0.0.1:5000/moor/busybox:1.0', 'IfNotPresent'], ['reg/x@sha256:abc', 'IfNotPresent'],
  ];
  for (const [image, want] of cases) t.equal(defaultPullPolicy(image), want, image);
});

t.test('hostNetwork defaults hostPort to containerPort', async (t) => {
  const r = decodePod({ ...base(), spec: { hostNetwork: true, containers: [{ name: 'a', image: 'i:1', ports: [{ containerPort: 8080 }] }] } });
  t.equal(r.pod!.spec.containers[0].ports![0].hostPort, 8080);
});

t.test('validation errors name the field', async (t) => {
  type Mut = (d: ReturnType<typeof base> & Record<string, any>) => void;
  const cases: { name: string; mut: Mut; want: RegExp }[] = [
    { name: 'wrong kind', mut: (d) => (d.kind = 'Deployment'), want: /^kind: Unsupported value: "Deployment"/ },
    { name: 'wrong apiVersion', mut: (d) => (d.apiVersion = 'apps/v1'), want: /^apiVersion: Unsupported value/ },
    { name: 'missing name', mut: (d) => (d.metadata = {} as never), want: /^metadata\.name: Required value/ },
    { name: 'bad name', mut: (d) => (d.metadata.name = 'Web_1'), want: /^metadata\.name: Invalid value: "Web_1"/ },
    { name: 'no containers', mut: (d) => (d.spec.containers = []), want: /^spec\.containers: Required value/ },
    { name: 'no image', mut: (d) => (d.spec.containers[0].image = ''), want: /^spec\.containers\[0\]\.image: Required value/ },
    { name: 'duplicate container name', mut: (d) => d.spec.containers.push({ name: 'app', image: 'x:1' }), want: /^spec\.containers\[1\]\.name: Duplicate value: "app"/ },
    { name: 'bad restart policy', mut: (d) => ((d.spec as any).restartPolicy = 'Sometimes'), want: /^spec\.restartPolicy: Unsupported value: "Sometimes"/ },
    { name: 'bad port', mut: (d) => ((d.spec.containers[0] as any).ports = [{ containerPort: 70000 }]), want: /ports\[0\]\.containerPort: Invalid value: 70000/ },
    { name: 'probe with two handlers', mut: (d) => ((d.spec.containers[0] as any).livenessProbe = { exec: { command: ['true'] }, tcpSocket: { port: 1 } }), want: /livenessProbe: Forbidden: may not specify more than 1 handler type/ },
    { name: 'liveness successThreshold', mut: (d) => ((d.spec.containers[0] as any).livenessProbe = { exec: { command: ['true'] }, successThreshold: 2 }), want: /livenessProbe\.successThreshold: Invalid value: 2: must be 1/ },
    { name: 'named probe port missing', mut: (d) => ((d.spec.containers[0] as any).readinessProbe = { httpGet: { port: 'web' } }), want: /readinessProbe: Invalid value: "web": no container port of that name/ },
    { name: 'mount of unknown volume', mut: (d) => ((d.spec.containers[0] as any).volumeMounts = [{ name: 'nope', mountPath: '/x' }]), want: /volumeMounts\[0\]\.name: Not found: "nope"/ },
    { name: 'configMap volume', mut: (d) => ((d.spec as any).volumes = [{ name: 'c', configMap: { name: 'x' } }]), want: /volumes\[0\]\.configMap: Unsupported value: volume type configMap/ },
    { name: 'secret env', mut: (d) => ((d.spec.containers[0] as any).env = [{ name: 'A', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }]), want: /valueFrom\.secretKeyRef: Forbidden: needs a control plane/ },
    { name: 'bad fieldRef', mut: (d) => ((d.spec.containers[0] as any).env = [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.nope' } } }]), want: /fieldRef\.fieldPath: Unsupported value: "spec\.nope"/ },
    { name: 'probes on init containers', mut: (d) => ((d.spec as any).initContainers = [{ name: 'i', image: 'x:1', readinessProbe: { exec: { command: ['true'] } } }]), want: /initContainers\[0\]\.readinessProbe: Forbidden/ },
    { name: 'request above limit', mut: (d) => ((d.spec.containers[0] as any).resources = { limits: { cpu: '1' }, requests: { cpu: '2' } }), want: /resources\.requests\[cpu\]: Invalid value: "2": must be less than or equal to cpu limit of 1/ },
    { name: 'bad quantity', mut: (d) => ((d.spec.containers[0] as any).resources = { limits: { memory: 'lots' } }), want: /resources\.limits\[memory\]: Invalid value: "lots": must be a quantity/ },
    { name: 'hostPath relative', mut: (d) => ((d.spec as any).volumes = [{ name: 'h', hostPath: { path: 'tmp' } }]), want: /hostPath\.path: Invalid value: "tmp": must be an absolute path/ },
    { name: 'dnsPolicy None without config', mut: (d) => ((d.spec as any).dnsPolicy = 'None'), want: /spec\.dnsConfig: Required value/ },
    { name: 'tcpSocket hook', mut: (d) => ((d.spec.containers[0] as any).lifecycle = { preStop: { tcpSocket: { port: 1 } } }), want: /lifecycle\.preStop\.tcpSocket: Unsupported value/ },
    { name: 'not an object', mut: (d) => ((d as any).spec = 'x'), want: /^spec: Invalid value: must be an object/ },
  ];
  for (const c of cases) {
    const doc = base();
    c.mut(doc as never);
    const r = decodePod(doc);
    t.equal(r.pod, undefined, `${c.name}: rejected`);
    t.match(r.errors.join('\n'), c.want, c.name);
  }
  t.same(decodePod('hello').errors, ['document: Invalid value: must be an object (a v1 Pod)']);
});
