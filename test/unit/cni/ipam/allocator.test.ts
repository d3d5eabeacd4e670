// Allocation order, host-local style: round-robin after the last reserved address, wrapping through
// every range of the set once, never the gateway, network or broadcast address.
import t from 'tap';
import { formatIp, parseIp } from '../../../../cni/addr.ts';
import { parseBridgeConf, type RangeSet } from '../../../../cni/config.ts';
import { candidateAddresses, rangeForRequested, usableCount } from '../../../../cni/ipam/allocator.ts';

function set(...ranges: Record<string, unknown>[]): RangeSet {
  const c = parseBridgeConf({ cniVersion: '1.0.0', name: 'n', type: 't', ipam: { ranges: [ranges] } });
  if (c.ipam.kind !== 'builtin') throw new Error('builtin');
  return c.ipam.rangeSets[0]!;
}

const list = (s: RangeSet, last?: string) => [...candidateAddresses(s, last === undefined ? undefined : parseIp(last))].map(formatIp);

t.test('candidate order', async (t) => {
  const s29 = set({ subnet: '10.0.0.0/29' });
  t.same(list(s29), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'], 'first use: after the gateway, up to broadcast - 1');
  t.same(list(s29, '10.0.0.4'), ['10.0.0.5', '10.0.0.6', '10.0.0.2', '10.0.0.3', '10.0.0.4'], 'round-robin from the last reserved');
  t.same(list(s29, '10.0.0.6'), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'], 'wraps at the end');
  t.same(list(s29, '192.168.0.1'), list(s29), 'a last address outside the set starts over');
  const two = set({ subnet: '10.0.0.0/30' }, { subnet: '10.0.1.0/30' });
  t.same(list(two, '10.0.0.2'), ['10.0.1.2', '10.0.0.2'], 'continues into the next range of the set');
  const explicit = set({ subnet: '10.0.0.0/29', rangeStart: '10.0.0.0', rangeEnd: '10.0.0.7', gateway: '10.0.0.3' });
  t.same(list(explicit), ['10.0.0.1', '10.0.0.2', '10.0.0.4', '10.0.0.5', '10.0.0.6'], 'never network, gateway or broadcast');
  const v6 = set({ subnet: 'fd00::/125' });
  t.same(list(v6), ['fd00::2', 'fd00::3', 'fd00::4', 'fd00::5', 'fd00::6', 'fd00::7'], 'IPv6 has no broadcast');
});

t.test('requested addresses and counts', async (t) => {
  const s = set({ subnet: '10.0.0.0/24', rangeStart: '10.0.0.10', rangeEnd: '10.0.0.19' });
  t.ok(rangeForRequested(s, parseIp('10.0.0.15')!));
  t.notOk(rangeForRequested(s, parseIp('10.0.0.5')!), 'outside rangeStart..rangeEnd');
  t.notOk(rangeForRequested(set({ subnet: '10.0.0.0/24' }), parseIp('10.0.0.1')!), 'the gateway');
  t.equal(usableCount(s), 10n);
  t.equal(usableCount(set({ subnet: '10.0.0.0/24' })), 253n, '/24 minus gateway');
  t.equal(usableCount(set({ subnet: '10.0.0.0/29' })), 5n);
});
