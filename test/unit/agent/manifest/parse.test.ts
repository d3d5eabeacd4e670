import t from 'tap';
import { ANNOTATION_CONFIG_SOURCE, parseManifest } from '../../../../agent/manifest/parse.ts';

const opts = { nodeName: 'node1', path: '/etc/moor/manifests/web.yaml' };

t.test('several YAML documents, static pod identity', async (t) => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: app, image: "reg/app:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: data, uid: fixed-uid}
spec:
  containers: [{name: db, image: "reg/db:1"}]
---
`;
  const r = parseManifest(text, opts);
  t.same(r.problems, []);
  t.equal(r.pods.length, 2);
  t.equal(r.pods[0].metadata.name, 'web-node1');
  t.match(r.pods[0].metadata.uid, /^[0-9a-f]{32}$/);
  t.equal(r.pods[0].spec.nodeName, 'node1');
  t.equal(r.pods[0].metadata.annotations?.[ANNOTATION_CONFIG_SOURCE], 'file');
  t.equal(r.pods[1].metadata.uid, 'fixed-uid', 'an explicit uid is kept');
  t.equal(r.pods[1].metadata.namespace, 'data');
});

t.test('JSON and List documents', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' }, spec: { containers: [{ name: 'c', image: 'i:1' }] } };
  t.equal(parseManifest(JSON.stringify(pod), opts).pods.length, 1);
  const list = { apiVersion: 'v1', kind: 'List', items: [pod, { ...pod, metadata: { name: 'b' } }] };
  t.same(parseManifest(JSON.stringify(list), opts).pods.map((p) => p.metadata.name), ['a-node1', 'b-node1']);
});

t.test('the uid follows the content, the file and the node', async (t) => {
  const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: "i:1"}]}\n';
  const uid = parseManifest(text, opts).pods[0].metadata.uid;
  t.equal(parseManifest(text, opts).pods[0].metadata.uid, uid, 'stable');
  t.not(parseManifest(text.replace('i:1', 'i:2'), opts).pods[0].metadata.uid, uid, 'content');
  t.not(parseManifest(text, { ...opts, path: '/other.yaml' }).pods[0].metadata.uid, uid, 'file');
  t.not(parseManifest(text, { ...opts, nodeName: 'node2' }).pods[0].metadata.uid, uid, 'node');
  t.equal(parseManifest(text.replace('{name: a}', '{name: a, labels: {}}'), opts).pods[0].metadata.uid === uid, false, 'any change');
});

t.test('an invalid document is a problem; the others still load', async (t) => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: good}
spec: {containers: [{name: c, image: "i:1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec: {containers: [{name: c}]}
`;
  const r = parseManifest(text, opts);
  t.same(r.pods.map((p) => p.metadata.name), ['good-node1']);
  t.same(r.problems, [{ document: 2, errors: ['spec.containers[0].image: Required value'] }]);
});

t.test('a YAML syntax error makes the file a problem', async (t) => {
  const r = parseManifest('apiVersion: v1\nkind: [Pod\n', opts);
  t.equal(r.pods.length, 0);
  t.equal(r.problems.length, 1);
  t.equal(r.problems[0].document, 0);
  t.match(r.problems[0].errors[0], /^parse document 1: /);
});
