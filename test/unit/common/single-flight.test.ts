import t from 'tap';
import { SingleFlight } from '../../../common/single-flight.ts';

t.test('concurrent calls for one key share one call; other keys and later calls run their own', async (t) => {
  const sf = new SingleFlight<string, number>();
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const call = async (): Promise<number> => {
    calls++;
    await gate;
    return calls;
  };
  const a = [sf.run('img', call), sf.run('img', call), sf.run('img', call)];
  const other = sf.run('other', async () => 99);
  t.equal(calls, 1, 'one call for three callers');
  t.equal(sf.size, 2);
  release();
  t.same(await Promise.all(a), [1, 1, 1], 'all three get its result');
  t.equal(await other, 99);
  t.equal(sf.size, 0, 'nothing kept once settled');
  t.equal(await sf.run('img', call), 2, 'a later call runs again');
});

t.test('a failure is shared by the waiting callers and not kept', async (t) => {
  const sf = new SingleFlight<string, number>();
  let n = 0;
  const fail = async (): Promise<number> => {
    n++;
    throw new Error(`pull failed ${n}`);
  };
  const both = [sf.run('x', fail), sf.run('x', fail)];
  for (const p of both) await t.rejects(p, { message: 'pull failed 1' });
  await t.rejects(sf.run('x', fail), { message: 'pull failed 2' }, 'tried again afterwards');
});
