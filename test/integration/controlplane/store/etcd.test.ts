// The Store contract against a real etcd (Debian's etcd-server) on loopback, plus what only etcd can
// show: watches resume across an etcd restart without losing or repeating a revision, and an
// unreachable endpoint fails `unavailable` within the deadline.
import t from 'tap';
import { waitFor } from '../../../../common/wait.ts';
import { openEtcdStore } from '../../../../controlplane/store/etcd.ts';
import { isStoreError, type Store } from '../../../../controlplane/store/types.ts';
import { etcdMissing, startEtcd } from '../../../helpers/etcd.ts';
import { runStoreContract } from '../../../helpers/store-contract.ts';

const skip = etcdMissing() ?? false;
const enc = (s: string): Buffer => Buffer.from(s);

t.test('etcd', { skip }, async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());

  t.test('contract', async (t) => {
    runStoreContract(t, { open: () => openEtcdStore({ endpoints: [etcd.endpoint] }) });
  });

  t.test('a watch resumes after an etcd restart from its last revision', async (t) => {
    const store: Store = await openEtcdStore({ endpoints: [etcd.endpoint], timeoutMs: 3000, watchRetryMs: 20_000 });
    t.teardown(() => store.close());
    const start = await store.currentRevision();
    const revs: number[] = [];
    const errors: string[] = [];
    const w = store.watch('/restart/', { afterRevision: start, onEvent: (e) => revs.push(e.kv.modRevision), onError: (e) => errors.push(e.message) });
    t.teardown(() => w.stop());
    await store.create('/restart/a', enc('1'));
    await waitFor(() => revs.length === 1, { timeoutMs: 5000, what: 'the first event' });
    await etcd.restart();
    // The client may need a moment to reconnect; the write itself is retried until etcd answers.
    await waitFor(() => store.create('/restart/b', enc('1')).then(() => true), { timeoutMs: 15_000, intervalMs: 200, what: 'a write after restart' });
    await store.update('/restart/a', enc('2'));
    await waitFor(() => revs.length >= 3, { timeoutMs: 15_000, what: 'events after the restart' });
    t.same(revs, [start + 1, start + 2, start + 3], 'every revision once, in order');
    t.same(errors, []);
  });

  t.test('an unreachable endpoint fails unavailable within the deadline', async (t) => {
    const started = Date.now();
    const err = await openEtcdStore({ endpoints: ['http://127.0.0.1:9'], timeoutMs: 1000 }).then(
      (s) => s.close().then(() => undefined),
      (e: unknown) => e,
    );
    t.ok(isStoreError(err, 'unavailable'), 'fails unavailable', { got: String(err) });
    t.ok(Date.now() - started < 10_000, 'within a few deadlines');
  });
});
