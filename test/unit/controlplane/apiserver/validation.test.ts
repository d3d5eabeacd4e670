import t from 'tap';
import { validateObject } from '../../../../controlplane/apiserver/validation.ts';
import { invalid } from '../../../../controlplane/apiserver/errors.ts';

const pod = () => ({ metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
const deploy = () => ({
  metadata: { name: 'web', namespace: 'default' },
  spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
});

t.test('object rules name the bad fields', async (t) => {
  const cases: [string, string, Record<string, any>, string[]][] = [
    ['valid pod', 'Pod', pod(), []],
    ['missing image', 'Pod', { ...pod(), spec: { containers: [{ name: 'c' }] } }, ['spec.containers[0].image']],
    ['no containers', 'Pod', { ...pod(), spec: { containers: [] } }, ['spec.containers']],
    ['duplicate container', 'Pod', { ...pod(), spec: { containers: [{ name: 'c', image: 'i' }, { name: 'c', image: 'i' }] } }, ['spec.containers[1].name']],
    ['bad name', 'Pod', { ...pod(), metadata: { name: 'Bad_Name', namespace: 'default' } }, ['metadata.name']],
    ['bad port', 'Pod', { ...pod(), spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 70000 }] }] } }, ['spec.containers[0].ports[0].containerPort']],
    ['unknown mount', 'Pod', { ...pod(), spec: { containers: [{ name: 'c', image: 'i', volumeMounts: [{ name: 'v', mountPath: '/x' }] }] } }, ['spec.containers[0].volumeMounts[0].name']],
    ['valid deployment', 'Deployment', deploy(), []],
    ['selector mismatch', 'Deployment', { ...deploy(), spec: { ...deploy().spec, selector: { matchLabels: { app: 'other' } } } }, ['spec.template.metadata.labels']],
    ['negative replicas', 'Deployment', { ...deploy(), spec: { ...deploy().spec, replicas: -1 } }, ['spec.replicas']],
    ['service without ports', 'Service', { metadata: { name: 's', namespace: 'default' }, spec: {} }, ['spec.ports']],
    ['headless service', 'Service', { metadata: { name: 's', namespace: 'default' }, spec: { clusterIP: 'None' } }, []],
    ['namespace is a label', 'Namespace', { metadata: { name: 'a.b' } }, ['metadata.name']],
    ['bad label value', 'ConfigMap', { metadata: { name: 'c', namespace: 'default', labels: { a: 'has space' } } }, ['metadata.labels']],
    ['bad secret data', 'Secret', { metadata: { name: 's', namespace: 'default' }, data: { k: '***' } }, ['data[k]']],
  ];
  for (const [name, kind, o, fields] of cases) {
    t.same(validateObject(kind, o, kind !== 'Namespace').map((e) => e.field), fields, name);
  }
});

t.test('update rules', async (t) => {
  const old = { ...pod(), spec: { containers: [{ name: 'c', image: 'busybox' }] } };
  t.same(validateObject('Pod', { ...pod(), spec: { containers: [{ name: 'c', image: 'busybox:2' }] } }, true, old), [], 'image may change');
  t.same(validateObject('Pod', { ...pod(), spec: { containers: [{ name: 'c', image: 'busybox', command: ['x'] }] } }, true, old).map((e) => e.field), ['spec'], 'command may not');
  t.same(validateObject('Deployment', { ...deploy(), spec: { ...deploy().spec, selector: { matchLabels: { app: 'web', x: 'y' } }, template: { metadata: { labels: { app: 'web', x: 'y' } }, spec: deploy().spec.template.spec } } }, true, deploy()).map((e) => e.field), ['spec.selector'], 'selector is immutable');
});

t.test('422 message', async (t) => {
  const err = invalid({ kind: 'Deployment', group: 'apps', name: 'x', errors: validateObject('Deployment', { metadata: { name: 'x', namespace: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c' }] } } } }, true) });
  t.equal(err.httpCode, 422);
  t.equal(err.message, 'Deployment.apps "x" is invalid: spec.template.spec.containers[0].image: Required value');
  t.equal(err.toStatus().details?.causes?.[0].field, 'spec.template.spec.containers[0].image');
});
