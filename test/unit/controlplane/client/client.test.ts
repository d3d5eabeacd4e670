import t from 'tap';
import { ApiClient } from '../../../../controlplane/client/client.ts';
import { isConflict, isExpired, isNotFound } from '../../../../controlplane/client/errors.ts';
import { DEPLOYMENTS, NODES, PODS } from '../../../../controlplane/client/resources.ts';
import type { Pod } from '../../../../controlplane/client/types.ts';
import { FakeTransport } from './fake-transport.ts';

function setup(): { client: ApiClient; transport: FakeTransport } {
  const transport = new FakeTransport();
  return { client: new ApiClient({ server: 'https://127.0.0.1:1' }, { transport }), transport };
}

const pod = (name: string): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'x' }] } });

t.test('verbs map to methods, paths, query strings and content types', async (t) => {
  const { client, transport } = setup();
  transport.handler = (req) => ({ status: req.method === 'POST' ? 201 : 200, body: req.body === undefined ? { metadata: {} } : JSON.parse(req.body) });
  await client.get(PODS, 'web', { namespace: 'default' });
  await client.list(PODS, { namespace: 'default', labelSelector: 'app=web', fieldSelector: 'spec.nodeName=n1', limit: 10 });
  await client.create(PODS, pod('web'));
  await client.update(PODS, pod('web'));
  await client.updateStatus(PODS, pod('web'));
  await client.patch(DEPLOYMENTS, 'd', { spec: { replicas: 2 } }, { namespace: 'ns' });
  await client.patchStatus(PODS, 'web', { status: {} }, { namespace: 'default', type: 'strategic' });
  await client.patch(NODES, 'n1', [{ op: 'replace', path: '/spec/unschedulable', value: true }], { type: 'json' });
  await client.delete(PODS, 'web', { namespace: 'default', propagationPolicy: 'Foreground', preconditions: { uid: 'u1' } });
  await client.bind({ namespace: 'default', pod: 'web', node: 'n1', uid: 'u1' });
  const seen = transport.requests.map((r) => `${r.method} ${r.path} ${r.contentType ?? ''}`.trim());
  t.same(seen, [
    'GET /api/v1/namespaces/default/pods/web',
    'GET /api/v1/namespaces/default/pods?labelSelector=app%3Dweb&fieldSelector=spec.nodeName%3Dn1&limit=10',
    'POST /api/v1/namespaces/default/pods',
    'PUT /api/v1/namespaces/default/pods/web',
    'PUT /api/v1/namespaces/default/pods/web/status',
    'PATCH /apis/apps/v1/namespaces/ns/deployments/d application/merge-patch+json',
    'PATCH /api/v1/namespaces/default/pods/web/status application/strategic-merge-patch+json',
    'PATCH /api/v1/nodes/n1 application/json-patch+json',
    'DELETE /api/v1/namespaces/default/pods/web',
    'POST /api/v1/namespaces/default/pods/web/binding',
  ]);
  t.same(JSON.parse(transport.requests[8].body!), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground', preconditions: { uid: 'u1' } });
  t.match(JSON.parse(transport.requests[9].body!), { kind: 'Binding', metadata: { name: 'web', uid: 'u1' }, target: { kind: 'Node', name: 'n1' } });
});

t.test('errors carry their kind; tryGet turns 404 into undefined', async (t) => {
  const { client, transport } = setup();
  transport.handler = (req) => req.method === 'GET'
    ? { status: 404, body: { kind: 'Status', code: 404, reason: 'NotFound', message: 'pods "x" not found' } }
    : { status: 409, body: { kind: 'Status', code: 409, reason: 'Conflict', message: 'the object has been modified' } };
  t.equal(await client.tryGet(PODS, 'x', { namespace: 'default' }), undefined);
  await t.rejects(client.get(PODS, 'x', { namespace: 'default' }), { kind: 'notFound', message: 'get /api/v1/namespaces/default/pods/x: pods "x" not found' });
  const err = await client.update(PODS, pod('x')).catch((e: unknown) => e);
  t.ok(isConflict(err));
  t.notOk(isNotFound(err));
  await t.rejects(client.update(PODS, { ...pod('x'), metadata: {} }), { message: 'update pods: object has no metadata.name' });
});

t.test('listAll follows continue tokens and keeps the first resourceVersion', async (t) => {
  const { client, transport } = setup();
  transport.handler = (req) => {
    const q = new URL(req.path, 'https://x').searchParams;
    if (q.get('continue') === null) return { status: 200, body: { metadata: { resourceVersion: '7', continue: 'c1' }, items: [pod('a')] } };
    return { status: 200, body: { metadata: { resourceVersion: '7' }, items: [pod('b')] } };
  };
  const all = await client.listAll(PODS, { namespace: 'default', limit: 1 });
  t.same(all.items.map((p) => p.metadata.name), ['a', 'b']);
  t.equal(all.metadata.resourceVersion, '7');
  t.equal(transport.requests.length, 2);
  t.match(transport.requests[1].path, /continue=c1/);
});

t.test('watch: events in order, bookmarks passed on, ERROR 410 throws expired', async (t) => {
  const { client, transport } = setup();
  const w = await client.watch(PODS, { namespace: 'default', resourceVersion: '5', allowBookmarks: true, timeoutSeconds: 60 });
  const { req, stream } = transport.streams[0];
  t.equal(req.path, '/api/v1/namespaces/default/pods?watch=true&resourceVersion=5&timeoutSeconds=60&allowWatchBookmarks=true');
  stream.push({ type: 'ADDED', object: pod('a') });
  stream.push({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } });
  stream.push({ type: 'MODIFIED', object: pod('a') });
  stream.push({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 5 (8)' } });
  const types: string[] = [];
  const err = await (async () => {
    for await (const ev of w) types.push(ev.type);
  })().catch((e: unknown) => e);
  t.same(types, ['ADDED', 'BOOKMARK', 'MODIFIED']);
  t.ok(isExpired(err));
  t.ok(stream.closed, 'the stream is closed after an error');
});

t.test('watch: a non-2xx answer is an error before any event', async (t) => {
  const { client, transport } = setup();
  transport.streamStatus = 403;
  const p = client.watch(PODS);
  await new Promise((r) => setImmediate(r));
  transport.streams[0].stream.push({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'nope' });
  transport.streams[0].stream.end();
  await t.rejects(p, { kind: 'forbidden', message: 'get /api/v1/pods: nope' });
});

t.test('watch: close() ends the iteration quietly', async (t) => {
  const { client, transport } = setup();
  const w = await client.watch(PODS);
  const done = (async () => { let n = 0; for await (const _ of w) n++; return n; })();
  transport.streams[0].stream.push({ type: 'ADDED', object: pod('a') });
  await new Promise((r) => setImmediate(r));
  w.close();
  t.equal(await done, 1);
});

t.test('https only: a plain http server URL is refused', async (t) => {
  t.throws(() => new ApiClient({ server: 'http://127.0.0.1:8080' }), { kind: 'badRequest', message: /https only/ });
});
