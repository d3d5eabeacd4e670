// The API client against a real `moor server` over HTTPS: kubeconfig, verbs, status subresource,
// binding, errors, watch resume from a resourceVersion, 410 after compaction and the informer's relist.
import t from 'tap';
import { waitFor } from '../../../../common/wait.ts';
import { ApiClient } from '../../../../controlplane/client/client.ts';
import { isAlreadyExists, isConflict, isExpired, isNotFound } from '../../../../controlplane/client/errors.ts';
import { Informer, listWatcherFor } from '../../../../controlplane/client/informer.ts';
import { CONFIGMAPS, NODES, PODS } from '../../../../controlplane/client/resources.ts';
import type { KubeObject, Pod } from '../../../../controlplane/client/types.ts';
import { ServerProcess } from '../apiserver/harness.ts';

const pod = (name: string): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: 'c' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });
const cm = (name: string, v: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v } });

t.test('client against moor server', async (t) => {
  const srv = new ServerProcess({ args: ['--etcd-compaction-interval', '1s'] });
  t.teardown(() => srv.dispose());
  await srv.start();
  const client = ApiClient.fromKubeconfig(srv.kubeconfig);
  t.teardown(() => client.close());

  await t.test('verbs, status subresource, binding, typed errors', async (t) => {
    const created = await client.create(PODS, pod('a'));
    t.match(created.metadata, { name: 'a', namespace: 'default', uid: /./, resourceVersion: /^\d+$/ });
    await t.rejects(client.create(PODS, pod('a')), { name: 'ApiClientError', kind: 'alreadyExists' });
    t.ok(isAlreadyExists(await client.create(PODS, pod('a')).catch((e: unknown) => e)));
    const stale = { ...created, metadata: { ...created.metadata, labels: { app: 'c', v: '1' } } };
    await client.update(PODS, stale);
    t.ok(isConflict(await client.update(PODS, stale).catch((e: unknown) => e)), 'stale resourceVersion');
    const patched = await client.patch(PODS, 'a', { metadata: { labels: { v: '2' } } }, { namespace: 'default' });
    t.equal(patched.metadata.labels?.v, '2');
    const st = await client.patchStatus(PODS, 'a', { status: { phase: 'Running', podIP: '10.1.1.1' } }, { namespace: 'default' });
    t.equal(st.status?.podIP, '10.1.1.1');
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    await client.bind({ namespace: 'default', pod: 'a', node: 'n1' });
    const bound = await client.get(PODS, 'a', { namespace: 'default' });
    t.equal(bound.spec.nodeName, 'n1');
    t.match(bound.status?.conditions, [{ type: 'PodScheduled', status: 'True' }]);
    await t.rejects(client.bind({ namespace: 'default', pod: 'a', node: 'n1' }), { name: 'ApiClientError', kind: 'conflict' }, 'already bound');
    const list = await client.list(PODS, { namespace: 'default', labelSelector: 'app=c' });
    t.same(list.items.map((p) => p.metadata.name), ['a']);
    t.match(list.metadata.resourceVersion, /^\d+$/);
    await client.delete(PODS, 'a', { namespace: 'default', gracePeriodSeconds: 0 });
    t.equal(await client.tryGet(PODS, 'a', { namespace: 'default' }), undefined);
    t.ok(isNotFound(await client.get(PODS, 'a', { namespace: 'default' }).catch((e: unknown) => e)));
    const bad = new ApiClient({ server: `https://127.0.0.1:${srv.port}`, caPem: srv.ca, token: 'bogus' });
    t.teardown(() => bad.close());
    await t.rejects(bad.list(PODS), { name: 'ApiClientError', kind: 'unauthorized' });
  });

  await t.test('watch resumes from a resourceVersion; a compacted one is expired', async (t) => {
    const first = await client.create(CONFIGMAPS, cm('w1', '1'));
    const from = String(first.metadata.resourceVersion);
    await client.create(CONFIGMAPS, cm('w2', '2'));
    await client.delete(CONFIGMAPS, 'w1', { namespace: 'default' });
    const w = await client.watch(CONFIGMAPS, { namespace: 'default', resourceVersion: from });
    const seen: string[] = [];
    for await (const ev of w) {
      seen.push(`${ev.type} ${ev.object.metadata.name}`);
      if (seen.length === 2) break;
    }
    w.close();
    t.same(seen, ['ADDED w2', 'DELETED w1'], 'only what came after');
    // Compaction every second: version 1 is gone soon.
    const err = await waitFor(async () => {
      const old = await client.watch(CONFIGMAPS, { namespace: 'default', resourceVersion: '1' });
      try {
        for await (const _ of old) { /* a replay means not compacted yet */ break; }
      } catch (e) {
        return e;
      } finally {
        old.close();
      }
      await client.create(CONFIGMAPS, cm(`filler-${Date.now()}`, 'x'));
      return undefined;
    }, { timeoutMs: 15_000, intervalMs: 300, what: 'a 410 for resourceVersion 1' });
    t.ok(isExpired(err), (err as Error).message);
  });

  await t.test('informer: syncs, follows changes, relists after 410', async (t) => {
    const real = listWatcherFor(client, CONFIGMAPS, { namespace: 'default' });
    let lists = 0;
    // The first list claims an ancient version, so the first watch gets 410 and the informer must relist.
    const inf = new Informer<KubeObject>({
      name: 'configmaps',
      listWatcher: { list: async () => { const l = await real.list(); return lists++ === 0 ? { ...l, metadata: { resourceVersion: '1' } } : l; }, watch: real.watch },
    });
    const added: string[] = [];
    inf.addHandler({ onAdd: (o) => added.push(String(o.metadata.name)) });
    inf.start();
    t.teardown(() => inf.stop());
    await inf.waitForSync();
    t.ok(inf.getByName('default', 'w2') !== undefined);
    await waitFor(() => inf.relists === 2, { timeoutMs: 10_000, what: 'relist after 410' });
    await client.create(CONFIGMAPS, cm('late', 'z'));
    await waitFor(() => inf.getByName('default', 'late') !== undefined, { timeoutMs: 10_000, what: 'the new object in the cache' });
    await client.delete(CONFIGMAPS, 'late', { namespace: 'default' });
    await waitFor(() => inf.getByName('default', 'late') === undefined, { timeoutMs: 10_000, what: 'deletion seen' });
    t.equal(added.filter((n) => n === 'w2').length, 1, 'a relist does not repeat unchanged objects');
  });
});
