import t from 'tap';
import { SchedulingQueue } from '../../../../controlplane/scheduler/queue.ts';

t.test('active: higher priority first, then arrival order; no duplicates', async (t) => {
  const q = new SchedulingQueue();
  q.add('a');
  q.add('b', 10);
  q.add('c');
  q.add('a');
  t.same([q.pop(), q.pop(), q.pop(), q.pop()], ['b', 'a', 'c', undefined]);
});

t.test('unschedulable pods wait for a change, then their backoff', async (t) => {
  let now = 0;
  const q = new SchedulingQueue({ now: () => now, initialBackoffMs: 1000, maxBackoffMs: 4000, unschedulableTimeoutMs: 60_000 });
  q.add('p');
  t.equal(q.pop(), 'p');
  q.markUnschedulable('p');
  t.equal(q.pop(), undefined);
  t.ok(q.isUnschedulable('p'));
  t.equal(q.moveAllToActive(), 1);
  t.equal(q.pop(), undefined, 'still backing off (1 s)');
  t.equal(q.nextBackoffDueMs(), 1000);
  now = 1000;
  t.equal(q.pop(), 'p');
  q.markUnschedulable('p');
  q.moveAllToActive();
  now = 2500;
  t.equal(q.pop(), undefined, 'second attempt backs off 2 s');
  now = 3000;
  t.equal(q.pop(), 'p');
  for (let i = 0; i < 5; i++) q.markFailed('p');
  t.equal(q.backoffMs('p'), 4000, 'capped');
  q.done('p');
  t.equal(q.backoffMs('p'), 0);
});

t.test('parked pods come back after the timeout; updates and deletes', async (t) => {
  let now = 0;
  const q = new SchedulingQueue({ now: () => now, initialBackoffMs: 1, unschedulableTimeoutMs: 60_000 });
  q.add('a');
  q.add('b');
  q.pop();
  q.pop();
  q.markUnschedulable('a');
  q.markUnschedulable('b');
  now = 30_000;
  t.equal(q.flushUnschedulableLeftover(), 0);
  q.update('b');
  now = 61_000;
  t.equal(q.flushUnschedulableLeftover(), 1, 'a after 60 s');
  now = 61_001; // past both backoffs
  t.same([q.pop(), q.pop()].sort(), ['a', 'b']);
  q.add('c');
  q.delete('c');
  t.equal(q.pop(), undefined);
  t.notOk(q.has('c'));
});

t.test('wait resolves on add', async (t) => {
  const q = new SchedulingQueue();
  const w = q.wait(5000);
  q.add('x');
  await w;
  t.equal(q.activeCount, 1);
});
