// Network config validation: defaults, host-local keys, and a table of bad configs, each with the
// spec code and a message naming the key and value.
import t from 'tap';
import { decodeConfig, parseBridgeConf, DEFAULT_DATA_DIR } from '../../../cni/config.ts';
import { CniError } from '../../../cni/errors.ts';
import { formatIp } from '../../../cni/addr.ts';

const base = { cniVersion: '1.0.0', name: 'net', type: 'moor-bridge', ipam: { subnet: '10.22.0.0/24' } };

t.test('defaults', async (t) => {
  const c = parseBridgeConf(base);
  t.equal(c.bridge, 'br0');
  t.same([c.isGateway, c.isDefaultGateway, c.ipMasq, c.hairpinMode, c.promiscMode, c.forceAddress], [false, false, false, false, false, false]);
  t.equal(c.mtu, undefined);
  t.equal(c.logLevel, 'info');
  if (c.ipam.kind !== 'builtin') throw new Error('want builtin');
  t.equal(c.ipam.dataDir, DEFAULT_DATA_DIR);
  const r = c.ipam.rangeSets[0]![0]!;
  t.same([formatIp(r.start), formatIp(r.end), formatIp(r.gateway)], ['10.22.0.1', '10.22.0.254', '10.22.0.1'], 'host-local range defaults');
  t.ok(Object.isFrozen(c));
  t.equal(parseBridgeConf({ ...base, isDefaultGateway: true }).isGateway, true, 'isDefaultGateway implies isGateway');
  t.equal(parseBridgeConf({ ...base, ipam: undefined }).ipam.kind, 'none');
  t.equal(parseBridgeConf({ ...base, ipam: {} }).ipam.kind, 'none', 'empty ipam is L2 only');
  t.same(parseBridgeConf({ ...base, ipam: { type: 'host-local', subnet: '10.0.0.0/8' } }).ipam, { kind: 'delegate', type: 'host-local' });
  t.equal(parseBridgeConf({ ...base, unknownKey: { any: 'thing' } }).name, 'net', 'unknown keys are ignored');
  t.equal(parseBridgeConf({ ...base, vlan: 0, macspoofchk: false }).name, 'net', 'unsupported options at their defaults are fine');
  t.same(c.nonMasqueradeCidrs, [], 'no extra masquerade exemption by default');
  t.same(parseBridgeConf({ ...base, nonMasqueradeCIDRs: ['10.240.7.9/16', 'fd00::1/48'] }).nonMasqueradeCidrs.map((n) => `${formatIp(n.ip)}/${n.prefix}`), ['10.240.0.0/16', 'fd00::/48'], 'nonMasqueradeCIDRs, canonical');
});

