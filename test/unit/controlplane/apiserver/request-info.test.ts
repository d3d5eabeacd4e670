import t from 'tap';
import { parseRequestTarget } from '../../../../controlplane/apiserver/request-info.ts';

t.test('request targets', async (t) => {
  const q = (s = '') => new URLSearchParams(s);
  const pick = (x: any) => (x.type === 'resource' ? { verb: x.verb, resource: x.info.resource, namespace: x.namespace, name: x.name, subresource: x.subresource } : x);
  const cases: [string, string, string, unknown][] = [
    ['GET', '/api', '', { type: 'apiVersions' }],
    ['GET', '/apis', '', { type: 'groupList' }],
    ['GET', '/apis/apps', '', { type: 'group', group: 'apps' }],
    ['GET', '/api/v1', '', { type: 'resourceList', group: '', version: 'v1' }],
    ['GET', '/version', '', { type: 'nonResource', path: '/version' }],
    ['GET', '/api/v1/pods', '', { verb: 'list', resource: 'pods', namespace: undefined, name: undefined, subresource: undefined }],
    ['GET', '/api/v1/namespaces/default/pods', 'watch=true', { verb: 'watch', resource: 'pods', namespace: 'default', name: undefined, subresource: undefined }],
    ['GET', '/api/v1/watch/namespaces/default/pods', '', { verb: 'watch', resource: 'pods', namespace: 'default', name: undefined, subresource: undefined }],
    ['GET', '/api/v1/namespaces/default/pods/p', '', { verb: 'get', resource: 'pods', namespace: 'default', name: 'p', subresource: undefined }],
    ['PUT', '/api/v1/namespaces/default/pods/p/status', '', { verb: 'update', resource: 'pods', namespace: 'default', name: 'p', subresource: 'status' }],
    ['GET', '/api/v1/namespaces/default', '', { verb: 'get', resource: 'namespaces', namespace: undefined, name: 'default', subresource: undefined }],
    ['PUT', '/api/v1/namespaces/x/finalize', '', { verb: 'update', resource: 'namespaces', namespace: undefined, name: 'x', subresource: 'finalize' }],
    ['PATCH', '/apis/apps/v1/namespaces/d/deployments/web/scale', '', { verb: 'patch', resource: 'deployments', namespace: 'd', name: 'web', subresource: 'scale' }],
    ['DELETE', '/api/v1/namespaces/d/configmaps', '', { verb: 'deletecollection', resource: 'configmaps', namespace: 'd', name: undefined, subresource: undefined }],
    ['POST', '/api/v1/namespaces/d/pods/p/eviction', '', { verb: 'create', resource: 'pods', namespace: 'd', name: 'p', subresource: 'eviction' }],
    ['PUT', '/api/v1/nodes/n1/status', '', { verb: 'update', resource: 'nodes', namespace: undefined, name: 'n1', subresource: 'status' }],
    ['GET', '/apis/apps/v1/widgets', '', { type: 'unknownResource', group: 'apps', version: 'v1', resource: 'widgets' }],
    ['PATCH', '/api/v1/pods', '', { type: 'badMethod' }],
  ];
  for (const [method, path, query, want] of cases) t.same(pick(parseRequestTarget(method, path, q(query))), want, `${method} ${path}?${query}`);
});
