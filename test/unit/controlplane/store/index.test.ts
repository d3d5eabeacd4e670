// Which backend a --datastore-endpoint names, and openStore wiring for the embedded store.
import t from 'tap';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, parseStoreEndpoint, StoreConfigError, type StoreBackend } from '../../../../controlplane/store/index.ts';

t.test('parseStoreEndpoint', async (t) => {
  const cases: { name: string; endpoint: string | undefined; want?: StoreBackend; error?: RegExp }[] = [
    { name: 'absent', endpoint: undefined, want: { kind: 'sqlite', path: '/data/store.db' } },
    { name: 'blank', endpoint: '  ', want: { kind: 'sqlite', path: '/data/store.db' } },
    { name: 'one etcd', endpoint: 'http://127.0.0.1:2379', want: { kind: 'etcd', endpoints: ['http://127.0.0.1:2379'] } },
    { name: 'default port', endpoint: 'https://etcd.example', want: { kind: 'etcd', endpoints: ['https://etcd.example:2379'] } },
    { name: 'several, spaces', endpoint: 'http://a:2379, http://b:2379/', want: { kind: 'etcd', endpoints: ['http://a:2379', 'http://b:2379'] } },
    { name: 'ipv6', endpoint: 'http://[::1]:2379', want: { kind: 'etcd', endpoints: ['http://[::1]:2379'] } },
    { name: 'k3s sqlite dsn', endpoint: 'sqlite:///var/lib/x.db', error: /scheme sqlite is not supported/ },
    { name: 'not a url', endpoint: 'etcd:2379x', error: /scheme etcd is not supported|not a url/ },
    { name: 'bare host', endpoint: '127.0.0.1:2379', error: /not a url|not supported/ },
    { name: 'a path', endpoint: 'http://a:2379/v3', error: /only scheme, host and port/ },
    { name: 'mixed schemes', endpoint: 'http://a:2379,https://b:2379', error: /mixes http and https/ },
  ];
  for (const c of cases) {
    if (c.error !== undefined) {
      t.throws(() => parseStoreEndpoint(c.endpoint, '/data'), c.error, c.name);
      t.throws(() => parseStoreEndpoint(c.endpoint, '/data'), StoreConfigError, `${c.name}: a StoreConfigError`);
    } else {
      t.same(parseStoreEndpoint(c.endpoint, '/data'), c.want, c.name);
    }
  }
});

t.test('openStore with no endpoint opens SQLite in the data dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moor-open-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openStore({ dataDir: join(dir, 'server'), compactIntervalMs: 0 });
  t.teardown(() => store.close());
  await store.create('/k', Buffer.from('v'));
  t.ok(existsSync(join(dir, 'server', 'store.db')), 'store.db created, data dir made');
});
