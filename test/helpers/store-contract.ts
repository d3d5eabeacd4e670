// The Store contract as one test suite, run against every implementation (memory, SQLite, etcd).
// Each case works under its own key prefix on one shared store, so the suite runs against a single
// etcd; compaction moves the whole store, so those cases run last, and close() uses its own store.

import type { Test } from 'tap';
import { waitFor } from '../../common/wait.ts';
import { guaranteedUpdate } from '../../controlplane/store/update.ts';
import { isStoreError, type Store, type StoreError, type StoreErrorKind, type WatchEvent } from '../../controlplane/store/types.ts';

export interface ContractOptions {
  /** Opens a store; the suite uses one for every case and a second one for the close() case. */
  readonly open: () => Promise<Store>;
}

const enc = (s: string): Buffer => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();

/** Rejects with a StoreError of this kind (and only that). */
async function rejectsKind(t: Test, p: Promise<unknown>, kind: StoreErrorKind, what: string): Promise<StoreError | undefined> {
  try {
    await p;
    t.fail(`${what}: expected ${kind}, it succeeded`);
    return undefined;
  } catch (err) {
    t.ok(isStoreError(err, kind), `${what}: fails ${kind}`, { got: err instanceof Error ? `${err.name}: ${err.message}` : err });
    return err as StoreError;
  }
}

