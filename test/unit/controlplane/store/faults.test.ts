// FaultyStore fails exactly the calls its plan names and passes the rest through unchanged.
import t from 'tap';
import { FaultyStore, failNth } from '../../../../controlplane/store/faults.ts';
import { openMemoryStore } from '../../../../controlplane/store/memory.ts';
import { isStoreError } from '../../../../controlplane/store/types.ts';

t.test('failNth fails only the n-th call of its operation, writing nothing', async (t) => {
  const inner = openMemoryStore();
  t.teardown(() => inner.close());
  const store = new FaultyStore(inner, failNth('create', 2, 'unavailable'));
  await store.create('/f/1', Buffer.from('1'));
  const err = await store.create('/f/2', Buffer.from('2')).catch((e: unknown) => e);
  t.ok(isStoreError(err, 'unavailable'), 'second create fails');
  t.equal(await inner.get('/f/2'), undefined, 'nothing written by the failed call');
  await store.create('/f/3', Buffer.from('3'));
  await store.update('/f/1', Buffer.from('x'));
  t.same((await store.list('/f/')).items.map((kv) => kv.key), ['/f/1', '/f/3']);
  t.equal(store.calls('create'), 3);
  t.equal(store.calls('update'), 1);
});
