// Pure parts of the etcd store: etcd failures to StoreError kinds, etcd events to ours.
import t from 'tap';
import { ClientClosedError, type IKeyValue } from 'etcd3';
import { toStoreError, toWatchEvent } from '../../../../controlplane/store/etcd.ts';
import { StoreError } from '../../../../controlplane/store/types.ts';

t.test('toStoreError', async (t) => {
  const cases: { name: string; err: unknown; closed?: boolean; kind: StoreError['kind']; message: RegExp }[] = [
    { name: 'compacted', err: new Error('etcdserver: mvcc: required revision has been compacted'), kind: 'compacted', message: /^list \/a: compacted$/ },
    { name: 'future revision', err: new Error('etcdserver: mvcc: required revision is a future revision'), kind: 'unavailable', message: /future revision/ },
    { name: 'unavailable', err: new Error('14 UNAVAILABLE: No connection established'), kind: 'unavailable', message: /^list \/a: 14 UNAVAILABLE/ },
    { name: 'deadline', err: new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), kind: 'unavailable', message: /DEADLINE_EXCEEDED/ },
    { name: 'client closed', err: new ClientClosedError('KV'), kind: 'closed', message: /store closed/ },
    { name: 'anything while closing', err: new Error('1 CANCELLED'), closed: true, kind: 'closed', message: /store closed/ },
    { name: 'a StoreError passes through', err: new StoreError('conflict', 'update /a: stale'), kind: 'conflict', message: /^update \/a: stale$/ },
  ];
  for (const c of cases) {
    const got = toStoreError('list /a', c.err, c.closed);
    t.equal(got.kind, c.kind, `${c.name}: kind`);
    t.match(got.message, c.message, `${c.name}: message`);
  }
});

t.test('toWatchEvent', async (t) => {
  const kv = (key: string, value: string, create: number, mod: number): IKeyValue => ({
    key: Buffer.from(key),
    value: Buffer.from(value),
    create_revision: String(create),
    mod_revision: String(mod),
    version: '1',
    lease: '0',
  });
  const put = toWatchEvent('Put', kv('/a', 'v2', 5, 7), kv('/a', 'v1', 5, 5));
  t.same(
    { type: put.type, mod: put.kv.modRevision, create: put.kv.createRevision, prev: put.prevKv?.modRevision },
    { type: 'put', mod: 7, create: 5, prev: 5 },
    'an update keeps its previous pair',
  );
  const created = toWatchEvent('Put', kv('/a', 'v1', 5, 5), undefined);
  t.equal(created.prevKv, undefined, 'a create has none');
  // etcd's delete event: empty value, create_revision 0, mod_revision = the deletion.
  const del = toWatchEvent('Delete', kv('/a', '', 0, 9), kv('/a', 'v2', 5, 7));
  if (del.type !== 'delete') throw new Error('expected a delete');
  t.same(
    { value: del.kv.value.toString(), mod: del.kv.modRevision, create: del.kv.createRevision, prev: del.prevKv.modRevision },
    { value: 'v2', mod: 9, create: 5, prev: 7 },
    'a delete carries the last value at the deletion revision',
  );
});
