import t from 'tap';
import { ApiClientError } from '../../../../controlplane/client/errors.ts';
import { WorkQueue } from '../../../../controlplane/client/work-queue.ts';
import { waitFor } from '../../../../common/wait.ts';

t.test('a key added while it runs runs exactly once more; keys run concurrently', async (t) => {
  const runs: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const q = new WorkQueue({
    name: 'test',
    reconcile: async (key) => {
      runs.push(key);
      if (key === 'a' && runs.length === 1) await gate;
    },
  });
  t.teardown(() => q.stop());
  q.add('a');
  q.add('a');
  q.add('a');
  q.add('b');
  await waitFor(() => runs.includes('b'), { timeoutMs: 1000, what: 'b to run while a waits' });
  release();
  await waitFor(() => runs.filter((k) => k === 'a').length === 2, { timeoutMs: 1000, what: 'a again' });
  await q.idle();
  t.same(runs.filter((k) => k === 'a').length, 2);
  t.equal(q.processed, 3);
});

t.test('failures retry with growing delays until success resets them', async (t) => {
  const times: number[] = [];
  const q = new WorkQueue({
    name: 'test', backoffInitialMs: 20, backoffMaxMs: 1000,
    reconcile: async () => {
      times.push(Date.now());
      if (times.length < 4) throw new ApiClientError({ kind: 'conflict', status: 409, message: 'modified' });
    },
  });
  t.teardown(() => q.stop());
  q.add('k');
  await waitFor(() => times.length === 4, { timeoutMs: 3000, what: 'four attempts' });
  const gaps = times.slice(1).map((x, i) => x - times[i]);
  t.ok(gaps[0] >= 15, `first retry waited ${gaps[0]} ms`);
  t.ok(gaps[2] > gaps[0], `delays grow: ${gaps.join(', ')}`);
  await q.idle();
  t.equal(q.failures('k'), 0, 'success forgets the failures');
});

t.test('requeueAfterMs runs the key again later; addAfter keeps the earliest time; stop cancels', async (t) => {
  let n = 0;
  const q = new WorkQueue({ name: 'test', reconcile: async () => { n++; return n === 1 ? { requeueAfterMs: 30 } : undefined; } });
  q.add('k');
  await waitFor(() => n === 2, { timeoutMs: 1000, what: 'requeued run' });
  q.addAfter('k', 10_000);
  q.addAfter('k', 20);
  await waitFor(() => n === 3, { timeoutMs: 1000, what: 'earliest delay wins' });
  q.addAfter('k', 50);
  await q.stop();
  await new Promise((r) => setTimeout(r, 80));
  t.equal(n, 3, 'nothing runs after stop');
});
