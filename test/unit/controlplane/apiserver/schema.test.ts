import t from 'tap';
import { decodeMessage, encodeMessage, messageTypeOf, unknownFields } from '../../../../controlplane/apiserver/schema.ts';
import { checkUnknownFields } from '../../../../controlplane/apiserver/field-validation.ts';
import { decodeProtobufBody, encodeProtobufBody } from '../../../../controlplane/apiserver/protobuf.ts';

t.test('unknown fields by JSON path', async (t) => {
  const d = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', labels: { a: 'b' }, bogusMeta: 1 },
    spec: {
      replica: 3, replicas: 1, selector: { matchLabels: { a: 'b' } }, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } },
      template: {
        metadata: { labels: { a: 'b' }, creationTimestamp: null },
        spec: {
          containers: [{ name: 'c', image: 'i', foo: 1, resources: { limits: { cpu: '1' } }, livenessProbe: { httpGet: { port: 80, path: '/' }, periodSeconds: 3, nope: true }, env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }] }],
          volumes: [{ name: 'v', configMap: { name: 'cm', defaultMode: 420 } }, { name: 'n', nfs: { server: 's', path: '/' } }, { name: 'h', hostPath: { path: '/x', typo: 1 } }],
          affinity: { nodeAffinity: { anything: 'goes' } },
        },
      },
    },
    status: {},
  };
  t.same(checkUnknownFields('apps/v1', 'Deployment', d).sort(), [
    'metadata.bogusMeta', 'spec.replica', 'spec.template.spec.containers[0].foo', 'spec.template.spec.containers[0].livenessProbe.nope', 'spec.template.spec.volumes[2].hostPath.typo',
  ]);
  t.same(checkUnknownFields('v1', 'Pod', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i', envFrom: [{ secretRef: { name: 's' } }] }] } }), []);
  t.same(checkUnknownFields('v1', 'Service', { spec: { ports: [{ port: 80, targetPort: 'http', nodePort: 30001 }], type: 'NodePort', selektor: {} } }), ['spec.selektor']);
  t.same(checkUnknownFields('v1', 'Widget', { anything: 1 }), [], 'no schema, no check');
  t.ok(messageTypeOf('policy/v1beta1', 'Eviction'), 'eviction in both versions');
  t.same(unknownFields(messageTypeOf('v1', 'ConfigMap')!, { data: { a: 'b' }, binaryData: {}, immutable: true, extra: 1 }), ['extra']);
});

t.test('protobuf bodies decode into the JSON shape', async (t) => {
  const ns = encodeMessage('k8s.io.api.core.v1.Namespace', { metadata: { name: 'team-a', generateName: '', namespace: '', creationTimestamp: {} }, spec: {}, status: {} });
  const body = encodeProtobufBody({ apiVersion: 'v1', kind: 'Namespace', message: ns, encodeUnknown: (v) => encodeMessage('k8s.io.apimachinery.pkg.runtime.Unknown', v) });
  t.same(body.subarray(0, 4), Buffer.from('k8s\0'));
  t.same(decodeProtobufBody(body), { metadata: { name: 'team-a' }, spec: {}, status: {}, apiVersion: 'v1', kind: 'Namespace' });
  // The exact bytes kubectl 1.32 sends for `create namespace team-a` (contract §1).
  const hex = (s: string) => Buffer.from(s).toString('hex');
  const kubectlBytes = Buffer.from(`6b387300 0a0f 0a02${hex('v1')} 1209${hex('Namespace')} 121c 0a16 0a06${hex('team-a')} 1200 1a00 2200 2a00 3200 3800 4200 1200 1a00`.replace(/ /g, ''), 'hex');
  t.same(decodeProtobufBody(kubectlBytes), { metadata: { name: 'team-a' }, spec: {}, status: {}, apiVersion: 'v1', kind: 'Namespace' }, 'the bytes kubectl 1.32 sends for create namespace');
  const deploy = encodeMessage('k8s.io.api.apps.v1.Deployment', {
    metadata: { name: 'web', labels: { app: 'web' }, creationTimestamp: { seconds: 1700000000 } },
    spec: {
      replicas: 0, selector: { matchLabels: { app: 'web' } }, strategy: { rollingUpdate: { maxSurge: { type: 1, strVal: '25%' }, maxUnavailable: { type: 0, intVal: 1 } } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }], resources: { limits: { cpu: { string: '500m' } } }, stdin: false }] } },
    },
  });
  const d = decodeMessage(messageTypeOf('apps/v1', 'Deployment')!, deploy);
  t.same(d, {
    metadata: { name: 'web', creationTimestamp: '2023-11-14T22:13:20Z', labels: { app: 'web' } },
    spec: {
      replicas: 0, selector: { matchLabels: { app: 'web' } }, strategy: { rollingUpdate: { maxUnavailable: 1, maxSurge: '25%' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }], resources: { limits: { cpu: '500m' } } }] } },
    },
  }, 'zero replicas kept (a pointer), zero stdin dropped, quantities and int-or-strings as JSON');
  const secret = encodeMessage('k8s.io.api.core.v1.Secret', { metadata: { name: 's' }, data: { k: Buffer.from('v') }, type: 'Opaque' });
  t.same(decodeMessage(messageTypeOf('v1', 'Secret')!, secret), { metadata: { name: 's' }, data: { k: 'dg==' }, type: 'Opaque' });
  const cmRef = encodeMessage('k8s.io.api.core.v1.Volume', { name: 'v', volumeSource: { configMap: { localObjectReference: { name: 'cm' }, defaultMode: 420 } } });
  t.same(decodeMessage(messageTypeOf('v1', 'Volume')!, cmRef), { name: 'v', configMap: { name: 'cm', defaultMode: 420 } }, 'inlined structs merge into the parent');
  t.throws(() => decodeProtobufBody(Buffer.from('nope')), /magic/);
});

t.test('duplicate keys in JSON text', async (t) => {
  const { findDuplicateKeys } = await import('../../../../controlplane/apiserver/field-validation.ts');
  t.same(findDuplicateKeys('{"a":1,"b":{"c":1,"c":2},"a":3}'), ['b.c', 'a']);
  t.same(findDuplicateKeys('{"spec":{"containers":[{"name":"x","image":"i"},{"name":"y","name":"z"}]}}'), ['spec.containers[1].name']);
  t.same(findDuplicateKeys('{"a":"has \\"quoted\\" text, and {braces}","b":["x,y",{"c":1}],"d":{"c":1}}'), []);
  t.same(findDuplicateKeys('{"a\\u0062":1,"ab":2}'), ['ab'], 'escaped keys compare decoded');
});
