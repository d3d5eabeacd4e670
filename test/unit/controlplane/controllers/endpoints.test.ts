import t from 'tap';
import type { Pod, Service } from '../../../../controlplane/client/types.ts';
import { computeEndpointSubsets, resolveTargetPort } from '../../../../controlplane/controllers/endpoints.ts';

const svc = (ports: NonNullable<Service['spec']>['ports'], publishNotReady = false): Service => ({ metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports, publishNotReadyAddresses: publishNotReady } });

function pod(name: string, ip: string | undefined, ready: boolean, opts: { named?: boolean; deleting?: boolean; phase?: 'Running' | 'Succeeded' } = {}): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `u-${name}`, labels: { app: 'web' }, ...(opts.deleting === true ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { nodeName: 'n1', containers: [{ name: 'c', ports: opts.named === false ? [] : [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
    status: { phase: opts.phase ?? 'Running', ...(ip === undefined ? {} : { podIP: ip }), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

t.test('target ports: numbers, numeric strings, names, and the service port by default', async (t) => {
  const p = pod('a', '10.0.0.1', true);
  t.equal(resolveTargetPort(p, { port: 80, targetPort: 9000 }), 9000);
  t.equal(resolveTargetPort(p, { port: 80, targetPort: '9001' }), 9001);
  t.equal(resolveTargetPort(p, { port: 80, targetPort: 'http' }), 8080);
  t.equal(resolveTargetPort(p, { port: 80, targetPort: 'http', protocol: 'UDP' }), undefined);
  t.equal(resolveTargetPort(p, { port: 80 }), 80);
});

t.test('ready pods in addresses, others in notReadyAddresses; no IP or deleting: left out', async (t) => {
  const subsets = computeEndpointSubsets(svc([{ name: 'web', port: 80, targetPort: 'http', protocol: 'TCP' }]), [
    pod('b', '10.0.0.10', true), pod('a', '10.0.0.9', true), pod('c', '10.0.0.11', false), pod('d', undefined, true), pod('e', '10.0.0.12', true, { deleting: true }), pod('f', '10.0.0.13', true, { phase: 'Succeeded' }),
  ]);
  t.same(subsets, [{
    addresses: [
      { ip: '10.0.0.9', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'u-a' } },
      { ip: '10.0.0.10', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'b', uid: 'u-b' } },
    ],
    notReadyAddresses: [{ ip: '10.0.0.11', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'c', uid: 'u-c' } }],
    ports: [{ name: 'web', port: 8080, protocol: 'TCP' }],
  }]);
  t.same(computeEndpointSubsets(svc([{ port: 80, targetPort: 'http' }]), []), [], 'no pods: no subsets');
});

t.test('pods serving different ports form separate subsets; a pod without the named port is left out', async (t) => {
  const subsets = computeEndpointSubsets(svc([{ name: 'a', port: 80, targetPort: 'http' }, { name: 'b', port: 81, targetPort: 7000 }]), [pod('x', '10.0.0.1', true), pod('y', '10.0.0.2', true, { named: false })]);
  t.equal(subsets.length, 2);
  t.same(subsets.map((s) => s.ports), [[{ name: 'a', port: 8080, protocol: 'TCP' }, { name: 'b', port: 7000, protocol: 'TCP' }], [{ name: 'b', port: 7000, protocol: 'TCP' }]]);
  const pub = computeEndpointSubsets(svc([{ port: 80 }], true), [pod('z', '10.0.0.3', false)]);
  t.equal(pub[0].addresses?.length, 1, 'publishNotReadyAddresses');
});
