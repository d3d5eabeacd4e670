// The Store contract against a real etcd (Debian's etcd-server) on loopback, plus what only etcd can
// show: watches resume across an etcd restart without losing or repeating a revision, and an
// unreachable endpoint fails `unavailable` within the deadline.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../../controlplane/store/index.ts';
import { waitFor } from '../../../../common/wait.ts';
import { openEtcdStore } from '../../../../controlplane/store/etcd.ts';
import { isStoreError, type Store, type WatchEvent } from '../../../../controlplane/store/types.ts';
import { etcdMissing, startEtcd } from '../../../helpers/etcd.ts';
import { runStoreContract } from '../../../helpers/store-contract.ts';

const skip = etcdMissing() ?? false;

/** A CA, a serving certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeCertificates(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=moor-test-ca', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', '127.0.0.1'], ['client', 'moor-server']] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`));
  }
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
}
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

  t.test('watches share one etcd watch per prefix; late and narrower watches join it', async (t) => {
    const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    t.teardown(() => store.close());
    const before = await store.create('/feed/a/0', enc('0'));
    const start = await store.currentRevision();
    const got: Record<string, number[]> = { first: [], second: [], narrow: [], old: [] };
    const watch = (name: string, prefix: string, after: number) =>
      store.watch(prefix, { afterRevision: after, onEvent: (e: WatchEvent) => got[name].push(e.kv.modRevision), onError: (e) => t.fail(e.message) });
    const first = watch('first', '/feed/', start);
    t.teardown(() => first.stop());
    const a1 = await store.create('/feed/a/1', enc('1'));
    await waitFor(() => got.first.length === 1, { timeoutMs: 5000, what: 'the first event' });
    // Joins the running feed and replays its buffer from `start`.
    const second = watch('second', '/feed/', start);
    t.teardown(() => second.stop());
    const narrow = watch('narrow', '/feed/b/', start);
    t.teardown(() => narrow.stop());
    t.equal(store.etcdWatchCount, 1, 'three watches, one etcd watch');
    // Older than the feed's start: a feed of its own.
    const old = watch('old', '/feed/', before.modRevision - 1);
    t.teardown(() => old.stop());
    t.equal(store.etcdWatchCount, 2, 'a watch from before the feed starts its own');
    const b1 = await store.create('/feed/b/1', enc('1'));
    await waitFor(() => got.first.length === 2 && got.second.length === 2 && got.narrow.length === 1 && got.old.length === 3, {
      timeoutMs: 5000,
      what: `every watch caught up (${JSON.stringify(got)})`,
    });
    t.same(got, { first: [a1.modRevision, b1.modRevision], second: [a1.modRevision, b1.modRevision], narrow: [b1.modRevision], old: [before.modRevision, a1.modRevision, b1.modRevision] });
    t.equal(store.watchCount, 4);
    [first, second, narrow, old].forEach((w) => w.stop());
    t.equal(store.watchCount, 0);
    t.equal(store.etcdWatchCount, 0, 'the etcd watches end with their last member');
  });

  t.test('https etcd with client certificates, opened from a datastore endpoint', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'moor-etcd-tls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const pki = makeCertificates(dir);
    const secure = await startEtcd({ tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca } });
    t.teardown(() => secure.stop());
    t.match(secure.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    const store = await openStore({ endpoint: secure.endpoint, dataDir: dir, compactIntervalMs: 0, tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey } });
    t.teardown(() => store.close());
    const kv = await store.create('/tls/a', enc('1'));
    t.equal((await store.get('/tls/a'))?.modRevision, kv.modRevision, 'reads and writes over TLS');
    const refused = await openStore({ endpoint: secure.endpoint, dataDir: dir, compactIntervalMs: 0, tls: { caFile: pki.ca } }).then(
      (s) => s.close().then(() => undefined),
      (e: unknown) => e,
    );
    t.ok(isStoreError(refused, 'unavailable'), 'without a client certificate: unavailable', { got: String(refused) });
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
