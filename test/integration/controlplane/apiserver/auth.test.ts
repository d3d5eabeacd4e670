// Authentication and authorization over HTTPS: anonymous and bogus tokens, the admin, and node
// identities minted by `moor server token create` with Node authorizer + NodeRestriction rules.
import t from 'tap';
import { ServerProcess, pod } from './harness.ts';
import { OPENAPI_V2_MINIMAL } from '../../../../controlplane/apiserver/discovery.ts';

t.test('authentication, discovery and the authorization matrix', async (t) => {
  const srv = new ServerProcess();
  t.teardown(() => srv.dispose());
  await srv.start();

  t.test('anonymous and bogus tokens', async (t) => {
    for (const path of ['/version', '/healthz', '/readyz', '/livez']) {
      t.equal((await srv.request(path, { token: null })).status, 200, `anonymous ${path}`);
    }
    t.match((await srv.request('/version', { token: null })).body, { major: '1', minor: '32', gitVersion: /^v1\.32\./ });
    for (const path of ['/api', '/apis', '/api/v1/namespaces', '/openapi/v2', '/metrics']) {
      const r = await srv.request(path, { token: null });
      t.equal(r.status, 401, `anonymous ${path}`);
      t.match(r.body, { kind: 'Status', reason: 'Unauthorized', code: 401 });
      t.equal((await srv.request(path, { token: 'bogus' })).status, 401, `bogus token ${path}`);
    }
  });

  t.test('discovery and openapi', async (t) => {
    const api = await srv.request('/api');
    t.match(api.body, { kind: 'APIVersions', versions: ['v1'] });
    const v1 = await srv.request('/api/v1');
    const pods = v1.body.resources.find((r: any) => r.name === 'pods');
    t.match(pods, { kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'] });
    t.match(v1.body.resources.find((r: any) => r.name === 'pods/eviction'), { group: 'policy', version: 'v1', kind: 'Eviction' });
    const apps = await srv.request('/apis/apps/v1');
    t.ok(apps.body.resources.some((r: any) => r.name === 'deployments/scale'));
    const groups = await srv.request('/apis');
    t.same(groups.body.groups.map((g: any) => g.name), ['apps', 'coordination.k8s.io', 'policy']);
    const agg = await srv.request('/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
    t.equal(agg.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    t.equal(agg.body.kind, 'APIGroupDiscoveryList');
    const openapi = await srv.request('/openapi/v2');
    t.equal(openapi.headers['content-type'], 'application/octet-stream');
    t.same(Buffer.from(openapi.text, 'latin1'), OPENAPI_V2_MINIMAL);
    t.equal((await srv.request('/openapi/v3')).status, 404);
    const metrics = await srv.request('/metrics');
    t.match(metrics.text, /^moor_apiserver_requests_total\{verb="get",resource="",code="200"\} \d+$/m);
    t.match(metrics.text, /^moor_apiserver_watches 0$/m);
    const ns = await srv.request('/api/v1/namespaces');
    t.same(ns.body.items.map((n: any) => n.metadata.name).sort(), ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
  });

  t.test('node identities', async (t) => {
    const tokenA = srv.createNodeToken('node-a');
    const tokenB = srv.createNodeToken('node-b');
    t.match(tokenA, /^[0-9a-f]{48}$/);
    t.equal(srv.createNodeToken('node-a'), tokenA, 'minting twice returns the same token');
    const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    const asA = { token: tokenA };
    t.equal((await srv.request('/api/v1/nodes', { ...asA, method: 'POST', body: node('node-a') })).status, 201, 'A registers itself');
    t.equal((await srv.request('/api/v1/nodes', { token: tokenB, method: 'POST', body: node('node-b') })).status, 201, 'B registers itself');
    const forge = await srv.request('/api/v1/nodes', { ...asA, method: 'POST', body: node('node-c') });
    t.equal(forge.status, 403, 'A cannot register another node');
    t.match(forge.body.message, /^nodes is forbidden: User "system:node:node-a" cannot create resource "nodes" in API group "" at the cluster scope: node .node-a. cannot modify node .node-c./);
    t.equal((await srv.request('/api/v1/nodes/node-a/status', { ...asA, method: 'PATCH', contentType: 'application/strategic-merge-patch+json', body: { status: { conditions: [{ type: 'Ready', status: 'False' }] } } })).status, 200, 'A patches its own status');
    const other = await srv.request('/api/v1/nodes/node-b/status', { ...asA, method: 'PATCH', contentType: 'application/merge-patch+json', body: { status: { phase: 'x' } } });
    t.equal(other.status, 403, "A cannot patch B's status");
    t.equal((await srv.request('/api/v1/nodes/node-b', { ...asA, method: 'PATCH', contentType: 'application/merge-patch+json', body: { spec: { unschedulable: true } } })).status, 403, 'A cannot cordon B');
    t.equal((await srv.request('/api/v1/nodes/node-b', { ...asA, method: 'DELETE' })).status, 403, 'A cannot delete B');
    t.equal((await srv.request('/api/v1/nodes', asA)).status, 200, 'A lists nodes');
    // Pods bound to A and to B.
    for (const [name, nodeName] of [['on-a', 'node-a'], ['on-b', 'node-b']]) {
      await srv.request('/api/v1/namespaces/default/pods', { method: 'POST', body: { ...pod(name), spec: { nodeName, containers: [{ name: 'c', image: 'busybox', envFrom: [{ secretRef: { name: `secret-${name}` } }] }] } } });
      await srv.request('/api/v1/namespaces/default/secrets', { method: 'POST', body: { metadata: { name: `secret-${name}` }, stringData: { k: 'v' } } });
    }
    const status = { status: { phase: 'Running' } };
    t.equal((await srv.request('/api/v1/namespaces/default/pods/on-a/status', { ...asA, method: 'PATCH', contentType: 'application/merge-patch+json', body: status })).status, 200, 'status of a pod bound to A');
    t.equal((await srv.request('/api/v1/namespaces/default/pods/on-b/status', { ...asA, method: 'PATCH', contentType: 'application/merge-patch+json', body: status })).status, 403, 'status of a pod bound to B');
    t.equal((await srv.request('/api/v1/namespaces/default/pods/on-b', { ...asA, method: 'DELETE' })).status, 403, 'delete of a pod bound to B');
    t.equal((await srv.request('/api/v1/namespaces/default/pods', { ...asA, method: 'POST', body: pod('sneaky') })).status, 403, 'creating pods');
    t.equal((await srv.request('/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dnode-a', asA)).status, 200, 'list own pods');
    t.equal((await srv.request('/api/v1/namespaces/default/secrets/secret-on-a', asA)).status, 200, 'secret used by its pod');
    t.equal((await srv.request('/api/v1/namespaces/default/secrets/secret-on-b', asA)).status, 403, "secret of B's pod");
    t.equal((await srv.request('/api/v1/namespaces/default/secrets', asA)).status, 403, 'listing secrets');
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'node-a' }, spec: { holderIdentity: 'node-a', leaseDurationSeconds: 40 } };
    t.equal((await srv.request('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { ...asA, method: 'POST', body: lease })).status, 201, 'own lease');
    t.equal((await srv.request('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { ...asA, method: 'POST', body: { ...lease, metadata: { name: 'node-b' } } })).status, 403, "B's lease");
    t.equal((await srv.request('/api/v1/namespaces/default/events', { ...asA, method: 'POST', body: { metadata: { name: 'e1' }, involvedObject: { kind: 'Pod', name: 'on-a', namespace: 'default' }, reason: 'Started', message: 'started' } })).status, 201, 'events');
    t.equal((await srv.request('/apis/apps/v1/namespaces/default/deployments', { ...asA, method: 'POST', body: {} })).status, 403, 'deployments');
    t.equal((await srv.request('/api/v1/namespaces/default/pods/on-a', { ...asA, method: 'DELETE', body: { gracePeriodSeconds: 0 } })).status, 200, 'A finishes deleting its pod');
    t.equal((await srv.request('/api/v1/nodes/node-b', { method: 'DELETE' })).status, 200, 'admin may do anything');
  });
});
