import t from 'tap';
import { authorize, forbiddenError, podReferences, type Attributes, type NodeGraph } from '../../../../controlplane/apiserver/auth.ts';
import { parseTokenFile } from '../../../../controlplane/apiserver/tokens.ts';

const admin = { name: 'admin', uid: 'admin', groups: ['system:masters'] };
const nodeA = { name: 'system:node:a', uid: 'a', groups: ['system:nodes'] };
const other = { name: 'bob', uid: 'bob', groups: [] };

const pods: Record<string, any> = {
  'default/on-a': { metadata: { name: 'on-a', namespace: 'default' }, spec: { nodeName: 'a', volumes: [{ name: 'v', secret: { secretName: 's1' } }], containers: [{ name: 'c', envFrom: [{ configMapRef: { name: 'cm1' } }] }] } },
  'default/on-b': { metadata: { name: 'on-b', namespace: 'default' }, spec: { nodeName: 'b', volumes: [{ name: 'v', secret: { secretName: 's2' } }], containers: [{ name: 'c' }] } },
};
const graph: NodeGraph = {
  getPod: async (ns, name) => pods[`${ns}/${name}`],
  podsOnNode: async (node) => Object.values(pods).filter((p) => p.spec.nodeName === node),
};

function attrs(user: typeof admin, verb: string, resource: string, o: { group?: string; sub?: string; ns?: string; name?: string } = {}): Attributes {
  return { user, verb, path: '/x', resource: { group: o.group ?? '', resource, subresource: o.sub, namespace: o.ns, name: o.name } };
}

t.test('authorization matrix', async (t) => {
  const cases: [string, Attributes, boolean, string?][] = [
    ['admin anything', attrs(admin, 'delete', 'nodes', { name: 'b' }), true],
    ['node reads nodes', attrs(nodeA, 'list', 'nodes'), true],
    ['node patches itself', attrs(nodeA, 'patch', 'nodes', { name: 'a' }), true],
    ['node updates own status', attrs(nodeA, 'update', 'nodes', { sub: 'status', name: 'a' }), true],
    ['node patches another node', attrs(nodeA, 'patch', 'nodes', { name: 'b' }), false],
    ['node status of another', attrs(nodeA, 'update', 'nodes', { sub: 'status', name: 'b' }), false],
    ['node watches pods', attrs(nodeA, 'watch', 'pods'), true],
    ['status of own pod', attrs(nodeA, 'patch', 'pods', { sub: 'status', ns: 'default', name: 'on-a' }), true],
    ['status of pod on b', attrs(nodeA, 'patch', 'pods', { sub: 'status', ns: 'default', name: 'on-b' }), false],
    ['delete own pod', attrs(nodeA, 'delete', 'pods', { ns: 'default', name: 'on-a' }), true],
    ['delete pod on b', attrs(nodeA, 'delete', 'pods', { ns: 'default', name: 'on-b' }), false],
    ['create pods', attrs(nodeA, 'create', 'pods', { ns: 'default' }), false],
    ['update pod spec', attrs(nodeA, 'update', 'pods', { ns: 'default', name: 'on-a' }), false],
    ['secret of own pod', attrs(nodeA, 'get', 'secrets', { ns: 'default', name: 's1' }), true],
    ['secret of pod on b', attrs(nodeA, 'get', 'secrets', { ns: 'default', name: 's2' }), false],
    ['list secrets', attrs(nodeA, 'list', 'secrets', { ns: 'default' }), false],
    ['configmap of own pod', attrs(nodeA, 'get', 'configmaps', { ns: 'default', name: 'cm1' }), true],
    ['own lease', attrs(nodeA, 'update', 'leases', { group: 'coordination.k8s.io', ns: 'kube-node-lease', name: 'a' }), true],
    ['lease of b', attrs(nodeA, 'update', 'leases', { group: 'coordination.k8s.io', ns: 'kube-node-lease', name: 'b' }), false],
    ['events', attrs(nodeA, 'create', 'events', { ns: 'default' }), true],
    ['deployments write', attrs(nodeA, 'create', 'deployments', { group: 'apps', ns: 'default' }), false],
    ['other user resources', attrs(other, 'get', 'pods', { ns: 'default', name: 'x' }), false],
    ['other user discovery', { user: other, verb: 'get', path: '/apis' }, true],
  ];
  for (const [name, a, want] of cases) t.equal((await authorize(a, graph)).allowed, want, name);
  t.ok((await authorize(attrs(nodeA, 'create', 'nodes'), graph, 'a')).allowed, 'node creates itself (name from body)');
  t.notOk((await authorize(attrs(nodeA, 'create', 'nodes'), graph, 'b')).allowed, 'node cannot create another');
});

t.test('forbidden message', async (t) => {
  const err = forbiddenError(attrs(nodeA, 'patch', 'nodes', { name: 'b' }), "node 'a' cannot modify node 'b'");
  t.equal(err.httpCode, 403);
  t.equal(err.message, 'nodes "b" is forbidden: User "system:node:a" cannot patch resource "nodes" in API group "" at the cluster scope: node \'a\' cannot modify node \'b\'');
});

t.test('pod references', async (t) => {
  const refs = podReferences(pods['default/on-a']);
  t.same([...refs.secrets], ['s1']);
  t.same([...refs.configMaps], ['cm1']);
});

t.test('token file', async (t) => {
  const tokens = parseTokenFile('# comment\nabc,admin,admin,"system:masters"\n\ndef,system:node:a,a,"system:nodes,extra"\n', 'f');
  t.same(tokens.get('abc'), { name: 'admin', uid: 'admin', groups: ['system:masters'] });
  t.same(tokens.get('def')?.groups, ['system:nodes', 'extra']);
  t.throws(() => parseTokenFile('onlytoken\n', 'f'), /line 1/);
});
