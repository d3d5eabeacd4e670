// NodeRestriction for pod creates by a node: only its own mirror pods, referring to nothing else.

import t from 'tap';
import { authorize, nodePodCreateRefusal, type Attributes, type NodeGraph } from '../../../../controlplane/apiserver/auth.ts';

const nodeA = { name: 'system:node:a', uid: 'a', groups: ['system:nodes'] };
const admin = { name: 'admin', uid: 'admin', groups: ['system:masters'] };
const nodes: Record<string, any> = { a: { metadata: { name: 'a', uid: 'uid-a' } } };
const graph: NodeGraph = {
  getPod: async () => undefined,
  podsOnNode: async () => [],
  getNode: async (name) => nodes[name],
};
const create: Attributes = { user: nodeA, verb: 'create', path: '/api/v1/namespaces/default/pods', resource: { group: '', resource: 'pods', namespace: 'default' } };

type Mutation = (p: any) => void;
function mirror(mutate: Mutation = () => undefined): any {
  const p: any = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'web-a', namespace: 'default', annotations: { 'kubernetes.io/config.mirror': 'h1' }, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'a', uid: 'uid-a', controller: true }] },
    spec: { nodeName: 'a', containers: [{ name: 'c', image: 'i' }] },
  };
  mutate(p);
  return p;
}

t.test('node pod creates', async (t) => {
  const cases: [string, Mutation, RegExp | undefined][] = [
    ['its own mirror pod', () => undefined, undefined],
    ['its own mirror pod without owner reference', (p) => delete p.metadata.ownerReferences, undefined],
    ['not a mirror pod', (p) => delete p.metadata.annotations, /does not have "kubernetes.io\/config.mirror" annotation, node "a" can only create mirror pods/],
    ['a mirror for another node', (p) => (p.spec.nodeName = 'b'), /spec.nodeName set to itself, not "b"/],
    ['an unbound mirror', (p) => delete p.spec.nodeName, /spec.nodeName set to itself/],
    ['two owner references', (p) => p.metadata.ownerReferences.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r', uid: 'r' }), /single owner reference/],
    ['owned by another node', (p) => (p.metadata.ownerReferences[0].name = 'b'), /owner reference set to itself, not Node "b"/],
    ['owned by a ReplicaSet', (p) => (p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: 'r', controller: true }]), /owner reference set to itself/],
    ['owner not the controller', (p) => (p.metadata.ownerReferences[0].controller = false), /controller owner reference/],
    ['blockOwnerDeletion', (p) => (p.metadata.ownerReferences[0].blockOwnerDeletion = true), /must not set blockOwnerDeletion/],
    ['the wrong node UID', (p) => (p.metadata.ownerReferences[0].uid = 'old'), /UID mismatch: expected uid-a got old/],
    ['a service account', (p) => (p.spec.serviceAccountName = 'default'), /reference a service account/],
    ['a secret volume', (p) => (p.spec.volumes = [{ name: 'v', secret: { secretName: 's' } }]), /reference secrets \(s\)/],
    ['an image pull secret', (p) => (p.spec.imagePullSecrets = [{ name: 'pull' }]), /reference secrets \(pull\)/],
    ['a secret env', (p) => (p.spec.containers[0].env = [{ name: 'E', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }]), /reference secrets/],
    ['a config map volume', (p) => (p.spec.volumes = [{ name: 'v', configMap: { name: 'cm' } }]), /reference configmaps \(cm\)/],
    ['a config map in envFrom', (p) => (p.spec.containers[0].envFrom = [{ configMapRef: { name: 'cm' } }]), /reference configmaps/],
    ['a persistent volume claim', (p) => (p.spec.volumes = [{ name: 'v', persistentVolumeClaim: { claimName: 'c' } }]), /persistentvolumeclaims \(volume "v"\)/],
    ['a generic ephemeral volume', (p) => (p.spec.volumes = [{ name: 'v', ephemeral: {} }]), /generic ephemeral volumes/],
    ['a service account token', (p) => (p.spec.volumes = [{ name: 'v', projected: { sources: [{ serviceAccountToken: { path: 't' } }] } }]), /service account tokens/],
    ['a hostPath volume is fine', (p) => (p.spec.volumes = [{ name: 'v', hostPath: { path: '/etc' } }]), undefined],
  ];
  for (const [name, mutate, refused] of cases) {
    const d = await authorize(create, graph, 'web-a', mirror(mutate));
    if (refused === undefined) t.ok(d.allowed, `${name}: allowed`);
    else t.match(d, { allowed: false, reason: refused }, `${name}: refused`);
  }
  t.match(await authorize(create, graph, 'web-a'), { allowed: false }, 'no body: refused');
  t.match(await authorize(create, { ...graph, getNode: async () => undefined }, 'web-a', mirror()), { allowed: false, reason: /node that does not exist/ }, 'its Node missing: refused');
  t.ok((await authorize({ ...create, user: admin }, graph, 'x', mirror((p) => (p.spec.nodeName = 'b')))).allowed, 'an admin may create any mirror pod');
  t.notOk((await authorize({ ...create, verb: 'update', resource: { ...create.resource!, name: 'web-a' } }, graph, undefined, mirror())).allowed, 'updates stay refused');
});

t.test('nodePodCreateRefusal without a body', async (t) => {
  t.match(nodePodCreateRefusal('a', undefined), /can only create mirror pods/);
  t.match(nodePodCreateRefusal('a', 'x'), /can only create mirror pods/);
});
