import t from 'tap';
import { KeyedBackoff } from '../../../common/backoff.ts';

t.test('delays double from the initial value up to the cap', async (t) => {
  let now = 0;
  const b = new KeyedBackoff({ initialMs: 10_000, maxMs: 300_000, now: () => now });
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) {
    seen.push(b.next('k'));
    now += 1000;
  }
  t.same(seen, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
});

t.test('kubelet semantics: in backoff since an exit, and since the last update', async (t) => {
  const cases = [
    { name: 'no entry: never in backoff', bumps: 0, since: 0, at: 1, want: false, wantUpdate: false },
    { name: 'one bump: within 10 s of the exit', bumps: 1, since: 0, at: 9_999, want: true, wantUpdate: true },
    { name: 'one bump: 10 s after the exit', bumps: 1, since: 0, at: 10_000, want: false, wantUpdate: false },
    { name: 'two bumps: 20 s window', bumps: 2, since: 0, at: 15_000, want: true, wantUpdate: true },
  ];
  for (const c of cases) {
    const b = new KeyedBackoff({ initialMs: 10_000, maxMs: 300_000, now: () => 0 });
    for (let i = 0; i < c.bumps; i++) b.next('k', 0);
    t.equal(b.isInBackoffSince('k', c.since, c.at), c.want, c.name);
    t.equal(b.isInBackoffSinceUpdate('k', c.at), c.wantUpdate, `${c.name} (since update)`);
  }
});

t.test('an entry not bumped for resetAfterMs starts over', async (t) => {
  const b = new KeyedBackoff({ initialMs: 100, maxMs: 1000, resetAfterMs: 5000 });
  b.next('k', 0);
  b.next('k', 10);
  t.equal(b.get('k', 10)?.delayMs, 200);
  t.equal(b.get('k', 5011), undefined, 'expired');
  t.equal(b.next('k', 5011), 100, 'back at the initial delay');
  t.equal(b.notBefore('k', 6000, 6000), 6100);
});

t.test('default reset is twice the cap (10 min for the upstream 5 min cap)', async (t) => {
  const b = new KeyedBackoff({ initialMs: 10_000, maxMs: 300_000 });
  b.next('k', 0);
  b.next('k', 0);
  t.ok(b.get('k', 600_000));
  t.equal(b.get('k', 600_001), undefined);
});

t.test('jitter stretches within the fraction, from the injected random', async (t) => {
  const b = new KeyedBackoff({ initialMs: 1000, maxMs: 10_000, jitter: 0.5, random: () => 1 });
  t.equal(b.next('k', 0), 1500);
  const c = new KeyedBackoff({ initialMs: 1000, maxMs: 10_000, jitter: 0.5, random: () => 0 });
  t.equal(c.next('k', 0), 1000);
});

t.test('reset, resetPrefix, gc and invalid options', async (t) => {
  const b = new KeyedBackoff({ initialMs: 10, maxMs: 100 });
  b.next('pod1/a', 0);
  b.next('pod1/b', 0);
  b.next('pod2/a', 0);
  b.resetPrefix('pod1/');
  t.equal(b.size, 1);
  b.reset('pod2/a');
  t.equal(b.size, 0);
  b.next('x', 0);
  b.gc(1000);
  t.equal(b.size, 0);
  t.throws(() => new KeyedBackoff({ initialMs: 0, maxMs: 10 }), /need 0 < initial <= cap/);
  t.throws(() => new KeyedBackoff({ initialMs: 20, maxMs: 10 }), /need 0 < initial <= cap/);
});
