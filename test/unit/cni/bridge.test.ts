// The bridge type with in-memory boundaries: the ADD plan (pure, as a table), rollback when any
// boundary fails (counting what is left: reservations, links, rules), DEL on partial state, CHECK
// and GC decisions.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIp } from '../../../cni/addr.ts';
import { addBridge, checkBridge, conflictingBridgeAddrs, delBridge, gcBridge, planBridgeAdd } from '../../../cni/bridge.ts';
import { parseBridgeConf, type BridgeConf } from '../../../cni/config.ts';
import { createIpam } from '../../../cni/ipam/ipam.ts';
import { IpamStore } from '../../../cni/ipam/store.ts';
import { silentCniLogger } from '../../../cni/log.ts';
import { formatResult } from '../../../cni/result.ts';
import { parseEnvironment, type Invocation } from '../../../cni/skel.ts';
import { FakeFirewall, FakeIp, FakeSysctl } from '../../fixtures/cni/fakes.ts';

const log = silentCniLogger();
const NETNS = '/run/netns/pod1';

function setup(t: { teardown(fn: () => void): void }, extra: Record<string, unknown> = {}, containerId = 'c1') {
  const dir = mkdtempSync(join(tmpdir(), 'mbt-bridge-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const raw = { cniVersion: '1.0.0', name: 'net', type: 'moor-bridge', bridge: 'br9', isGateway: true, isDefaultGateway: true, ipMasq: true, ipam: { subnet: '10.0.0.0/24', dataDir: dir }, ...extra };
  const conf = parseBridgeConf(raw);
  const inv = parseEnvironment({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: containerId, CNI_NETNS: NETNS, CNI_IFNAME: 'eth0' });
  const ip = new FakeIp();
  const firewall = new FakeFirewall();
  const sysctl = new FakeSysctl();
  const deps = { ip, firewall, sysctl, log, random: () => 0.5 };
  const input = (c: BridgeConf = conf, i: Invocation = inv) => ({ conf: c, inv: i, ipam: createIpam({ conf: c, inv: i, stdin: JSON.stringify(raw), env: {}, log }) });
  const store = new IpamStore(dir, 'net');
  return { conf, inv, ip, firewall, sysctl, deps, input, store, raw };
}

t.test('plan', async (t) => {
  const base = { cniVersion: '1.0.0', name: 'net', type: 't', bridge: 'br9', ipam: { subnet: '10.0.0.0/24' } };
  const inv = parseEnvironment({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: NETNS, CNI_IFNAME: 'eth0' });
  const lease = { addresses: [{ ip: parseIp('10.0.0.5')!, prefix: 24, gateway: parseIp('10.0.0.1')! }], routes: [{ dst: '192.168.0.0/16' }], dns: {} };
  const plan = (extra: Record<string, unknown>, l: Parameters<typeof planBridgeAdd>[0]['ipam'] = lease) => planBridgeAdd({ conf: parseBridgeConf({ ...base, ...extra }), inv, ipam: l, hostMac: '02:00:00:00:00:0a', containerMac: '02:00:00:00:00:0b', hostNetns: '4242' });
  const cases: { name: string; extra: Record<string, unknown>; check: (p: ReturnType<typeof plan>) => void }[] = [
    { name: 'plain: no gateway on the bridge, no masquerade, no forwarding', extra: {}, check: (p) => {
      t.same(p.bridgeAddrs, []);
      t.same(p.masq, []);
      t.same(p.forwarding, []);
      t.same(p.routes, [{ dst: '192.168.0.0/16' }]);
      t.same(p.containerOps.find((o) => o.op === 'add-route'), { op: 'add-route', dst: '192.168.0.0/16', gw: '10.0.0.1', dev: 'eth0' }, 'route via the IPAM gateway');
    } },
    { name: 'isGateway: gateway with the subnet prefix on the bridge, forwarding on', extra: { isGateway: true }, check: (p) => {
      t.same(p.bridgeAddrs, [{ family: 4, cidr: '10.0.0.1/24' }]);
      t.same(p.forwarding, [4]);
      t.notOk(p.routes.some((r) => r.dst === '0.0.0.0/0'), 'no default route without isDefaultGateway');
    } },
    { name: 'isDefaultGateway: default route via the gateway', extra: { isDefaultGateway: true }, check: (p) => t.same(p.routes, [{ dst: '192.168.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.0.0.1' }]) },
    { name: 'ipMasq: one target per address with its subnet', extra: { ipMasq: true }, check: (p) => t.same(p.masq, [{ family: 4, source: '10.0.0.5/32', subnet: '10.0.0.0/24' }]) },
    { name: 'ipMasq with nonMasqueradeCIDRs: the same-family ones also exempt', extra: { ipMasq: true, nonMasqueradeCIDRs: ['10.0.0.0/16', 'fd00::/48'] }, check: (p) => t.same(p.masq, [{ family: 4, source: '10.0.0.5/32', subnet: '10.0.0.0/24', alsoExempt: ['10.0.0.0/16'] }]) },
    { name: 'mtu and hairpin', extra: { mtu: 1400, hairpinMode: true }, check: (p) => {
      t.same(p.containerOps[0], { op: 'add-veth', name: 'eth0', mac: '02:00:00:00:00:0b', mtu: 1400, peerName: p.hostVeth, peerMac: '02:00:00:00:00:0a', peerNetns: '4242' }, 'the pod batch makes the pair first, host end to the host netns');
      t.ok(p.hostOps.some((o) => o.op === 'set-hairpin'));
    } },
  ];
  for (const c of cases) await t.test(c.name, async () => c.check(plan(c.extra)));
  t.throws(() => plan({ isDefaultGateway: true }, { ...lease, routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.254' } as never] }), { name: 'CniError', message: /conflicts with the IPAM default route via 10\.0\.0\.254/ });
  const noGw = { addresses: [{ ip: parseIp('10.0.0.5')!, prefix: 24 }], routes: [], dns: {} };
  t.same(plan({ isGateway: true }, noGw).ips, [{ address: '10.0.0.5/24', gateway: '10.0.0.1' }], 'isGateway without an IPAM gateway uses the first host');
});

t.test('conflicting bridge addresses', async (t) => {
  const link = { ifname: 'br', ifindex: 1, addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24 }, { family: 'inet', local: '10.9.0.1', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }, { family: 'inet6', local: 'fd00::9', prefixlen: 64 }] };
  t.same(conflictingBridgeAddrs(link, [{ family: 4, cidr: '10.0.0.1/24' }]), ['10.9.0.1/24'], 'another IPv4 address conflicts');
  t.same(conflictingBridgeAddrs(link, [{ family: 6, cidr: 'fd00::1/64' }]), ['fd00::9/64'], 'an overlapping IPv6 address conflicts, link-local does not');
  t.same(conflictingBridgeAddrs(link, []), [], 'no gateway wanted: nothing conflicts');
});

t.test('ADD happy path: two ip batches and one masquerade transaction', async (t) => {
  const s = setup(t);
  const result = await addBridge(s.input(), s.deps);
  t.same(s.ip.calls.map((c) => c.netns), [NETNS, 'host'], 'one batch in the pod, then one in the host');
  t.equal(s.firewall.ensureCalls, 1);
  t.same(result.ips, [{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 }]);
  t.same(result.interfaces.map((i) => i.name), ['br9', result.interfaces[1]!.name, 'eth0']);
  t.same(s.sysctl.values.get('net.ipv4.ip_forward'), '1');
  t.same(s.ip.get(NETNS, 'eth0')?.addrs, ['10.0.0.2/24']);
  t.equal(s.store.list().length, 1);
  const v031 = formatResult(result, '0.3.1') as { ips: { version: string }[] };
  t.equal(v031.ips[0]!.version, '4');
});

t.test('ADD rollback: a failure at any step leaves nothing', async (t) => {
  const steps: { name: string; fail: (s: ReturnType<typeof setup>) => void; code?: number }[] = [
    { name: 'veth creation', fail: (s) => (s.ip.failWhen = (op) => (op.op === 'add-veth' ? 'RTNETLINK answers: Operation not permitted' : undefined)) },
    { name: 'attach to the bridge', fail: (s) => (s.ip.failWhen = (op) => (op.op === 'attach' ? 'RTNETLINK answers: Operation not permitted' : undefined)) },
    { name: 'bridge up', fail: (s) => (s.ip.failWhen = (op) => (op.op === 'set-up' && op.name === 'br9' ? 'RTNETLINK answers: Operation not permitted' : undefined)) },
    { name: 'pod address', fail: (s) => (s.ip.failWhen = (op, ns) => (ns === NETNS && op.op === 'add-addr' ? 'RTNETLINK answers: Permission denied' : undefined)) },
    { name: 'pod route', fail: (s) => (s.ip.failWhen = (op) => (op.op === 'add-route' ? 'Error: Nexthop has invalid gateway.' : undefined)) },
    { name: 'masquerade', fail: (s) => (s.firewall.failEnsure = 'iptables-restore: line 3 failed') },
    { name: 'interface exists in the pod', code: 107, fail: (s) => void s.ip.links.set(`${NETNS}/eth0`, { ns: NETNS, name: 'eth0', kind: 'veth', addrs: [], up: true }) },
  ];
  for (const step of steps) {
    await t.test(step.name, async (t) => {
      const s = setup(t);
      step.fail(s);
      const preexisting = s.ip.count('veth');
      await t.rejects(addBridge(s.input(), s.deps), step.code === undefined ? { name: 'CniError' } : { name: 'CniError', cniCode: step.code });
      t.same(s.store.list(), [], 'no reservation');
      t.same(s.store.findByAttachment('c1', 'eth0'), []);
      t.equal(s.ip.count('veth'), preexisting, 'no veth of ours');
      t.equal(s.firewall.rules.size, 0, 'no masquerade rules');
    });
  }
});

t.test('DEL: with prevResult, without, repeated, and with a stuck veth', async (t) => {
  const s = setup(t);
  const result = await addBridge(s.input(), s.deps);
  const withPrev = parseBridgeConf({ ...s.raw, prevResult: formatResult(result, '1.0.0') });
  const delInv = parseEnvironment({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0' });
  s.ip.failWhen = (op) => (op.op === 'del-link' ? 'RTNETLINK answers: Device or resource busy' : undefined);
  await t.rejects(delBridge(s.input(withPrev, delInv), s.deps), /busy/);
  t.equal(s.store.list().length, 1, 'the address stays reserved while its veth could not be removed');
  s.ip.failWhen = undefined;
  await delBridge(s.input(withPrev, delInv), s.deps);
  t.same(s.store.list(), []);
  t.equal(s.ip.count('veth'), 0);
  t.equal(s.firewall.rules.size, 0);
  await delBridge(s.input(s.conf, delInv), s.deps);
  t.pass('a repeated DEL without prevResult succeeds');
});

t.test('CHECK reports what is missing', async (t) => {
  const s = setup(t, { hairpinMode: true });
  const result = await addBridge(s.input(), s.deps);
  const conf = parseBridgeConf({ ...s.raw, hairpinMode: true, prevResult: formatResult(result, '1.0.0') });
  await checkBridge(s.input(conf), s.deps);
  t.pass('CHECK right after ADD passes');
  s.ip.get(NETNS, 'eth0')!.addrs = [];
  s.ip.get('host', result.interfaces[1]!.name)!.hairpin = false;
  s.firewall.rules.clear();
  s.store.release(parseIp('10.0.0.2')!, 'c1', 'eth0');
  const err = await checkBridge(s.input(conf), s.deps).then(() => undefined, (e: Error) => e);
  t.match(err, { cniCode: 106 });
  for (const want of [/lacks address 10\.0\.0\.2\/24/, /hairpin mode off/, /chain MOOR-\w+ is missing/, /10\.0\.0\.2 is not reserved/]) t.match(err!.message, want);
  await t.rejects(checkBridge(s.input(), s.deps), { name: 'CniError', cniCode: 7, message: /needs prevResult/ });
});

t.test('GC removes only stale attachments of this network', async (t) => {
  const s = setup(t);
  for (const id of ['keep', 'stale']) {
    const inv = parseEnvironment({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: id, CNI_NETNS: `/run/netns/${id}`, CNI_IFNAME: 'eth0' });
    await addBridge(s.input(s.conf, inv), s.deps);
  }
  const gcConf = parseBridgeConf({ ...s.raw, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] });
  const gcInv = parseEnvironment({ CNI_COMMAND: 'GC' });
  await gcBridge(s.input(gcConf, gcInv), s.deps);
  t.same(s.store.list().map((r) => r.containerId), ['keep']);
  t.same([...s.ip.links.values()].filter((l) => l.ns === 'host' && l.kind === 'veth').map((l) => l.alias), ['moor-bridge net=net id=keep if=eth0']);
  t.equal(s.firewall.rules.size, 1);
  s.ip.failWhen = (op) => (op.op === 'show-veths' ? 'RTNETLINK answers: Operation not permitted' : undefined);
  const none = parseBridgeConf({ ...s.raw, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] });
  await t.rejects(gcBridge(s.input(none, gcInv), s.deps), { name: 'CniError', cniCode: 109 }, 'a failing step is reported');
  t.same(s.store.list(), [], 'and the other steps still ran');
  t.equal(s.firewall.rules.size, 0);
});