/** A watch that records what it receives. */
function record(store: Store, prefix: string, afterRevision: number) {
  const events: WatchEvent[] = [];
  const errors: StoreError[] = [];
  const watch = store.watch(prefix, { afterRevision, onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  const summary = () => events.map((e) => `${e.type} ${e.kv.key}=${dec(e.kv.value)}@${e.kv.modRevision}`);
  return {
    events,
    errors,
    summary,
    stop: () => watch.stop(),
    waitEvents: (n: number) => waitFor(() => events.length >= n, { timeoutMs: 5000, intervalMs: 10, what: `${n} events on ${prefix} (have ${summary().join(', ')})` }),
    waitError: () => waitFor(() => errors[0], { timeoutMs: 5000, intervalMs: 10, what: `a watch error on ${prefix}` }),
  };
}

export function runStoreContract(t: Test, opts: ContractOptions): void {
  let store: Store;
  t.before(async () => {
    store = await opts.open();
  });
  t.teardown(async () => {
    await store?.close();
  });

  t.test('create then get returns the pair; a missing key is undefined', async (t) => {
    const before = await store.currentRevision();
    const kv = await store.create('/c1/a', enc('one'));
    t.equal(kv.modRevision, before + 1, 'one write bumps the revision by one');
    t.equal(kv.createRevision, kv.modRevision);
    t.equal(dec(kv.value), 'one');
    const got = await store.get('/c1/a');
    t.same({ ...got, value: dec(got!.value) }, { key: '/c1/a', value: 'one', createRevision: kv.modRevision, modRevision: kv.modRevision });
    t.equal(await store.get('/c1/missing'), undefined);
    t.equal(await store.currentRevision(), kv.modRevision);
  });

  t.test('create of an existing key fails exists and writes nothing', async (t) => {
    await store.create('/c2/a', enc('one'));
    const rev = await store.currentRevision();
    await rejectsKind(t, store.create('/c2/a', enc('two')), 'exists', 'second create');
    t.equal(await store.currentRevision(), rev, 'revision unchanged');
    t.equal(dec((await store.get('/c2/a'))!.value), 'one');
  });

  t.test('update: preconditions, notFound, conflict', async (t) => {
    const created = await store.create('/c3/a', enc('v1'));
    const cases: { name: string; key: string; expected?: () => number | undefined; kind?: StoreErrorKind }[] = [
      { name: 'with the current revision', key: '/c3/a', expected: () => created.modRevision },
      { name: 'with a stale revision', key: '/c3/a', expected: () => created.modRevision, kind: 'conflict' },
      { name: 'without a precondition', key: '/c3/a' },
      { name: 'of a missing key', key: '/c3/missing', kind: 'notFound' },
      { name: 'of a missing key with a precondition', key: '/c3/missing', expected: () => created.modRevision, kind: 'notFound' },
      { name: 'of a missing key with precondition 0', key: '/c3/missing', expected: () => 0, kind: 'notFound' },
    ];
    for (const c of cases) {
      const before = await store.currentRevision();
      const p = store.update(c.key, enc(c.name), c.expected?.());
      if (c.kind !== undefined) {
        await rejectsKind(t, p, c.kind, `update ${c.name}`);
        t.equal(await store.currentRevision(), before, `update ${c.name}: revision unchanged`);
      } else {
        const kv = await p;
        t.equal(kv.modRevision, before + 1, `update ${c.name}: new revision`);
        t.equal(kv.createRevision, created.createRevision, `update ${c.name}: createRevision kept`);
        t.equal(dec((await store.get(c.key))!.value), c.name);
      }
    }
    t.equal(await store.get('/c3/missing'), undefined, 'failed updates created nothing');
  });

  t.test('delete: conflict, result, notFound, create anew', async (t) => {
    const created = await store.create('/c4/a', enc('v1'));
    const updated = await store.update('/c4/a', enc('v2'));
    await rejectsKind(t, store.delete('/c4/a', created.modRevision), 'conflict', 'delete with a stale revision');
    const deleted = await store.delete('/c4/a', updated.modRevision);
    t.equal(dec(deleted.value), 'v2', 'returns the last value');
    t.equal(deleted.modRevision, updated.modRevision + 1, 'at the deletion revision');
    t.equal(deleted.createRevision, created.createRevision);
    t.equal(await store.get('/c4/a'), undefined);
    await rejectsKind(t, store.delete('/c4/a'), 'notFound', 'second delete');
    await rejectsKind(t, store.delete('/c4/never', 5), 'notFound', 'delete of a missing key with a precondition');
    const again = await store.create('/c4/a', enc('v3'));
    t.equal(again.createRevision, again.modRevision, 'a new life starts at its own revision');
  });

  t.test('list with a prefix returns only that prefix, in key order', async (t) => {
    for (const k of ['/c5/b/2', '/c5/a/1', '/c5/b/1', '/c5/ab/1', '/c5/a/2', '/c5/b0']) await store.create(k, enc(k));
    const cases: { prefix: string; keys: string[] }[] = [
      { prefix: '/c5/a/', keys: ['/c5/a/1', '/c5/a/2'] },
      { prefix: '/c5/b/', keys: ['/c5/b/1', '/c5/b/2'] },
      { prefix: '/c5/b', keys: ['/c5/b/1', '/c5/b/2', '/c5/b0'] },
      { prefix: '/c5/', keys: ['/c5/a/1', '/c5/a/2', '/c5/ab/1', '/c5/b/1', '/c5/b/2', '/c5/b0'] },
      { prefix: '/c5/z/', keys: [] },
    ];
    for (const c of cases) {
      const res = await store.list(c.prefix);
      t.same(res.items.map((kv) => kv.key), c.keys, `list ${c.prefix}`);
      t.equal(res.more, false);
      t.equal(res.revision, await store.currentRevision(), `list ${c.prefix} at the current revision`);
      t.equal(await store.count(c.prefix), c.keys.length, `count ${c.prefix}`);
    }
    const all = await store.list('');
    t.ok(all.items.some((kv) => kv.key === '/c5/b0') && all.items.some((kv) => kv.key === '/c1/a'), 'the empty prefix lists everything');
    t.same(all.items.map((kv) => kv.key), [...all.items.map((kv) => kv.key)].sort(), 'in key order');
  });

  t.test('limit and startAfter page through a list at one revision', async (t) => {
    for (let i = 0; i < 5; i++) await store.create(`/c6/k${i}`, enc(`v${i}`));
    const first = await store.list('/c6/', { limit: 2 });
    t.same(first.items.map((kv) => kv.key), ['/c6/k0', '/c6/k1']);
    t.equal(first.more, true);
    // A write between pages must not show in later pages read at the first page's revision.
    await store.update('/c6/k3', enc('changed'));
    await store.create('/c6/k5', enc('late'));
    const second = await store.list('/c6/', { limit: 2, startAfter: '/c6/k1', revision: first.revision });
    t.same(second.items.map((kv) => `${kv.key}=${dec(kv.value)}`), ['/c6/k2=v2', '/c6/k3=v3']);
    t.equal(second.more, true);
    t.equal(second.revision, first.revision);
    const third = await store.list('/c6/', { limit: 2, startAfter: '/c6/k3', revision: first.revision });
    t.same(third.items.map((kv) => kv.key), ['/c6/k4']);
    t.equal(third.more, false);
    const exact = await store.list('/c6/', { limit: 6 });
    t.equal(exact.items.length, 6);
    t.equal(exact.more, false, 'a limit equal to the size is not cut short');
    const before = await store.list('/c6/', { startAfter: '/c5/' });
    t.equal(before.items.length, 6, 'startAfter below the prefix lists the whole prefix');
  });

  t.test('a list bigger than 4 MiB comes back whole', async (t) => {
    const big = Buffer.alloc(100 * 1024, 'x');
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(`/c18/${String(i).padStart(2, '0')}`, big)));
    const res = await store.list('/c18/');
    t.equal(res.items.length, 50);
    t.equal(res.items.reduce((n, kv) => n + kv.value.byteLength, 0), 50 * big.byteLength);
  });

  t.test('utf-8 values round-trip through get, list, history and watch; other bytes are refused', async (t) => {
    const texts = ['{"name":"caf\u00e9 \u2713 \ud83d\udc33"}', '', 'plain'];
    const start = await store.currentRevision();
    const w = record(store, '/c19/', start);
    t.teardown(w.stop);
    for (const [i, text] of texts.entries()) await store.create(`/c19/${i}`, enc(text));
    await store.update('/c19/0', enc('second \u00e9'));
    const end = await store.currentRevision();
    t.same(await Promise.all(texts.map(async (_, i) => dec((await store.get(`/c19/${i}`))!.value))), ['second \u00e9', '', 'plain'], 'get');
    t.same((await store.list('/c19/')).items.map((kv) => dec(kv.value)), ['second \u00e9', '', 'plain'], 'list');
    t.same((await store.list('/c19/', { revision: end - 1 })).items.map((kv) => dec(kv.value)), texts, 'list at a past revision');
    await w.waitEvents(4);
    const replay = record(store, '/c19/', start);
    t.teardown(replay.stop);
    await replay.waitEvents(4);
    for (const [name, rec] of [['live', w], ['replayed', replay]] as const) {
      t.same(rec.events.map((e) => dec(e.kv.value)), [...texts, 'second \u00e9'], `${name} events`);
      t.equal(dec(rec.events[3].prevKv!.value), texts[0], `${name} previous value`);
    }
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    await t.rejects(store.create('/c19/bad', latin1), TypeError, 'create with a non-utf-8 value');
    await t.rejects(store.update('/c19/0', latin1), TypeError, 'update with a non-utf-8 value');
    t.equal(await store.currentRevision(), end, 'nothing written');
  });

  t.test('list at a past revision sees that revision', async (t) => {
    const a1 = await store.create('/c7/a', enc('a1'));
    await store.create('/c7/b', enc('b1'));
    const mid = await store.currentRevision();
    await store.update('/c7/a', enc('a2'));
    await store.delete('/c7/b');
    await store.create('/c7/c', enc('c1'));
    const show = async (revision?: number) =>
      (await store.list('/c7/', { revision })).items.map((kv) => `${kv.key}=${dec(kv.value)}@${kv.modRevision}`);
    t.same(await show(mid), [`/c7/a=a1@${a1.modRevision}`, `/c7/b=b1@${mid}`], 'at the middle revision');
    t.same(await show(a1.modRevision), [`/c7/a=a1@${a1.modRevision}`], 'at the first write');
    t.same(await show(a1.modRevision - 1), [], 'before anything was written');
    const now = await store.currentRevision();
    t.same(await show(), [`/c7/a=a2@${now - 2}`, `/c7/c=c1@${now}`], 'latest');
    t.same(await show(now), await show(), 'the current revision equals latest');
    await rejectsKind(t, store.list('/c7/', { revision: now + 100 }), 'unavailable', 'list at a future revision');
  });

  t.test('revisions are store-wide, strictly increasing by one per write', async (t) => {
    const revs: number[] = [];
    revs.push((await store.create('/c8/a', enc('1'))).modRevision);
    revs.push((await store.create('/c8/b', enc('1'))).modRevision);
    await store.create('/c8/a', enc('dup')).catch(() => undefined);
    revs.push((await store.update('/c8/a', enc('2'))).modRevision);
    await store.update('/c8/a', enc('stale'), revs[0]).catch(() => undefined);
    revs.push((await store.delete('/c8/b')).modRevision);
    revs.push((await store.update('/c8/a', enc('3'))).modRevision);
    t.same(revs.map((r) => r - revs[0]), [0, 1, 2, 3, 4], 'failed writes take no revision');
  });

  t.test('concurrent writes with one precondition: exactly one wins', async (t) => {
    const kv = await store.create('/c9/a', enc('0'));
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.update('/c9/a', enc(`w${i}`), kv.modRevision)));
    const won = results.filter((r) => r.status === 'fulfilled');
    t.equal(won.length, 1, 'one update wins');
    t.ok(results.every((r) => r.status === 'fulfilled' || isStoreError(r.reason, 'conflict')), 'the others fail conflict');
    const creates = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.create('/c9/b', enc(`c${i}`))));
    t.equal(creates.filter((r) => r.status === 'fulfilled').length, 1, 'one create wins');
    t.ok(creates.every((r) => r.status === 'fulfilled' || isStoreError(r.reason, 'exists')), 'the others fail exists');
  });

  t.test('guaranteedUpdate retries conflicts until every increment lands', async (t) => {
    await store.create('/c10/counter', enc('0'));
    const increment = () => guaranteedUpdate(store, '/c10/counter', (cur) => enc(String(Number(dec(cur.value)) + 1)), { attempts: 50 });
    await Promise.all(Array.from({ length: 10 }, increment));
    t.equal(dec((await store.get('/c10/counter'))!.value), '10');
    const same = await store.get('/c10/counter');
    const noop = await guaranteedUpdate(store, '/c10/counter', (cur) => cur.value);
    t.equal(noop.modRevision, same!.modRevision, 'an unchanged value writes nothing');
    await rejectsKind(t, guaranteedUpdate(store, '/c10/missing', (cur) => cur.value), 'notFound', 'guaranteedUpdate of a missing key');
  });

  t.test('watch from a revision replays history, then follows live writes, in order', async (t) => {
    const a = await store.create('/c11/a', enc('a1'));
    await store.update('/c11/a', enc('a2'));
    await store.create('/c11/b', enc('b1'));
    const w = record(store, '/c11/', a.modRevision);
    t.teardown(w.stop);
    await w.waitEvents(2);
    await store.delete('/c11/a');
    await store.update('/c11/b', enc('b2'));
    await w.waitEvents(4);
    const r = a.modRevision;
    t.same(w.summary(), [`put /c11/a=a2@${r + 1}`, `put /c11/b=b1@${r + 2}`, `delete /c11/a=a2@${r + 3}`, `put /c11/b=b2@${r + 4}`]);
    const [upd, create, del] = w.events;
    t.equal(upd.prevKv?.modRevision, r, 'an update carries the previous pair');
    t.equal(dec(upd.prevKv!.value), 'a1');
    t.equal(create.prevKv, undefined, 'a create has no previous pair');
    if (del.type !== 'delete') throw new Error(`expected a delete event, got ${del.type}`);
    t.same([del.prevKv.modRevision, dec(del.prevKv.value), del.kv.createRevision], [r + 1, 'a2', r], 'a delete carries the pair it removed');
    t.same(w.errors, []);
  });

  t.test('watch filters by prefix and delivers each revision once', async (t) => {
    const start = await store.currentRevision();
    const w = record(store, '/c12/a/', start);
    t.teardown(w.stop);
    for (const k of ['/c12/a/1', '/c12/ab', '/c12/b/1', '/c12/a/2', '/c12/a']) await store.create(k, enc('x'));
    await w.waitEvents(2);
    // Writes elsewhere then one more here: if anything extra were coming it would arrive first.
    await store.create('/c12/a/3', enc('x'));
    await w.waitEvents(3);
    t.same(w.events.map((e) => e.kv.key), ['/c12/a/1', '/c12/a/2', '/c12/a/3']);
  });

  t.test('watch from the list revision continues the list without a gap or a repeat', async (t) => {
    await store.create('/c13/a', enc('1'));
    const listed = await store.list('/c13/');
    const w = record(store, '/c13/', listed.revision);
    t.teardown(w.stop);
    await store.create('/c13/b', enc('1'));
    await w.waitEvents(1);
    await store.update('/c13/a', enc('2'));
    await w.waitEvents(2);
    t.same(w.events.map((e) => `${e.type} ${e.kv.key}`), ['put /c13/b', 'put /c13/a']);
  });

  t.test('a stopped watch receives nothing more', async (t) => {
    const start = await store.currentRevision();
    const w = record(store, '/c14/', start);
    await store.create('/c14/a', enc('1'));
    await w.waitEvents(1);
    w.stop();
    await store.create('/c14/b', enc('1'));
    const other = record(store, '/c14/', start);
    t.teardown(other.stop);
    await other.waitEvents(2); // by now the stopped watch would have had /c14/b too
    t.equal(w.events.length, 1);
  });

  t.test('100 watchers each receive every event in order', async (t) => {
    const start = await store.currentRevision();
    const watchers = Array.from({ length: 100 }, () => record(store, '/c15/', start));
    t.teardown(() => watchers.forEach((w) => w.stop()));
    const writes = 20;
    for (let i = 0; i < writes; i++) await store.create(`/c15/k${String(i).padStart(2, '0')}`, enc(String(i)));
    await Promise.all(watchers.map((w) => w.waitEvents(writes)));
    const expected = Array.from({ length: writes }, (_, i) => start + 1 + i);
    t.ok(watchers.every((w) => w.events.length === writes && w.events.every((e, i) => e.kv.modRevision === expected[i])), 'all in revision order, none twice');
  });

  t.test('compaction: lists below it and watches from below it fail compacted', async (t) => {
    const a1 = await store.create('/c16/a', enc('a1'));
    await store.create('/c16/b', enc('b1'));
    await store.delete('/c16/b');
    const point = await store.currentRevision();
    await store.update('/c16/a', enc('a2'));
    const live = record(store, '/c16/', point + 1);
    t.teardown(live.stop);
    await store.compact(point);
    await store.compact(point - 1); // at or below an earlier compaction: nothing to do
    await rejectsKind(t, store.list('/c16/', { revision: point - 1 }), 'compacted', 'list below the compaction point');
    const at = await store.list('/c16/', { revision: point });
    t.same(at.items.map((kv) => `${kv.key}=${dec(kv.value)}@${kv.modRevision}`), [`/c16/a=a1@${a1.modRevision}`], 'the latest value at the compaction point stays');
    const old = record(store, '/c16/', a1.modRevision);
    t.teardown(old.stop);
    const err = await old.waitError();
    t.equal(err.kind, 'compacted', 'a watch from below the compaction point fails compacted');
    t.equal(old.events.length, 0, 'and delivers nothing');
    const fromPoint = record(store, '/c16/', point);
    t.teardown(fromPoint.stop);
    await fromPoint.waitEvents(1);
    t.same(fromPoint.summary(), [`put /c16/a=a2@${point + 1}`], 'a watch from the compaction point replays what follows');
    await store.update('/c16/a', enc('a3'));
    await live.waitEvents(1);
    t.same(live.errors, [], 'a live watch is not disturbed by compaction');
    await rejectsKind(t, store.compact((await store.currentRevision()) + 10), 'unavailable', 'compact at a future revision');
  });

  t.test('close ends watches with closed; later calls fail closed', async (t) => {
    const own = await opts.open();
    const w = record(own, '/c17/', await own.currentRevision());
    await own.close();
    const err = await w.waitError();
    t.equal(err.kind, 'closed');
    await rejectsKind(t, own.get('/c17/a'), 'closed', 'get after close');
    await rejectsKind(t, own.create('/c17/a', enc('x')), 'closed', 'create after close');
    const late = record(own, '/c17/', 0);
    t.equal((await late.waitError()).kind, 'closed', 'watch after close');
    await own.close();
    t.pass('close twice is fine');
  });
}
