import t from 'tap';
import { bytes, milliCpu, parseQuantity } from '../../../common/quantity.ts';

t.test('parseQuantity', async (t) => {
  const cases: [string | number, number | undefined][] = [
    ['1', 1], ['0.5', 0.5], ['100m', 0.1], ['128Mi', 134217728], ['1Gi', 2 ** 30], ['1G', 1e9], ['2k', 2000],
    ['1e3', 1000], ['1.5E2', 150], [3, 3], ['', undefined], ['abc', undefined], ['1.2.3', undefined], ['10 Mi', undefined], ['1Xi', undefined],
  ];
  for (const [q, want] of cases) t.equal(parseQuantity(q), want, JSON.stringify(q));
});

t.test('milliCpu and bytes round up', async (t) => {
  t.equal(milliCpu('100m'), 100);
  t.equal(milliCpu('0.1'), 100);
  t.equal(milliCpu('1'), 1000);
  t.equal(milliCpu('0.0001'), 1);
  t.equal(bytes('64Mi'), 67108864);
  t.equal(bytes('1.5'), 2);
  t.throws(() => milliCpu('x'), /parse cpu quantity "x": malformed/);
});
