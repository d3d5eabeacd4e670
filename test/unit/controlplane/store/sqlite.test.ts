// The SQLite store on a real file: the shared contract, plus what only a file can show — data,
// revision and compaction point survive a reopen, compaction removes rows, one process owns the file,
// and a long replay pages through history while writes go on.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { waitFor } from '../../../../common/wait.ts';
import { openSqliteStore } from '../../../../controlplane/store/sqlite.ts';
import { isStoreError, type WatchEvent } from '../../../../controlplane/store/types.ts';
import { runStoreContract } from '../../../helpers/store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'moor-store-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const enc = (s: string): Buffer => Buffer.from(s);

t.test('contract', async (t) => {
  let n = 0;
  runStoreContract(t, { open: async () => openSqliteStore({ path: join(dir, `contract-${n++}.db`) }) });
});

t.test('data, revision and compaction point survive a reopen', async (t) => {
  const path = join(dir, 'reopen.db');
  const first = openSqliteStore({ path });
  t.teardown(() => first.close());
  const a = await first.create('/r/a', enc('a1'));
  const a2 = await first.update('/r/a', enc('a2'));
  await first.create('/r/b', enc('b1'));
  await first.delete('/r/b');
  await first.compact(a2.modRevision);
  const rev = await first.currentRevision();
  await first.close();

  const second = openSqliteStore({ path });
  t.teardown(() => second.close());
  t.equal(await second.currentRevision(), rev, 'revision kept');
  t.same((await second.list('/r/')).items.map((kv) => `${kv.key}=${kv.value.toString()}`), ['/r/a=a2']);
  const below = await second.list('/r/', { revision: a.modRevision }).catch((err: unknown) => err);
  t.ok(isStoreError(below, 'compacted'), 'compaction point kept');
  const events: WatchEvent[] = [];
  const w = second.watch('/r/', { afterRevision: a2.modRevision, onEvent: (e) => events.push(e), onError: () => {} });
  t.teardown(() => w.stop());
  await waitFor(() => events.length === 2, { timeoutMs: 5000, what: 'replayed history after reopen' });
  t.same(events.map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision}`), [`put /r/b@${a2.modRevision + 1}`, `delete /r/b@${a2.modRevision + 2}`]);
  t.equal((await second.create('/r/c', enc('c'))).modRevision, rev + 1, 'the next write continues the revision');
});

t.test('compaction removes superseded rows and tombstones, keeps the latest of each key', async (t) => {
  const path = join(dir, 'compact.db');
  const store = openSqliteStore({ path });
  t.teardown(() => store.close());
  for (let i = 0; i < 20; i++) await store.create(`/k/${i}`, enc('v0'));
  for (let round = 1; round <= 5; round++) for (let i = 0; i < 20; i++) await store.update(`/k/${i}`, enc(`v${round}`));
  for (let i = 0; i < 10; i++) await store.delete(`/k/${i}`);
  const point = await store.currentRevision();
  await store.update('/k/15', enc('after'));
  await store.compact(point);
  await store.close();
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  const rows = db.prepare('SELECT key, value FROM log ORDER BY revision').all() as { key: string; value: Buffer }[];
  t.equal(rows.length, 11, '10 live keys at the compaction point + 1 later write');
  t.ok(rows.slice(0, 10).every((r) => r.value.toString() === 'v5'), 'the latest value of each live key stays');
  t.equal(rows[10].value.toString(), 'after');
});

t.test('a second store on the same file is refused while the first is open', async (t) => {
  const path = join(dir, 'lock.db');
  const first = openSqliteStore({ path });
  t.teardown(() => first.close());
  t.throws(() => openSqliteStore({ path }), { kind: 'unavailable', message: /locked by another process/ });
  await first.close();
  const again = openSqliteStore({ path });
  t.teardown(() => again.close());
  t.pass('opens once the first is closed');
});

t.test('a long replay pages through history while writes continue, each revision once in order', async (t) => {
  const store = openSqliteStore({ path: join(dir, 'replay.db') });
  t.teardown(() => store.close());
  const start = await store.currentRevision();
  for (let i = 0; i < 1200; i++) await store.create(`/p/${i}`, enc(String(i)));
  const revs: number[] = [];
  const w = store.watch('/p/', { afterRevision: start, onEvent: (e) => revs.push(e.kv.modRevision), onError: (e) => t.fail(e.message) });
  t.teardown(() => w.stop());
  // Writes while the replay is between pages land in the pending buffer and in the log.
  for (let i = 0; i < 50; i++) {
    await store.update(`/p/${i}`, enc('again'));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(() => revs.length >= 1250, { timeoutMs: 10_000, what: '1250 events' });
  t.equal(revs.length, 1250);
  t.ok(revs.every((r, i) => r === start + 1 + i), 'contiguous and increasing');
});

t.test('a throwing consumer does not break the writer or the other watchers', async (t) => {
  const store = openSqliteStore({ path: join(dir, 'throw.db') });
  t.teardown(() => store.close());
  const got: number[] = [];
  const bad = store.watch('/x/', { afterRevision: 0, onEvent: () => { throw new Error('consumer bug'); }, onError: () => {} });
  t.teardown(() => bad.stop());
  const good = store.watch('/x/', { afterRevision: 0, onEvent: (e) => got.push(e.kv.modRevision), onError: () => {} });
  t.teardown(() => good.stop());
  await store.create('/x/a', enc('1'));
  await store.create('/x/b', enc('1'));
  await waitFor(() => got.length === 2, { timeoutMs: 5000, what: 'two events on the good watcher' });
  t.same(got, [1, 2]);
});

t.test('a write from inside onEvent does not overtake the event being delivered', async (t) => {
  const store = openSqliteStore({ path: join(dir, 'nested.db') });
  t.teardown(() => store.close());
  const seen: Record<string, number[]> = { first: [], second: [] };
  const w1 = store.watch('/n/', {
    afterRevision: 0,
    onEvent: (e) => {
      seen.first.push(e.kv.modRevision);
      if (e.kv.key === '/n/a') void store.create('/n/b', enc('from callback'));
    },
    onError: () => {},
  });
  t.teardown(() => w1.stop());
  const w2 = store.watch('/n/', { afterRevision: 0, onEvent: (e) => seen.second.push(e.kv.modRevision), onError: () => {} });
  t.teardown(() => w2.stop());
  await new Promise((resolve) => setImmediate(resolve));
  await store.create('/n/a', enc('1'));
  await waitFor(() => seen.second.length === 2, { timeoutMs: 5000, what: 'both events on the second watcher' });
  t.same(seen, { first: [1, 2], second: [1, 2] });
});

t.test('keys outside printable ascii are refused before anything is written', async (t) => {
  const store = openSqliteStore({ path: join(dir, 'keys.db') });
  t.teardown(() => store.close());
  for (const key of ['', 'with space', 'caf\u00e9', 'tab\t']) {
    await t.rejects(store.create(key, enc('x')), TypeError, JSON.stringify(key));
  }
  t.equal(await store.currentRevision(), 0);
  t.notOk(isStoreError(new TypeError('x'), 'unavailable'));
});

t.test('group commit: concurrent writes share a commit, a refused one leaves its batch-mates intact', async (t) => {
  const path = join(dir, 'group.db');
  const lines: { msg?: string; writes?: number }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as { msg?: string; writes?: number }); } });
  const store = openSqliteStore({ path, log });
  t.teardown(() => store.close());
  await store.create('/g/taken', enc('first'));
  const base = await store.currentRevision();
  const outcomes = await Promise.allSettled([
    ...Array.from({ length: 40 }, (_, i) => store.create(`/g/${i}`, enc(String(i)))),
    store.create('/g/taken', enc('again')),
    store.update('/g/taken', enc('stale'), base - 1),
    ...Array.from({ length: 40 }, (_, i) => store.create(`/g/${40 + i}`, enc(String(40 + i)))),
  ]);
  const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as unknown);
  t.equal(refused.length, 2, 'only the two bad writes fail');
  t.ok(isStoreError(refused[0], 'exists') && isStoreError(refused[1], 'conflict'), 'with their own errors');
  const revisions = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.modRevision] : [])).sort((a, b) => a - b);
  t.same(revisions, Array.from({ length: 80 }, (_, i) => base + 1 + i), 'the others get consecutive revisions');
  const commits = lines.filter((l) => l.msg === 'store batch committed');
  t.ok(commits.length < 80 && commits.some((c) => (c.writes ?? 0) > 1), `80 writes in ${commits.length} commits`);
  await store.close();
  const again = openSqliteStore({ path });
  t.teardown(() => again.close());
  t.equal((await again.list('/g/')).items.length, 81, 'every acknowledged write is in the file');
  t.equal(await again.currentRevision(), base + 80, 'and the revision with them');
});

t.test('a write resolves only after its event is published to watchers', async (t) => {
  const store = openSqliteStore({ path: join(dir, 'ack-order.db') });
  t.teardown(() => store.close());
  const seen: number[] = [];
  const w = store.watch('/o/', { afterRevision: 0, onEvent: (e) => seen.push(e.kv.modRevision), onError: () => {} });
  t.teardown(() => w.stop());
  await new Promise((resolve) => setImmediate(resolve));
  const writes = Array.from({ length: 20 }, (_, i) => store.create(`/o/${i}`, enc('x')).then((kv) => {
    t.ok(seen.includes(kv.modRevision), `revision ${kv.modRevision} published before its write resolved`);
    return kv;
  }));
  await Promise.all(writes);
  t.same(seen, Array.from({ length: 20 }, (_, i) => i + 1), 'in revision order');
});

t.test('close waits for writes already made', async (t) => {
  const path = join(dir, 'close-pending.db');
  const store = openSqliteStore({ path });
  const writes = Array.from({ length: 10 }, (_, i) => store.create(`/c/${i}`, enc('x')));
  await store.close();
  const results = await Promise.allSettled(writes);
  t.ok(results.every((r) => r.status === 'fulfilled'), 'all resolved');
  const again = openSqliteStore({ path });
  t.teardown(() => again.close());
  t.equal((await again.list('/c/')).items.length, 10);
});
