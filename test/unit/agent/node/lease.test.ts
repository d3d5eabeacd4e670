import t from 'tap';
import { buildLeaseSpec, formatMicroTime } from '../../../../agent/node/lease.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

t.test('formatMicroTime', async (t) => {
  t.equal(formatMicroTime(T0 + 123), '2026-01-01T00:00:00.123000Z');
});

t.test('buildLeaseSpec', async (t) => {
  const cases = [
    { name: 'new lease', previous: undefined, acquire: formatMicroTime(T0 + 10_000) },
    { name: 'held by the node: acquireTime kept', previous: { holderIdentity: 'n1', acquireTime: 'A', renewTime: 'R' }, acquire: 'A' },
    { name: 'held by another: taken over', previous: { holderIdentity: 'other', acquireTime: 'A', renewTime: 'R' }, acquire: formatMicroTime(T0 + 10_000) },
  ];
  for (const c of cases) {
    const s = buildLeaseSpec('n1', c.previous, T0 + 10_000);
    t.same(s, { holderIdentity: 'n1', leaseDurationSeconds: 40, acquireTime: c.acquire, renewTime: formatMicroTime(T0 + 10_000) }, c.name);
  }
});
