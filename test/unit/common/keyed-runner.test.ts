import t from 'tap';
import { KeyedRunner } from '../../../common/keyed-runner.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

t.test('one run per key at a time; a trigger mid-run causes exactly one more run', async (t) => {
  const gates: ReturnType<typeof deferred>[] = [];
  const runs: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const r = new KeyedRunner<string>({
    task: async (k) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      runs.push(k);
      const g = deferred();
      gates.push(g);
      await g.promise;
      inFlight--;
    },
  });
  r.trigger('a');
  r.trigger('a');
  r.trigger('a');
  t.equal(runs.length, 1);
  t.ok(r.isRunning('a'));
  gates[0].resolve();
  await new Promise((res) => setImmediate(res));
  t.equal(runs.length, 2, 'one more run for the three triggers');
  gates[1].resolve();
  await r.idle();
  t.equal(runs.length, 2);
  t.equal(maxInFlight, 1);
});

t.test('different keys run concurrently, up to maxConcurrent; queued keys run in order', async (t) => {
  const gates = new Map<string, ReturnType<typeof deferred>>();
  const started: string[] = [];
  const r = new KeyedRunner<string>({
    maxConcurrent: 2,
    task: async (k) => {
      started.push(k);
      const g = deferred();
      gates.set(k, g);
      await g.promise;
    },
  });
  for (const k of ['a', 'b', 'c', 'd']) r.trigger(k);
  r.trigger('c'); // already queued: no duplicate
  t.same(started, ['a', 'b']);
  t.equal(r.active, 2);
  gates.get('a')!.resolve();
  await new Promise((res) => setImmediate(res));
  t.same(started, ['a', 'b', 'c']);
  gates.get('b')!.resolve();
  gates.get('c')!.resolve();
  await new Promise((res) => setImmediate(res));
  gates.get('d')?.resolve();
  await r.idle();
  t.same(started, ['a', 'b', 'c', 'd']);
});

t.test('a failing task is reported and the runner carries on', async (t) => {
  const errors: string[] = [];
  let n = 0;
  const r = new KeyedRunner<string>({
    task: async () => {
      n++;
      if (n === 1) throw new Error('boom');
    },
    onError: (k, err) => errors.push(`${k}: ${(err as Error).message}`),
  });
  r.trigger('x');
  await r.idle();
  r.trigger('x');
  await r.idle();
  t.same(errors, ['x: boom']);
  t.equal(n, 2);
});

t.test('stop waits for runs in flight and refuses new triggers', async (t) => {
  const g = deferred();
  let runs = 0;
  const r = new KeyedRunner<string>({
    task: async () => {
      runs++;
      await g.promise;
    },
  });
  r.trigger('a');
  const stopped = r.stop();
  r.trigger('b');
  g.resolve();
  await stopped;
  t.equal(runs, 1);
});
