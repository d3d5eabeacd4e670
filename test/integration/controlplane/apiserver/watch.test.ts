// Watch over HTTPS, against both stores: initial ADDED for rv 0/unset, replay from N, 410 Expired
// after compaction, selector enter/leave, headers before any event, timeoutSeconds, bookmarks,
// Table events, and SIGTERM ending open watches.
import t, { type Test } from 'tap';
import { ServerProcess } from './harness.ts';
import { etcdMissing, startEtcd, type EtcdServer } from '../../../helpers/etcd.ts';
import { waitFor } from '../../../../common/wait.ts';

const CM = '/api/v1/namespaces/default/configmaps';

async function watches(t: Test, srv: ServerProcess): Promise<void> {
  t.test('rv 0: current objects as ADDED, then live changes', async (t) => {
    await srv.request(CM, { method: 'POST', body: { metadata: { name: 'w0', labels: { suite: 'w0' } } } });
    const w = srv.watch(`${CM}?watch=true&resourceVersion=0&labelSelector=suite%3Dw0`);
    t.teardown(() => w.close());
    const [first] = await w.next(1);
    t.match(first, { type: 'ADDED', object: { kind: 'ConfigMap', metadata: { name: 'w0' } } });
    await srv.request(`${CM}/w0`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { data: { a: '1' } } });
    await srv.request(`${CM}/w0`, { method: 'DELETE' });
    const evs = await w.next(3);
    t.same(evs.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
    t.same(evs[1].object.data, { a: '1' });
    t.ok(Number(evs[2].object.metadata.resourceVersion) > Number(evs[1].object.metadata.resourceVersion), 'DELETED carries the deletion revision');
  });

  t.test('rv N: every change after N, in order', async (t) => {
    const created = (await srv.request(CM, { method: 'POST', body: { metadata: { name: 'wn' } } })).body;
    for (const v of ['1', '2', '3']) await srv.request(`${CM}/wn`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { data: { v } } });
    const w = srv.watch(`${CM}?watch=true&resourceVersion=${created.metadata.resourceVersion}&fieldSelector=metadata.name%3Dwn`);
    t.teardown(() => w.close());
    const evs = await w.next(3);
    t.same(evs.map((e) => [e.type, e.object.data.v]), [['MODIFIED', '1'], ['MODIFIED', '2'], ['MODIFIED', '3']]);
  });

  t.test('headers arrive before any event; timeoutSeconds ends the stream', async (t) => {
    const list = await srv.request(`${CM}?fieldSelector=metadata.name%3Dnever`);
    const started = Date.now();
    const w = srv.watch(`${CM}?watch=true&fieldSelector=metadata.name%3Dnever&resourceVersion=${list.body.metadata.resourceVersion}&timeoutSeconds=2`);
    t.teardown(() => w.close());
    t.equal(await w.headers, 200);
    t.ok(Date.now() - started < 1500, 'headers flushed at once');
    await w.ended;
    t.ok(Date.now() - started >= 1900, 'ended by timeoutSeconds');
    t.same(w.events, []);
  });

  t.test('selectors: leaving is DELETED, entering is ADDED', async (t) => {
    const list = await srv.request(`${CM}?labelSelector=tier%3Dfront`);
    const w = srv.watch(`${CM}?watch=true&labelSelector=tier%3Dfront&resourceVersion=${list.body.metadata.resourceVersion}`);
    t.teardown(() => w.close());
    await srv.request(CM, { method: 'POST', body: { metadata: { name: 'ws', labels: { tier: 'front' } } } });
    await srv.request(`${CM}/ws`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { metadata: { labels: { tier: 'back' } } } });
    await srv.request(`${CM}/ws`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { data: { ignored: 'yes' } } });
    await srv.request(`${CM}/ws`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { metadata: { labels: { tier: 'front' } } } });
    const evs = await w.next(3);
    t.same(evs.map((e) => e.type), ['ADDED', 'DELETED', 'ADDED']);
    t.same(evs[2].object.data, { ignored: 'yes' });
  });

  t.test('Table watch events and bookmarks', async (t) => {
    const w = srv.watch(`${CM}?watch=true&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dwt`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    t.teardown(() => w.close());
    await w.headers;
    await srv.request(CM, { method: 'POST', body: { metadata: { name: 'wt' }, data: { a: 'b' } } });
    const evs = await w.next(1);
    t.match(evs[0], { type: 'ADDED', object: { kind: 'Table', rows: [{ cells: ['wt', 1, String] }] } });
    await waitFor(() => w.events.some((e) => e.type === 'BOOKMARK'), { timeoutMs: 5000, what: 'a bookmark' });
    const bm = w.events.find((e) => e.type === 'BOOKMARK');
    t.match(bm.object, { kind: 'ConfigMap', metadata: { resourceVersion: /^\d+$/ } });
  });

  t.test('watch-list: initial events, then a bookmark marking their end', async (t) => {
    await srv.request(CM, { method: 'POST', body: { metadata: { name: 'wl', labels: { suite: 'wl' } } } });
    const w = srv.watch(`${CM}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=suite%3Dwl`);
    t.teardown(() => w.close());
    const [added, end] = await w.next(2);
    t.match(added, { type: 'ADDED', object: { metadata: { name: 'wl' } } });
    t.match(end, { type: 'BOOKMARK', object: { metadata: { annotations: { 'k8s.io/initial-events-end': 'true' }, resourceVersion: /^\d+$/ } } });
  });

  t.test('too old resourceVersion: ERROR 410 Expired, then the end', async (t) => {
    const created = (await srv.request(CM, { method: 'POST', body: { metadata: { name: 'wold' } } })).body;
    const old = Number(created.metadata.resourceVersion) - 1;
    await waitFor(async () => {
      await srv.request(`${CM}/wold`, { method: 'PATCH', contentType: 'application/merge-patch+json', body: { data: { t: String(Date.now()) } } });
      const w = srv.watch(`${CM}?watch=true&resourceVersion=${old}`);
      try {
        await w.next(1, 3000);
        return w.events[0].type === 'ERROR' ? w : undefined;
      } finally {
        w.close();
      }
    }, { timeoutMs: 15_000, intervalMs: 500, what: 'compaction to pass the old revision' }).then((w) => {
      t.match(w.events[0].object, { kind: 'Status', code: 410, reason: 'Expired' });
    });
    const list = await srv.request(`${CM}?limit=1`);
    const stale = await srv.request(`${CM}?limit=1&continue=${encodeURIComponent(Buffer.from(JSON.stringify({ v: 1, rv: old, start: '' })).toString('base64url'))}`);
    t.equal(stale.status, 410, 'continue token older than compaction');
    t.equal(list.status, 200);
  });
}

for (const store of ['sqlite', 'etcd'] as const) {
  t.test(`watch on ${store}`, { skip: store === 'etcd' ? etcdMissing() : undefined }, async (t) => {
    let etcd: EtcdServer | undefined;
    if (store === 'etcd') etcd = await startEtcd();
    const srv = new ServerProcess({ args: [...(etcd === undefined ? [] : ['--datastore-endpoint', etcd.endpoint]), '--etcd-compaction-interval', '2s'], env: { MOOR_BOOKMARK_INTERVAL_MS: '500' } });
    t.teardown(async () => {
      await srv.dispose();
      await etcd?.stop();
    });
    await srv.start();
    await watches(t, srv);
    t.test('SIGTERM ends open watches cleanly', async (t) => {
      const w = srv.watch(`${CM}?watch=true`);
      t.equal(await w.headers, 200);
      const started = Date.now();
      await srv.stop();
      await w.ended;
      t.ok(Date.now() - started < 5000, 'server stopped promptly with a watch open');
    });
  });
}
