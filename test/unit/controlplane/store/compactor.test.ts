// The compactor compacts at the revision seen one tick earlier, so one interval of history stays.
import t from 'tap';
import { silentLogger } from '../../../../common/log.ts';
import { Compactor } from '../../../../controlplane/store/compactor.ts';
import { StoreError } from '../../../../controlplane/store/types.ts';

t.test('each tick compacts at the previous tick revision', async (t) => {
  const revisions = [10, 25, 25, 40];
  const compacted: number[] = [];
  let failNext = false;
  const store = {
    currentRevision: async () => revisions.shift() ?? 50,
    compact: async (rev: number) => {
      if (failNext) {
        failNext = false;
        throw new StoreError('unavailable', 'compact: etcd down');
      }
      compacted.push(rev);
    },
  };
  const c = new Compactor({ store, intervalMs: 0, log: silentLogger() });
  await c.tick();
  t.same(compacted, [], 'the first tick only records the revision');
  await c.tick();
  t.same(compacted, [10]);
  failNext = true;
  await c.tick();
  t.same(compacted, [10], 'a failure is logged, not thrown');
  await c.tick();
  t.same(compacted, [10, 25], 'the next tick carries on');
});
