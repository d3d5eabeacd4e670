// The built-in IPAM end to end on a temporary store: one address per range set, round robin,
// requested addresses, exhaustion, rollback, DNS from resolv.conf, GC and STATUS answers.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIp, parseIp } from '../../../../cni/addr.ts';
import { parseBridgeConf } from '../../../../cni/config.ts';
import { BuiltinIpam, parseResolvConf, requestedFromArgs, type BuiltinIpamConf } from '../../../../cni/ipam/builtin.ts';
import { silentCniLogger } from '../../../../cni/log.ts';

function ipam(t: { teardown(fn: () => void): void }, ipamConf: Record<string, unknown>): BuiltinIpam {
  const dir = mkdtempSync(join(tmpdir(), 'mbt-ipam-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const c = parseBridgeConf({ cniVersion: '1.0.0', name: 'net', type: 't', ipam: { dataDir: dir, ...ipamConf } });
  return new BuiltinIpam({ conf: c.ipam as BuiltinIpamConf, network: 'net', log: silentCniLogger() });
}

t.test('allocate, round robin, release, exhaustion', async (t) => {
  const a = ipam(t, { subnet: '10.0.0.0/29', routes: [{ dst: '0.0.0.0/0' }] });
  const r1 = a.allocate('c1', 'eth0', []);
  t.same(r1.addresses.map((x) => [formatIp(x.ip), x.prefix, formatIp(x.gateway!)]), [['10.0.0.2', 29, '10.0.0.1']]);
  t.same(r1.routes, [{ dst: '0.0.0.0/0' }]);
  const r2 = a.allocate('c2', 'eth0', []);
  t.equal(formatIp(r2.addresses[0]!.ip), '10.0.0.3');
  a.release('c1', 'eth0', a.held('c1', 'eth0', []));
  t.equal(formatIp(a.allocate('c3', 'eth0', []).addresses[0]!.ip), '10.0.0.4', 'round robin: a released address is not reused at once');
  a.allocate('c4', 'eth0', []);
  a.allocate('c5', 'eth0', []);
  t.equal(formatIp(a.allocate('c6', 'eth0', []).addresses[0]!.ip), '10.0.0.2', 'wraps to the released one');
  t.throws(() => a.allocate('c7', 'eth0', []), { cniCode: 101, message: /10\.0\.0\.0\/29: no free address left/ });
  t.match(a.unavailableReason()!, /exhausted \(5 of 5/);
  t.equal(a.store.list().length, 5, 'the failed allocation reserved nothing');
});

t.test('dual stack, requested address, rollback of the first set when the second fails', async (t) => {
  const a = ipam(t, { ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: 'fd00::/120' }]] });
  const r = a.allocate('c1', 'eth0', [parseIp('fd00::42')!]);
  t.same(r.addresses.map((x) => formatIp(x.ip)), ['10.0.0.2', 'fd00::42']);
  t.throws(() => a.allocate('c2', 'eth0', [parseIp('fd00::42')!]), { cniCode: 103, message: /fd00::42: already reserved by c1/ });
  t.same(a.held('c2', 'eth0', []), [], 'the IPv4 address reserved before the failure was released');
  t.throws(() => a.allocate('c3', 'eth0', [parseIp('10.9.9.9')!]), { cniCode: 7, message: /10\.9\.9\.9: not in any configured range/ });
  t.throws(() => a.allocate('c3', 'eth0', [parseIp('10.0.0.1')!]), { cniCode: 7, message: /gateway/ });
  t.same(a.check('c1', 'eth0', r.addresses.map((x) => x.ip)), []);
  t.match(a.check('c9', 'eth0', [r.addresses[0]!.ip]).join(), /reserved by c1\/eth0, not c9\/eth0/);
});

t.test('GC keeps valid attachments only', async (t) => {
  const a = ipam(t, { subnet: '10.0.0.0/24' });
  for (const c of ['keep', 'drop1', 'drop2']) a.allocate(c, 'eth0', []);
  const released = a.collect((id) => id === 'keep');
  t.equal(released.length, 2);
  t.same(a.store.list().map((r) => r.containerId), ['keep']);
});

t.test('resolv.conf and CNI_ARGS', async (t) => {
  t.same(parseResolvConf('# c\nnameserver 10.0.0.10\nnameserver 10.0.0.11\nsearch a.b c.d\ndomain a.b\noptions ndots:5 edns0\n'), {
    nameservers: ['10.0.0.10', '10.0.0.11'], domain: 'a.b', search: ['a.b', 'c.d'], options: ['ndots:5', 'edns0'],
  });
  const dir = mkdtempSync(join(tmpdir(), 'mbt-resolv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 1.1.1.1\n');
  const a = ipam(t, { subnet: '10.0.0.0/24', resolvConf: join(dir, 'resolv.conf') });
  t.same(a.allocate('c1', 'eth0', []).dns, { nameservers: ['1.1.1.1'] });
  const b = ipam(t, { subnet: '10.0.0.0/24', resolvConf: join(dir, 'missing') });
  t.throws(() => b.allocate('c1', 'eth0', []), { name: 'CniError', cniCode: 5 });
  t.same(b.store.list(), [], 'nothing kept when resolv.conf cannot be read');
  t.same(requestedFromArgs(new Map([['IP', '10.0.0.5,fd00::5/64']])).map(formatIp), ['10.0.0.5', 'fd00::5']);
  t.throws(() => requestedFromArgs(new Map([['IP', 'x']])), { name: 'CniError', cniCode: 4 });
});
