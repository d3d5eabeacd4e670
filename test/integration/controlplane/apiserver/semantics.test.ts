// REST semantics of `moor server` over HTTPS, against both stores: CRUD, optimistic concurrency,
// metadata, defaults, validation, selectors, paging, subresources, deletion rules.
import t, { type Test } from 'tap';
import { ServerProcess, pod, deployment } from './harness.ts';
import { etcdMissing, startEtcd, type EtcdServer } from '../../../helpers/etcd.ts';
import { waitFor } from '../../../../common/wait.ts';

const NS = '/api/v1/namespaces/default';
const APPS = '/apis/apps/v1/namespaces/default';

async function semantics(t: Test, srv: ServerProcess): Promise<void> {
  t.test('create, get, AlreadyExists, metadata', async (t) => {
    const r = await srv.request(`${NS}/pods`, { method: 'POST', body: pod('m1') });
    t.equal(r.status, 201);
    t.match(r.body.metadata, { name: 'm1', namespace: 'default', uid: /^[0-9a-f-]{36}$/, resourceVersion: /^\d+$/, creationTimestamp: /Z$/, generation: 1 });
    t.equal(r.body.spec.containers[0].imagePullPolicy, 'IfNotPresent', 'defaults applied');
    t.equal(r.body.status.phase, 'Pending');
    const g = await srv.request(`${NS}/pods/m1`);
    t.equal(g.body.metadata.resourceVersion, r.body.metadata.resourceVersion);
    const dup = await srv.request(`${NS}/pods`, { method: 'POST', body: pod('m1') });
    t.equal(dup.status, 409);
    t.match(dup.body, { kind: 'Status', reason: 'AlreadyExists', message: 'pods "m1" already exists' });
    const missing = await srv.request(`${APPS}/deployments/nope`);
    t.match(missing.body, { code: 404, reason: 'NotFound', message: 'deployments.apps "nope" not found' });
    const gen = await srv.request(`${NS}/pods`, { method: 'POST', body: { ...pod(''), metadata: { generateName: 'gen-' } } });
    t.match(gen.body.metadata.name, /^gen-[a-z0-9]{5}$/);
    const noNs = await srv.request('/api/v1/namespaces/nope/configmaps', { method: 'POST', body: { metadata: { name: 'c' } } });
    t.match(noNs.body, { code: 404, message: 'namespaces "nope" not found' });
  });

  t.test('update: conflict on stale resourceVersion, generation on spec change only', async (t) => {
    const created = (await srv.request(`${APPS}/deployments`, { method: 'POST', body: deployment('u1') })).body;
    const first = { ...created, metadata: { ...created.metadata, labels: { a: 'b' } } };
    const r1 = await srv.request(`${APPS}/deployments/u1`, { method: 'PUT', body: first });
    t.equal(r1.status, 200);
    t.equal(r1.body.metadata.generation, 1, 'label change keeps generation');
    t.not(r1.body.metadata.resourceVersion, created.metadata.resourceVersion);
    const stale = await srv.request(`${APPS}/deployments/u1`, { method: 'PUT', body: { ...created, spec: { ...created.spec, replicas: 4 } } });
    t.equal(stale.status, 409);
    t.equal(stale.body.reason, 'Conflict');
    t.equal(stale.body.message, 'Operation cannot be fulfilled on deployments.apps "u1": the object has been modified; please apply your changes to the latest version and try again');
    const r2 = await srv.request(`${APPS}/deployments/u1`, { method: 'PUT', body: { ...r1.body, spec: { ...r1.body.spec, replicas: 4 } } });
    t.equal(r2.body.metadata.generation, 2, 'spec change bumps generation');
    t.equal(r2.body.metadata.uid, created.metadata.uid);
    const same = await srv.request(`${APPS}/deployments/u1`, { method: 'PUT', body: r2.body });
    t.equal(same.body.metadata.resourceVersion, r2.body.metadata.resourceVersion, 'no-op update writes nothing');
  });

  t.test('validation: 422 naming the fields', async (t) => {
    const bad = deployment('v1');
    (bad as any).spec.template.spec.containers[0].image = '';
    (bad as any).spec.selector.matchLabels = { app: 'other' };
    const r = await srv.request(`${APPS}/deployments`, { method: 'POST', body: bad });
    t.equal(r.status, 422);
    t.equal(r.body.reason, 'Invalid');
    t.match(r.body.message, /^Deployment\.apps "v1" is invalid: \[/);
    t.same(r.body.details.causes.map((c: any) => c.field).sort(), ['spec.template.metadata.labels', 'spec.template.spec.containers[0].image']);
  });

  t.test('fieldValidation: unknown and duplicate fields', async (t) => {
    const text = JSON.stringify(deployment('fv1')).replace('"replicas":1', '"replicas":1,"replica":3,"replicas":2');
    const strict = await srv.request(`${APPS}/deployments?fieldValidation=Strict`, { method: 'POST', body: text });
    t.equal(strict.status, 400);
    t.equal(strict.body.message, 'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: duplicate field "spec.replicas", unknown field "spec.replica"');
    const warn = await srv.request(`${APPS}/deployments?fieldValidation=Warn`, { method: 'POST', body: text });
    t.equal(warn.status, 201);
    t.same(warn.headers.warning, '299 - "duplicate field \\"spec.replicas\\"", 299 - "unknown field \\"spec.replica\\""');
    t.equal(warn.body.spec.replicas, 2, 'the last duplicate wins');
    const ignore = await srv.request(`${APPS}/deployments?fieldValidation=Ignore`, { method: 'POST', body: text.replace('fv1', 'fv2') });
    t.equal(ignore.status, 201);
    t.notOk(ignore.headers.warning);
    const patch = await srv.request(`${APPS}/deployments/fv1?fieldValidation=Strict`, { method: 'PATCH', contentType: 'application/strategic-merge-patch+json', body: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'c' }], containers: [{ name: 'c', imagePullPolicy: 'Always', bogus: 1 }] } } } } });
    t.equal(patch.status, 400, 'patch bodies are checked too');
    t.match(patch.body.message, /unknown field "spec\.template\.spec\.containers\[0\]\.bogus"/);
  });

  t.test('patches: merge, json, strategic, status and scale subresources', async (t) => {
    await srv.request(`${APPS}/deployments`, { method: 'POST', body: deployment('p1', 2) });
    const merge = await srv.request(`${APPS}/deployments/p1`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { metadata: { labels: { x: 'y' } } } });
    t.same(merge.body.metadata.labels, { x: 'y' });
    const smp = await srv.request(`${APPS}/deployments/p1`, { method: 'PATCH', contentType: 'application/strategic-merge-patch+json', body: { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:1.26' }] } } } } });
    t.equal(smp.body.spec.template.spec.containers[0].image, 'nginx:1.26');
    t.equal(smp.body.spec.template.spec.containers[0].terminationMessagePath, '/dev/termination-log');
    t.equal(smp.body.metadata.generation, 2);
    const jp = await srv.request(`${APPS}/deployments/p1`, { method: 'PATCH', contentType: 'application/json-patch+json', body: [{ op: 'add', path: '/metadata/annotations', value: { a: '1' } }] });
    t.same(jp.body.metadata.annotations, { a: '1' });
    const stalePatch = await srv.request(`${APPS}/deployments/p1`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { metadata: { resourceVersion: '1' }, spec: { replicas: 9 } } });
    t.equal(stalePatch.status, 409, 'resourceVersion in a patch is a precondition');
    const ssa = await srv.request(`${APPS}/deployments/p1`, { method: 'PATCH', contentType: 'application/apply-patch+yaml', body: 'x' });
    t.equal(ssa.status, 415);
    const st = await srv.request(`${APPS}/deployments/p1/status`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { status: { replicas: 2, readyReplicas: 1 }, spec: { replicas: 7 } } });
    t.equal(st.body.status.readyReplicas, 1);
    t.equal(st.body.spec.replicas, 2, 'status writes leave spec alone');
    const main = await srv.request(`${APPS}/deployments/p1`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { status: { readyReplicas: 9 } } });
    t.equal(main.body.status.readyReplicas, 1, 'main writes leave status alone');
    const scale = await srv.request(`${APPS}/deployments/p1/scale`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { spec: { replicas: 5 } } });
    t.match(scale.body, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 5 }, status: { replicas: 2, selector: 'app=p1' } });
    t.equal((await srv.request(`${APPS}/deployments/p1`)).body.spec.replicas, 5);
    const getScale = await srv.request(`${APPS}/deployments/p1/scale`);
    const put = await srv.request(`${APPS}/deployments/p1/scale`, { method: 'PUT', body: { ...getScale.body, spec: { replicas: 1 } } });
    t.equal(put.body.spec.replicas, 1);
    const stale = await srv.request(`${APPS}/deployments/p1/scale`, { method: 'PUT', body: { ...getScale.body, spec: { replicas: 3 } } });
    t.equal(stale.status, 409);
    const dry = await srv.request(`${APPS}/deployments/p1?dryRun=All`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { spec: { replicas: 8 } } });
    t.equal(dry.body.spec.replicas, 8);
    t.equal((await srv.request(`${APPS}/deployments/p1`)).body.spec.replicas, 1, 'dry run not persisted');
  });

  t.test('list: label and field selectors, limit/continue, tables', async (t) => {
    await srv.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: 'lists' } } });
    for (let i = 0; i < 7; i++) {
      await srv.request('/api/v1/namespaces/lists/configmaps', { method: 'POST', body: { metadata: { name: `cm-${i}`, labels: { parity: i % 2 === 0 ? 'even' : 'odd', i: String(i) } } } });
    }
    const even = await srv.request('/api/v1/namespaces/lists/configmaps?labelSelector=parity%3Deven');
    t.same(even.body.items.map((c: any) => c.metadata.name), ['cm-0', 'cm-2', 'cm-4', 'cm-6']);
    t.equal(even.body.kind, 'ConfigMapList');
    const setBased = await srv.request(`/api/v1/namespaces/lists/configmaps?labelSelector=${encodeURIComponent('i in (1,3),parity!=even')}`);
    t.same(setBased.body.items.map((c: any) => c.metadata.name), ['cm-1', 'cm-3']);
    const byName = await srv.request('/api/v1/namespaces/lists/configmaps?fieldSelector=metadata.name%3Dcm-5');
    t.same(byName.body.items.map((c: any) => c.metadata.name), ['cm-5']);
    const badField = await srv.request('/api/v1/namespaces/lists/configmaps?fieldSelector=data.x%3D1');
    t.equal(badField.status, 400);
    const names: string[] = [];
    let cont = '';
    let pages = 0;
    do {
      const page = await srv.request(`/api/v1/namespaces/lists/configmaps?limit=3&labelSelector=parity${encodeURIComponent('!=none')}${cont === '' ? '' : `&continue=${encodeURIComponent(cont)}`}`);
      names.push(...page.body.items.map((c: any) => c.metadata.name));
      cont = page.body.metadata.continue ?? '';
      pages++;
    } while (cont !== '' && pages < 10);
    t.equal(pages, 3);
    t.same(names, [0, 1, 2, 3, 4, 5, 6].map((i) => `cm-${i}`));
    const table = await srv.request('/api/v1/namespaces/lists/configmaps?limit=500', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    t.equal(table.body.kind, 'Table');
    t.same(table.body.columnDefinitions.map((c: any) => c.name), ['Name', 'Data', 'Age']);
    t.equal(table.body.rows.length, 7);
    t.equal(table.body.rows[0].object.kind, 'PartialObjectMetadata');
    const all = await srv.request('/api/v1/configmaps');
    t.ok(all.body.items.length >= 7, 'all namespaces');
  });

  t.test('pods: binding, graceful deletion, eviction, unscheduled pods go at once', async (t) => {
    await srv.request(`${NS}/pods`, { method: 'POST', body: pod('g1') });
    const bind = await srv.request(`${NS}/pods/g1/binding`, { method: 'POST', body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'g1' }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-1' } } });
    t.equal(bind.status, 201);
    const bound = (await srv.request(`${NS}/pods/g1`)).body;
    t.equal(bound.spec.nodeName, 'node-1');
    t.match(bound.status.conditions, [{ type: 'PodScheduled', status: 'True' }]);
    const again = await srv.request(`${NS}/pods/g1/binding`, { method: 'POST', body: { target: { kind: 'Node', name: 'node-2' } } });
    t.equal(again.status, 409);
    const del = await srv.request(`${NS}/pods/g1`, { method: 'DELETE', body: { propagationPolicy: 'Background' } });
    t.equal(del.status, 200);
    t.ok(del.body.metadata.deletionTimestamp, 'graceful: deletionTimestamp set');
    t.equal(del.body.metadata.deletionGracePeriodSeconds, 30);
    t.equal((await srv.request(`${NS}/pods/g1`)).status, 200, 'still there for the node agent');
    const table = await srv.request(`${NS}/pods/g1`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    t.equal(table.body.rows[0].cells[2], 'Terminating');
    const fin = await srv.request(`${NS}/pods/g1`, { method: 'DELETE', body: { gracePeriodSeconds: 0 } });
    t.equal(fin.status, 200);
    t.equal((await srv.request(`${NS}/pods/g1`)).status, 404, 'gone after the final delete');
    await srv.request(`${NS}/pods`, { method: 'POST', body: pod('g2') });
    t.equal((await srv.request(`${NS}/pods/g2`, { method: 'DELETE' })).status, 200);
    t.equal((await srv.request(`${NS}/pods/g2`)).status, 404, 'unscheduled pod deleted at once');
    await srv.request(`${NS}/pods`, { method: 'POST', body: { ...pod('g3'), spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'busybox' }] } } });
    const ev = await srv.request(`${NS}/pods/g3/eviction`, { method: 'POST', body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'g3', namespace: 'default' }, deleteOptions: {} } });
    t.equal(ev.status, 201);
    t.ok((await srv.request(`${NS}/pods/g3`)).body.metadata.deletionTimestamp, 'evicted pod is terminating');
  });

  t.test('pods/binding: uid precondition, refusals as 409, one write that sets nodeName and PodScheduled', async (t) => {
    const created = (await srv.request(`${NS}/pods`, { method: 'POST', body: pod('b1') })).body;
    const binding = (uid: string | undefined, node: string): unknown => ({ apiVersion: 'v1', kind: 'Binding', metadata: { name: 'b1', ...(uid === undefined ? {} : { uid }) }, target: { kind: 'Node', name: node } });
    const wrongUid = await srv.request(`${NS}/pods/b1/binding`, { method: 'POST', body: binding('00000000-0000-0000-0000-000000000000', 'node-1') });
    t.equal(wrongUid.status, 409, 'a binding for another pod of the same name is refused');
    t.match(wrongUid.body.message, /Precondition failed: UID in precondition/);
    t.equal((await srv.request(`${NS}/pods/b1`)).body.metadata.resourceVersion, created.metadata.resourceVersion, 'nothing written');
    t.equal((await srv.request(`${NS}/pods/b1/binding`, { method: 'POST', body: { target: { kind: 'Node' } } })).status, 400, 'target.name is required');
    const ok = await srv.request(`${NS}/pods/b1/binding`, { method: 'POST', body: binding(created.metadata.uid, 'node-7') });
    t.equal(ok.status, 201);
    t.match(ok.body, { kind: 'Status', status: 'Success', code: 201 });
    const bound = (await srv.request(`${NS}/pods/b1`)).body;
    t.equal(bound.spec.nodeName, 'node-7');
    t.equal(Number(bound.metadata.resourceVersion), Number(created.metadata.resourceVersion) + 1, 'one write');
    t.equal(bound.metadata.generation, created.metadata.generation + 1, 'generation follows the spec change');
    t.equal(bound.status.conditions.filter((c: { type: string }) => c.type === 'PodScheduled').length, 1);
    t.match(bound.status.conditions, [{ type: 'PodScheduled', status: 'True', lastTransitionTime: /Z$/ }]);
    t.same({ ...bound.spec, nodeName: undefined }, { ...created.spec, nodeName: undefined }, 'nothing else in the spec changed');
    const again = await srv.request(`${NS}/pods/b1/binding`, { method: 'POST', body: binding(created.metadata.uid, 'node-8') });
    t.equal(again.status, 409);
    t.match(again.body.message, /already assigned to node "node-7"/);
    t.equal((await srv.request(`${NS}/pods/nope/binding`, { method: 'POST', body: binding(undefined, 'node-1') })).status, 404);
    await srv.request(`${NS}/pods`, { method: 'POST', body: { ...pod('b2'), metadata: { name: 'b2', finalizers: ['example.com/hold'] } } });
    await srv.request(`${NS}/pods/b2`, { method: 'DELETE' });
    const deleting = await srv.request(`${NS}/pods/b2/binding`, { method: 'POST', body: binding(undefined, 'node-1') });
    t.equal(deleting.status, 409);
    t.match(deleting.body.message, /is being deleted/);
    await srv.request(`${NS}/pods/b2`, { method: 'PATCH', body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
  });

  t.test('finalizers and propagation', async (t) => {
    await srv.request(`${NS}/configmaps`, { method: 'POST', body: { metadata: { name: 'f1', finalizers: ['example.com/hold'] } } });
    const del = await srv.request(`${NS}/configmaps/f1`, { method: 'DELETE' });
    t.ok(del.body.metadata.deletionTimestamp);
    const held = await srv.request(`${NS}/configmaps/f1`);
    t.equal(held.status, 200, 'held by its finalizer');
    const addFin = await srv.request(`${NS}/configmaps/f1`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { metadata: { finalizers: ['example.com/hold', 'x/y'] } } });
    t.equal(addFin.status, 422, 'no new finalizers while deleting');
    const release = await srv.request(`${NS}/configmaps/f1`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { metadata: { finalizers: null } } });
    t.equal(release.status, 200);
    t.equal((await srv.request(`${NS}/configmaps/f1`)).status, 404, 'gone once the last finalizer is removed');
    const owner = (await srv.request(`${APPS}/replicasets`, { method: 'POST', body: { ...deployment('own'), kind: 'ReplicaSet' } })).body;
    await srv.request(`${NS}/pods`, { method: 'POST', body: { ...pod('child'), metadata: { name: 'child', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'own', uid: owner.metadata.uid, controller: true }] } } });
    await srv.request(`${APPS}/replicasets/own`, { method: 'DELETE', body: { propagationPolicy: 'Orphan' } });
    t.notOk((await srv.request(`${NS}/pods/child`)).body.metadata.ownerReferences, 'orphaned');
    await srv.request(`${APPS}/replicasets`, { method: 'POST', body: { ...deployment('fg'), kind: 'ReplicaSet' } });
    const fg = await srv.request(`${APPS}/replicasets/fg`, { method: 'DELETE', body: { propagationPolicy: 'Foreground' } });
    t.same(fg.body.metadata.finalizers, ['foregroundDeletion'], 'foreground recorded for the garbage collector');
  });

  t.test('namespaces: protected, terminating, contents removed', async (t) => {
    t.equal((await srv.request('/api/v1/namespaces/default', { method: 'DELETE' })).status, 403);
    await srv.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: 'doomed' } } });
    await srv.request('/api/v1/namespaces/doomed/configmaps', { method: 'POST', body: { metadata: { name: 'a' } } });
    const del = await srv.request('/api/v1/namespaces/doomed', { method: 'DELETE' });
    t.equal(del.body.status.phase, 'Terminating');
    await waitFor(async () => (await srv.request('/api/v1/namespaces/doomed')).status === 404, { timeoutMs: 10_000, what: 'namespace doomed to go' });
    t.equal((await srv.request('/api/v1/namespaces/doomed/configmaps/a')).status, 404);
  });

  t.test('services get a cluster IP', async (t) => {
    const s = await srv.request(`${NS}/services`, { method: 'POST', body: { metadata: { name: 'svc' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }], type: 'NodePort' } } });
    t.equal(s.status, 201);
    t.match(s.body.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    t.match(s.body.spec.ports[0], { port: 80, targetPort: 80, protocol: 'TCP', nodePort: Number });
  });
}

for (const store of ['sqlite', 'etcd'] as const) {
  t.test(`semantics on ${store}`, { skip: store === 'etcd' ? etcdMissing() : undefined }, async (t) => {
    let etcd: EtcdServer | undefined;
    if (store === 'etcd') etcd = await startEtcd();
    const srv = new ServerProcess({ args: etcd === undefined ? [] : ['--datastore-endpoint', etcd.endpoint] });
    t.teardown(async () => {
      await srv.dispose();
      await etcd?.stop();
    });
    await srv.start();
    await semantics(t, srv);
  });
}