t.test('ranges: legacy subnet form, dual stack, host bits, requested addresses', async (t) => {
  const c = parseBridgeConf({
    ...base,
    runtimeConfig: { ips: ['10.22.0.9/24'], mac: '02:00:00:00:00:01' },
    ipam: { ranges: [[{ subnet: '10.22.0.77/24', rangeStart: '10.22.0.10', rangeEnd: '10.22.0.20', gateway: '10.22.0.254' }], [{ subnet: 'fd00::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.1.1/16', gw: '10.22.0.1' }], dataDir: '/tmp/x', resolvConf: '/etc/resolv.conf' },
  });
  if (c.ipam.kind !== 'builtin') throw new Error('want builtin');
  const [v4, v6] = c.ipam.rangeSets;
  t.equal(formatIp(v4![0]!.subnet.ip), '10.22.0.0', 'host bits cleared');
  t.same([formatIp(v4![0]!.start), formatIp(v4![0]!.end), formatIp(v4![0]!.gateway)], ['10.22.0.10', '10.22.0.20', '10.22.0.254']);
  t.same([formatIp(v6![0]!.start), formatIp(v6![0]!.end)], ['fd00::1', 'fd00::ffff:ffff:ffff:ffff'], 'IPv6 range runs to the last address');
  t.same(c.ipam.routes, [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.22.0.1' }], 'routes canonical');
  t.same(c.requestedIps.map(formatIp), ['10.22.0.9']);
  t.equal(c.mac, '02:00:00:00:00:01');
});

t.test('bad configs', async (t) => {
  const cases: { name: string; conf: Record<string, unknown>; code: number; msg: RegExp }[] = [
    { name: 'missing cniVersion', conf: { ...base, cniVersion: undefined }, code: 7, msg: /cniVersion is missing/ },
    { name: 'unsupported cniVersion', conf: { ...base, cniVersion: '0.2.0' }, code: 1, msg: /incompatible CNI version "0\.2\.0"/ },
    { name: 'non-string cniVersion', conf: { ...base, cniVersion: 1 }, code: 7, msg: /got 1/ },
    { name: 'missing name', conf: { ...base, name: undefined }, code: 7, msg: /name is missing/ },
    { name: 'path in name', conf: { ...base, name: 'a/b' }, code: 7, msg: /"a\/b"/ },
    { name: 'missing type', conf: { ...base, type: '' }, code: 7, msg: /type is missing/ },
    { name: 'bad bool', conf: { ...base, isGateway: 'true' }, code: 7, msg: /isGateway must be a boolean, got "true"/ },
    { name: 'bad mtu', conf: { ...base, mtu: 70000 }, code: 7, msg: /got 70000/ },
    { name: 'fractional mtu', conf: { ...base, mtu: 1500.5 }, code: 7, msg: /1500\.5/ },
    { name: 'bridge name', conf: { ...base, bridge: 'br/0' }, code: 7, msg: /"br\/0"/ },
    { name: 'vlan', conf: { ...base, vlan: 10 }, code: 2, msg: /vlan=10/ },
    { name: 'macspoofchk', conf: { ...base, macspoofchk: true }, code: 2, msg: /macspoofchk=true/ },
    { name: 'nonMasqueradeCIDRs not a list', conf: { ...base, nonMasqueradeCIDRs: '10.0.0.0/16' }, code: 7, msg: /nonMasqueradeCIDRs must be a list of CIDRs, got "10\.0\.0\.0\/16"/ },
    { name: 'nonMasqueradeCIDRs bad entry', conf: { ...base, nonMasqueradeCIDRs: ['10.0.0.0/16', '10.0.0.0'] }, code: 7, msg: /nonMasqueradeCIDRs\[1\]: invalid CIDR "10\.0\.0\.0"/ },
    { name: 'ipMasqBackend nftables', conf: { ...base, ipMasqBackend: 'nftables' }, code: 2, msg: /ipMasqBackend="nftables"/ },
    { name: 'hairpin + promisc', conf: { ...base, hairpinMode: true, promiscMode: true }, code: 7, msg: /cannot both/ },
    { name: 'ipam not an object', conf: { ...base, ipam: 'x' }, code: 7, msg: /ipam must be an object/ },
    { name: 'ipam without ranges', conf: { ...base, ipam: { dataDir: '/x' } }, code: 7, msg: /needs ranges or subnet/ },
    { name: 'invalid CIDR', conf: { ...base, ipam: { subnet: '10.0.0.0/40' } }, code: 7, msg: /invalid CIDR "10\.0\.0\.0\/40"/ },
    { name: '/31', conf: { ...base, ipam: { subnet: '10.0.0.0/31' } }, code: 7, msg: /too small/ },
    { name: 'rangeStart outside', conf: { ...base, ipam: { subnet: '10.0.0.0/24', rangeStart: '10.0.1.1' } }, code: 7, msg: /rangeStart 10\.0\.1\.1 is not in subnet 10\.0\.0\.0\/24/ },
    { name: 'rangeEnd garbage', conf: { ...base, ipam: { subnet: '10.0.0.0/24', rangeEnd: 'x' } }, code: 7, msg: /rangeEnd: invalid IP address "x"/ },
    { name: 'start after end', conf: { ...base, ipam: { subnet: '10.0.0.0/24', rangeStart: '10.0.0.9', rangeEnd: '10.0.0.3' } }, code: 7, msg: /after rangeEnd/ },
    { name: 'mixed families', conf: { ...base, ipam: { ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }]] } }, code: 7, msg: /mixes IPv4 and IPv6/ },
    { name: 'overlapping ranges', conf: { ...base, ipam: { ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: '10.0.0.0/16' }]] } }, code: 7, msg: /overlaps/ },
    { name: 'empty ranges', conf: { ...base, ipam: { ranges: [] } }, code: 7, msg: /non-empty list/ },
    { name: 'route without dst', conf: { ...base, ipam: { subnet: '10.0.0.0/24', routes: [{ gw: '10.0.0.1' }] } }, code: 7, msg: /routes\[0\]\.dst is missing/ },
    { name: 'relative dataDir', conf: { ...base, ipam: { subnet: '10.0.0.0/24', dataDir: 'rel' } }, code: 7, msg: /"rel" must be an absolute path/ },
    { name: 'bad requested ip', conf: { ...base, runtimeConfig: { ips: ['nope'] } }, code: 7, msg: /"nope"/ },
    { name: 'bad mac', conf: { ...base, runtimeConfig: { mac: '01:00:00:00:00:01' } }, code: 7, msg: /"01:00:00:00:00:01"/ },
    { name: 'bad log level', conf: { ...base, logLevel: 'loud' }, code: 7, msg: /"loud"/ },
    { name: 'bad prevResult', conf: { ...base, prevResult: { ips: [{ address: 'x' }] } }, code: 7, msg: /invalid prevResult/ },
    { name: 'bad valid-attachments', conf: { ...base, 'cni.dev/valid-attachments': [{ containerID: 1 }] }, code: 7, msg: /valid-attachments\[0\]/ },
  ];
  for (const c of cases) {
    try {
      parseBridgeConf(c.conf);
      t.fail(`${c.name}: accepted`);
    } catch (err) {
      t.ok(err instanceof CniError, `${c.name}: a CniError`);
      t.equal((err as CniError).cniCode, c.code, `${c.name}: code ${c.code}`);
      t.match((err as Error).message, c.msg, `${c.name}: message`);
    }
  }
});

t.test('decodeConfig', async (t) => {
  t.same(decodeConfig('{"a":1}'), { a: 1 });
  t.throws(() => decodeConfig('{'), { name: 'CniError', cniCode: 6 });
  t.throws(() => decodeConfig('"str"'), { name: 'CniError', cniCode: 6 });
  t.throws(() => decodeConfig(''), { name: 'CniError', cniCode: 6 });
});
