import t from 'tap';
import type { WatchEvent, WatchStream } from '../../../../controlplane/client/client.ts';
import { ApiClientError } from '../../../../controlplane/client/errors.ts';
import { Informer, type ListWatcher } from '../../../../controlplane/client/informer.ts';
import type { KubeList, Pod } from '../../../../controlplane/client/types.ts';
import { waitFor } from '../../../../common/wait.ts';

const pod = (name: string, rv: string, node = ''): Pod => ({ metadata: { name, namespace: 'default', resourceVersion: rv }, spec: { containers: [], nodeName: node } });

class FakeWatch implements WatchStream<Pod> {
  readonly #queue: (WatchEvent<Pod> | Error | 'end')[] = [];
  #wake: (() => void) | undefined;
  closed = false;
  push(ev: WatchEvent<Pod> | Error | 'end'): void { this.#queue.push(ev); this.#wake?.(); }
  close(): void { this.closed = true; this.#wake?.(); }
  async *[Symbol.asyncIterator](): AsyncGenerator<WatchEvent<Pod>> {
    for (;;) {
      const next = this.#queue.shift();
      if (next === undefined) {
        if (this.closed) return;
        await new Promise<void>((r) => { this.#wake = r; });
        continue;
      }
      if (next === 'end') return;
      if (next instanceof Error) throw next;
      yield next;
    }
  }
}

class FakeListWatcher implements ListWatcher<Pod> {
  readonly lists: (KubeList<Pod> | Error)[] = [];
  readonly watches: { rv: string; w: FakeWatch }[] = [];
  listCalls = 0;
  async list(): Promise<KubeList<Pod>> {
    this.listCalls++;
    const next = this.lists.shift();
    if (next === undefined) throw new Error('no list prepared');
    if (next instanceof Error) throw next;
    return next;
  }
  async watch(opts: { resourceVersion: string }): Promise<WatchStream<Pod>> {
    const w = new FakeWatch();
    this.watches.push({ rv: opts.resourceVersion, w });
    return w;
  }
}

function recorder(inf: Informer<Pod>): string[] {
  const log: string[] = [];
  inf.addHandler({
    onAdd: (p) => log.push(`add ${p.metadata.name}@${p.metadata.resourceVersion}`),
    onUpdate: (o, p) => log.push(`update ${p.metadata.name}@${o.metadata.resourceVersion}->${p.metadata.resourceVersion}`),
    onDelete: (p) => log.push(`delete ${p.metadata.name}`),
  });
  return log;
}

const expired = () => new ApiClientError({ kind: 'expired', status: 410, message: 'watch: too old resource version' });

t.test('list, then watch from the list version; events keep cache, handlers and indexes current', async (t) => {
  const lw = new FakeListWatcher();
  lw.lists.push({ metadata: { resourceVersion: '10' }, items: [pod('a', '3', 'n1'), pod('b', '4')] });
  const inf = new Informer<Pod>({ name: 'pods', listWatcher: lw, indexers: { node: (p) => (p.spec.nodeName ? [p.spec.nodeName] : []) } });
  const log = recorder(inf);
  inf.start();
  t.teardown(() => inf.stop());
  await inf.waitForSync();
  t.ok(inf.hasSynced());
  t.same(log, ['add a@3', 'add b@4']);
  await waitFor(() => lw.watches.length === 1, { timeoutMs: 2000, what: 'watch' });
  t.equal(lw.watches[0].rv, '10');
  const w = lw.watches[0].w;
  w.push({ type: 'MODIFIED', object: pod('b', '11', 'n1') });
  w.push({ type: 'ADDED', object: pod('c', '12') });
  w.push({ type: 'DELETED', object: pod('a', '13', 'n1') });
  w.push({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '14' }, spec: { containers: [] } } });
  await waitFor(() => inf.resourceVersion === '14', { timeoutMs: 2000, what: 'events applied' });
  t.same(log.slice(2), ['update b@4->11', 'add c@12', 'delete a']);
  t.same(inf.list().map((p) => p.metadata.name).sort(), ['b', 'c']);
  t.same(inf.byIndex('node', 'n1').map((p) => p.metadata.name), ['b']);
  t.equal(inf.getByName('default', 'c')?.metadata.resourceVersion, '12');
  // A watch that ends resumes from the last version, without a relist.
  w.push('end');
  await waitFor(() => lw.watches.length === 2, { timeoutMs: 2000, what: 'second watch' });
  t.equal(lw.watches[1].rv, '14');
  t.equal(lw.listCalls, 1);
  t.equal(inf.relists, 1);
});

t.test('410 expired: relist at once and report the difference as events', async (t) => {
  const lw = new FakeListWatcher();
  lw.lists.push({ metadata: { resourceVersion: '10' }, items: [pod('a', '3'), pod('b', '4'), pod('c', '5')] });
  lw.lists.push({ metadata: { resourceVersion: '30' }, items: [pod('a', '3'), pod('b', '20'), pod('d', '25')] });
  const inf = new Informer<Pod>({ name: 'pods', listWatcher: lw });
  const log = recorder(inf);
  inf.start();
  t.teardown(() => inf.stop());
  await waitFor(() => lw.watches.length === 1, { timeoutMs: 2000, what: 'watch' });
  lw.watches[0].w.push(expired());
  await waitFor(() => lw.watches.length === 2, { timeoutMs: 2000, what: 'watch after relist' });
  t.equal(lw.listCalls, 2);
  t.equal(lw.watches[1].rv, '30');
  t.same(log.slice(3), ['update b@4->20', 'add d@25', 'delete c'], 'unchanged a is not reported');
  t.equal(inf.relists, 2);
});

t.test('failures back off and retry; the cache survives', async (t) => {
  const lw = new FakeListWatcher();
  lw.lists.push(new Error('connection refused'));
  lw.lists.push({ metadata: { resourceVersion: '10' }, items: [pod('a', '3')] });
  const inf = new Informer<Pod>({ name: 'pods', listWatcher: lw, backoffInitialMs: 5, backoffMaxMs: 20 });
  inf.start();
  t.teardown(() => inf.stop());
  await inf.waitForSync();
  t.equal(lw.listCalls, 2);
  await waitFor(() => lw.watches.length === 1, { timeoutMs: 2000, what: 'watch' });
  lw.watches[0].w.push(new ApiClientError({ kind: 'unavailable', status: 0, message: 'reset' }));
  await waitFor(() => lw.watches.length === 2, { timeoutMs: 2000, what: 'watch retried' });
  t.equal(lw.watches[1].rv, '10', 'resumed, not relisted');
  t.equal(inf.size, 1);
});

t.test('handlers added after sync see the cache as adds; resync replays updates; stop ends the loop', async (t) => {
  const lw = new FakeListWatcher();
  lw.lists.push({ metadata: { resourceVersion: '10' }, items: [pod('a', '3')] });
  const inf = new Informer<Pod>({ name: 'pods', listWatcher: lw, resyncPeriodMs: 20 });
  inf.start();
  await inf.waitForSync();
  const log = recorder(inf);
  t.same(log, ['add a@3']);
  await waitFor(() => log.length >= 3, { timeoutMs: 2000, what: 'resyncs' });
  t.equal(log[1], 'update a@3->3');
  await inf.stop();
  t.ok(lw.watches.every((x) => x.w.closed), 'watch closed');
});
