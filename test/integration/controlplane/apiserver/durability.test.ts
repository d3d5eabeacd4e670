// An acknowledged write survives SIGKILL of the server: write, kill -9, restart on the same data dir,
// read everything back; the certificates and the admin token stay the same.
import t from 'tap';
import { ServerProcess } from './harness.ts';
import { etcdMissing, startEtcd, type EtcdServer } from '../../../helpers/etcd.ts';

for (const store of ['sqlite', 'etcd'] as const) t.test(`SIGKILL after acknowledged writes loses nothing (${store})`, { skip: store === 'etcd' ? etcdMissing() : undefined }, async (t) => {
  let etcd: EtcdServer | undefined;
  if (store === 'etcd') etcd = await startEtcd();
  const srv = new ServerProcess({ args: etcd === undefined ? [] : ['--datastore-endpoint', etcd.endpoint] });
  t.teardown(async () => {
    await srv.dispose();
    await etcd?.stop();
  });
  await srv.start();
  const ca = srv.ca;
  const token = srv.adminToken;
  const written: Record<string, string> = {};
  for (let i = 0; i < 20; i++) {
    const r = await srv.request('/api/v1/namespaces/default/configmaps', { method: 'POST', body: { metadata: { name: `d-${i}` }, data: { i: String(i) } } });
    t.equal(r.status, 201);
    written[`d-${i}`] = r.body.metadata.resourceVersion;
  }
  const last = await srv.request('/api/v1/namespaces/default/configmaps/d-0', { method: 'PATCH', contentType: 'application/merge-patch+json', body: { data: { i: 'updated' } } });
  await srv.request('/api/v1/namespaces/default/configmaps/d-1', { method: 'DELETE' });
  await srv.kill();
  await srv.start();
  t.equal(srv.ca, ca, 'same CA after restart');
  t.equal(srv.adminToken, token, 'same admin token after restart');
  const list = await srv.request('/api/v1/namespaces/default/configmaps');
  const names = list.body.items.map((c: any) => c.metadata.name).sort();
  t.same(names, Object.keys(written).filter((n) => n !== 'd-1').sort());
  const d0 = list.body.items.find((c: any) => c.metadata.name === 'd-0');
  t.equal(d0.data.i, 'updated');
  t.equal(d0.metadata.resourceVersion, last.body.metadata.resourceVersion, 'resourceVersion survives');
  t.ok(Number(list.body.metadata.resourceVersion) > Number(last.body.metadata.resourceVersion), 'revision continues after the delete');
});
