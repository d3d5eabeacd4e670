// Results in each version's format, and prevResult parsing of every supported version.
import t from 'tap';
import { formatResult, parseResult, type CniResult } from '../../../cni/result.ts';

const result: CniResult = {
  interfaces: [{ name: 'br0', mac: '02:00:00:00:00:01', mtu: 1500 }, { name: 'veth1', mac: '02:00:00:00:00:02' }, { name: 'eth0', mac: '02:00:00:00:00:03', sandbox: '/run/netns/x' }],
  ips: [{ address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 2 }, { address: 'fd00::5/64', interface: 2 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1400 }],
  dns: { nameservers: ['10.0.0.10'] },
};

t.test('format per version', async (t) => {
  const table: [string, boolean, boolean][] = [['0.3.0', true, false], ['0.3.1', true, false], ['0.4.0', true, false], ['1.0.0', false, false], ['1.1.0', false, true]];
  for (const [v, withVersion, withMtu] of table) {
    const out = formatResult(result, v) as { cniVersion: string; ips: { version?: string }[]; interfaces: { mtu?: number }[]; routes: { mtu?: number }[]; dns: object };
    t.equal(out.cniVersion, v);
    t.same(out.ips.map((i) => i.version), withVersion ? ['4', '6'] : [undefined, undefined], `${v}: ips[].version`);
    t.equal(out.interfaces[0]!.mtu, withMtu ? 1500 : undefined, `${v}: interfaces[].mtu`);
    t.equal(out.routes[0]!.mtu, withMtu ? 1400 : undefined, `${v}: route extras`);
    t.same(out.dns, { nameservers: ['10.0.0.10'] });
  }
  t.same(formatResult({ interfaces: [], ips: [], routes: [], dns: {} }, '1.0.0'), { cniVersion: '1.0.0', dns: {} }, 'empty lists are left out');
});

t.test('parse any version', async (t) => {
  const v031 = { cniVersion: '0.3.1', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ version: '4', address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 0 }], routes: [{ dst: '0.0.0.0/0' }], dns: {} };
  const r = parseResult(v031);
  t.same(r.ips, [{ address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 0 }]);
  t.same(parseResult(formatResult(result, '1.1.0')), result, '1.1.0 round trip');
  t.throws(() => parseResult({ ips: [{ address: '10.0.0.5' }] }), { name: 'CniError', cniCode: 7 }, 'address without prefix');
  t.throws(() => parseResult({ routes: [{ dst: 'x' }] }), { name: 'CniError', cniCode: 7 });
  t.throws(() => parseResult('x'), { name: 'CniError', cniCode: 7 });
});
