import t from 'tap';
import { CoalescedPass } from '../../../common/coalesce.ts';

t.test('calls during a pass coalesce into one more pass; a stopped runner starts no further pass', async (t) => {
  let passes = 0;
  let release: (() => void) | undefined;
  let stopped = false;
  const runner = new CoalescedPass(async () => {
    passes++;
    await new Promise<void>((r) => { release = r; });
  }, () => stopped);
  t.equal(runner.running, undefined, 'idle');
  const first = runner.run();
  t.equal(passes, 1);
  const second = runner.run();
  const third = runner.run();
  t.equal(second, first, 'callers during a pass share its promise');
  t.equal(third, first);
  release!();
  await new Promise((r) => setImmediate(r));
  t.equal(passes, 2, 'three calls: the pass running plus exactly one more');
  release!();
  await first;
  t.equal(runner.running, undefined, 'idle again');

  const fourth = runner.run();
  runner.run();
  stopped = true;
  release!();
  await fourth;
  t.equal(passes, 3, 'after stop, the asked-for extra pass does not start');
});
