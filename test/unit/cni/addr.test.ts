// IP arithmetic: parsing and Go-compatible formatting (reservation file names must match host-local's).
import t from 'tap';
import { canonicalNet, formatCidr, formatIp, lastOf, netContains, netsOverlap, networkOf, parseCidr, parseIp } from '../../../cni/addr.ts';

t.test('parse and format round trips', async (t) => {
  const cases: [string, string | undefined][] = [
    ['10.22.0.5', '10.22.0.5'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['256.1.1.1', undefined],
    ['10.1.1', undefined],
    ['01.2.3.4', undefined],
    ['fd00::1', 'fd00::1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fd00:98::', 'fd00:98::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1::2::3', undefined],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['banana', undefined],
    ['', undefined],
  ];
  for (const [input, want] of cases) {
    const ip = parseIp(input);
    t.equal(ip === undefined ? undefined : formatIp(ip), want, JSON.stringify(input));
  }
});

t.test('CIDRs, networks and containment', async (t) => {
  t.equal(parseCidr('10.0.0.0/33'), undefined, 'prefix too long');
  t.equal(parseCidr('10.0.0.0'), undefined, 'no prefix');
  t.equal(parseCidr('fd00::/129'), undefined);
  const n = parseCidr('10.22.0.5/24')!;
  t.equal(formatCidr(n), '10.22.0.5/24', 'host bits kept');
  t.equal(formatCidr(canonicalNet(n)), '10.22.0.0/24');
  t.equal(formatIp(networkOf(n)), '10.22.0.0');
  t.equal(formatIp(lastOf(n)), '10.22.0.255');
  t.ok(netContains(n, parseIp('10.22.0.200')!));
  t.notOk(netContains(n, parseIp('10.22.1.1')!));
  t.notOk(netContains(n, parseIp('fd00::1')!), 'other family');
  t.ok(netsOverlap(parseCidr('10.0.0.0/8')!, parseCidr('10.3.0.0/16')!));
  t.notOk(netsOverlap(parseCidr('10.0.0.0/16')!, parseCidr('10.1.0.0/16')!));
  t.equal(formatIp(lastOf(parseCidr('fd00:1::/64')!)), 'fd00:1::ffff:ffff:ffff:ffff');
});
