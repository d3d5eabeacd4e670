import t from 'tap';
import { apiVersionOf, DEPLOYMENTS, LEASES, NODES, objectKey, PODS, resourceForKind, resourcePath, splitKey } from '../../../../controlplane/client/resources.ts';

t.test('resourcePath builds core and group paths, scoped or not', async (t) => {
  const cases: [string, string, string][] = [
    ['pod in a namespace', resourcePath(PODS, { namespace: 'default', name: 'web' }), '/api/v1/namespaces/default/pods/web'],
    ['pod status', resourcePath(PODS, { namespace: 'default', name: 'web', subresource: 'status' }), '/api/v1/namespaces/default/pods/web/status'],
    ['pods in all namespaces', resourcePath(PODS), '/api/v1/pods'],
    ['node ignores a namespace', resourcePath(NODES, { namespace: 'x', name: 'n1' }), '/api/v1/nodes/n1'],
    ['deployments', resourcePath(DEPLOYMENTS, { namespace: 'team-a' }), '/apis/apps/v1/namespaces/team-a/deployments'],
    ['lease', resourcePath(LEASES, { namespace: 'kube-node-lease', name: 'n1' }), '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1'],
    ['names are escaped', resourcePath(PODS, { namespace: 'a', name: 'x y' }), '/api/v1/namespaces/a/pods/x%20y'],
  ];
  for (const [name, got, want] of cases) t.equal(got, want, name);
});

t.test('keys and kinds', async (t) => {
  t.equal(objectKey({ metadata: { namespace: 'default', name: 'web' } }), 'default/web');
  t.equal(objectKey({ metadata: { name: 'n1' } }), 'n1');
  t.same(splitKey('default/web'), { namespace: 'default', name: 'web' });
  t.same(splitKey('n1'), { name: 'n1' });
  t.equal(apiVersionOf(DEPLOYMENTS), 'apps/v1');
  t.equal(apiVersionOf(PODS), 'v1');
  t.equal(resourceForKind('apps/v1', 'ReplicaSet')?.plural, 'replicasets');
  t.equal(resourceForKind('v1', 'Node')?.plural, 'nodes');
  t.equal(resourceForKind('example.com/v1', 'Widget'), undefined);
});
