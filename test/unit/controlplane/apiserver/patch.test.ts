import t from 'tap';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, listStrategy } from '../../../../controlplane/apiserver/patch.ts';

const deployment = {
  metadata: { name: 'web', labels: { app: 'web' }, finalizers: ['a'] },
  spec: {
    replicas: 2,
    template: {
      spec: {
        containers: [
          { name: 'web', image: 'nginx:1', ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
          { name: 'sidecar', image: 'busybox', args: ['x', 'y'] },
        ],
      },
    },
  },
};

t.test('merge patch (RFC 7386)', async (t) => {
  const cases: [string, unknown, unknown, unknown][] = [
    ['sets a field', { a: 1 }, { b: 2 }, { a: 1, b: 2 }],
    ['null deletes', { a: 1, b: 2 }, { b: null }, { a: 1 }],
    ['nested merge', { a: { x: 1, y: 2 } }, { a: { y: null, z: 3 } }, { a: { x: 1, z: 3 } }],
    ['arrays replace', { a: [1, 2] }, { a: [3] }, { a: [3] }],
    ['cordon', { spec: {} }, { spec: { unschedulable: true } }, { spec: { unschedulable: true } }],
    ['uncordon', { spec: { unschedulable: true } }, { spec: { unschedulable: null } }, { spec: {} }],
  ];
  for (const [name, doc, patch, want] of cases) t.same(applyMergePatch(doc, patch), want, name);
});

t.test('json patch (RFC 6902)', async (t) => {
  const doc = { metadata: { annotations: { a: '1' } }, spec: { list: [1, 2, 3], template: { x: 1 } } };
  const cases: [string, unknown[], unknown][] = [
    ['replace template', [{ op: 'replace', path: '/spec/template', value: { y: 2 } }], { ...doc, spec: { ...doc.spec, template: { y: 2 } } }],
    ['replace annotations', [{ op: 'replace', path: '/metadata/annotations', value: { b: '2' } }], { ...doc, metadata: { annotations: { b: '2' } } }],
    ['add to end', [{ op: 'add', path: '/spec/list/-', value: 4 }], { ...doc, spec: { ...doc.spec, list: [1, 2, 3, 4] } }],
    ['insert', [{ op: 'add', path: '/spec/list/0', value: 0 }], { ...doc, spec: { ...doc.spec, list: [0, 1, 2, 3] } }],
    ['remove', [{ op: 'remove', path: '/spec/list/1' }], { ...doc, spec: { ...doc.spec, list: [1, 3] } }],
    ['escaped key', [{ op: 'add', path: '/metadata/annotations/a~1b', value: 'x' }], { ...doc, metadata: { annotations: { a: '1', 'a/b': 'x' } } }],
    ['move', [{ op: 'move', from: '/spec/template', path: '/spec/moved' }], { ...doc, spec: { list: [1, 2, 3], moved: { x: 1 } } }],
  ];
  for (const [name, ops, want] of cases) t.same(applyJsonPatch(doc, ops), want, name);
  t.throws(() => applyJsonPatch(doc, [{ op: 'test', path: '/spec/template/x', value: 2 }]), /testing value/, 'failed test op');
  t.throws(() => applyJsonPatch(doc, [{ op: 'replace', path: '/spec/nope', value: 2 }]), /missing value/, 'replace of a missing key');
  t.same(doc.spec.list, [1, 2, 3], 'input untouched');
});

t.test('strategic merge patch', async (t) => {
  const containers = (o: unknown): any[] => (o as any).spec.template.spec.containers;
  t.test('set image merges containers by name', async (t) => {
    const out = applyStrategicMergePatch('Deployment', deployment, { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:2' }] } } } });
    t.equal(containers(out).length, 2);
    t.equal(containers(out)[0].image, 'nginx:2');
    t.same(containers(out)[0].ports, [{ containerPort: 80 }], 'other fields kept');
    t.equal(containers(out)[1].image, 'busybox');
  });
  t.test('$patch delete drops a container', async (t) => {
    const out = applyStrategicMergePatch('Deployment', deployment, { spec: { template: { spec: { containers: [{ $patch: 'delete', name: 'sidecar' }] } } } });
    t.same(containers(out).map((c) => c.name), ['web']);
  });
  t.test('env merges by name, null deletes a field', async (t) => {
    const out = applyStrategicMergePatch('Deployment', deployment, { spec: { replicas: null, template: { spec: { containers: [{ name: 'web', env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }] }] } } } });
    t.same(containers(out)[0].env, [{ name: 'A', value: '1' }, { name: 'B', value: '3' }, { name: 'C', value: '4' }]);
    t.notOk('replicas' in (out as any).spec);
  });
  t.test('primitive lists replace, finalizers merge as a set', async (t) => {
    const out = applyStrategicMergePatch('Deployment', deployment, { metadata: { finalizers: ['b', 'a'] }, spec: { template: { spec: { containers: [{ name: 'sidecar', args: ['z'] }] } } } });
    t.same((out as any).metadata.finalizers, ['a', 'b']);
    t.same(containers(out)[1].args, ['z']);
  });
  t.test('$setElementOrder orders the merged list', async (t) => {
    const out = applyStrategicMergePatch('Deployment', deployment, { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'web' }], containers: [{ name: 'web', image: 'x' }] } } } });
    t.same(containers(out).map((c) => c.name), ['sidecar', 'web']);
  });
  t.test('$retainKeys and $patch replace', async (t) => {
    const strategy = { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } } };
    const out = applyStrategicMergePatch('Deployment', strategy, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } } });
    t.same(out, { spec: { strategy: { type: 'Recreate' } } });
    const rep = applyStrategicMergePatch('Deployment', deployment, { spec: { template: { spec: { $patch: 'replace', containers: [{ name: 'only', image: 'i' }] } } } });
    t.same((rep as any).spec.template.spec, { containers: [{ name: 'only', image: 'i' }] });
  });
  t.test('$deleteFromPrimitiveList', async (t) => {
    const out = applyStrategicMergePatch('Deployment', deployment, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } });
    t.same((out as any).metadata.finalizers, []);
  });
  t.test('new list elements lose their directives', async (t) => {
    const out = applyStrategicMergePatch('Pod', { spec: {} }, { spec: { containers: [{ name: 'a', image: 'i' }, { $patch: 'delete', name: 'b' }] } });
    t.same(out, { spec: { containers: [{ name: 'a', image: 'i' }] } });
  });
  t.test('service ports merge by port, node taints are replaced', async (t) => {
    const svc = { spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } };
    t.same(applyStrategicMergePatch('Service', svc, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }), { spec: { ports: [{ port: 80, targetPort: 9090 }, { port: 443 }] } });
    const node = { spec: { taints: [{ key: 'a', effect: 'NoSchedule' }, { key: 'b', effect: 'NoExecute' }] } };
    t.same(applyStrategicMergePatch('Node', node, { spec: { taints: [{ key: 'b', effect: 'NoExecute' }] } }), { spec: { taints: [{ key: 'b', effect: 'NoExecute' }] } }, 'kubectl taint a- sends what remains');
  });
});

t.test('list strategies by path', async (t) => {
  const cases: [string, string, string[], unknown][] = [
    ['container ports', 'Pod', ['spec', 'containers', 'ports'], { kind: 'merge', key: 'containerPort' }],
    ['service ports', 'Service', ['spec', 'ports'], { kind: 'merge', key: 'port' }],
    ['volume mounts', 'Deployment', ['spec', 'template', 'spec', 'containers', 'volumeMounts'], { kind: 'merge', key: 'mountPath' }],
    ['conditions', 'Node', ['status', 'conditions'], { kind: 'merge', key: 'type' }],
    ['owner references', 'Pod', ['metadata', 'ownerReferences'], { kind: 'merge', key: 'uid' }],
    ['tolerations replace', 'Pod', ['spec', 'tolerations'], { kind: 'replace' }],
    ['endpoint ports replace', 'Endpoints', ['subsets', 'ports'], { kind: 'replace' }],
  ];
  for (const [name, kind, path, want] of cases) t.same(listStrategy(kind, path), want, name);
});
