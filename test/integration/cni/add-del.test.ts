// ADD / CHECK / DEL of moor-bridge in real namespaces, for every spec version it accepts: the result's
// format, two containers on one bridge reach each other and their gateway, the masquerade rule exists
// and goes with DEL, CHECK passes after ADD and fails once the address is removed, DEL is idempotent
// and leaves nothing when the netns is already gone or no prevResult is given.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { waitFor } from '../../../common/wait.ts';
import { Lab, isRoot, moorConfig } from './lab.ts';

const skip = isRoot() ? false : 'needs root';
const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

t.test('ADD, CHECK and DEL for each spec version', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  let subnetIdx = 0;
  for (const version of VERSIONS) {
    await t.test(`cniVersion ${version}`, async (t) => {
      const subnet = `10.211.${subnetIdx++}.0/24`;
      const conf = moorConfig(lab, { cniVersion: version, name: `mbt-${lab.id}-${version.replace(/\./g, '')}`, bridge: lab.name(`mb${version.replace(/\./g, '')}`) }, subnet);
      const gw = subnet.replace('.0/24', '.1');
      const a = lab.podNs();
      const b = lab.podNs();

      const addA = await lab.invoke({ command: 'ADD', config: conf, containerId: `ctr-a-${version}`, netns: a.path, ifName: 'eth0' });
      t.equal(addA.code, 0, `ADD a succeeds: ${addA.stdout}`);
      const addB = await lab.invoke({ command: 'ADD', config: conf, containerId: `ctr-b-${version}`, netns: b.path, ifName: 'eth0' });
      t.equal(addB.code, 0, `ADD b succeeds: ${addB.stdout}`);
      const ra = addA.json as { cniVersion: string; interfaces: { name: string; mac?: string; sandbox?: string; mtu?: number }[]; ips: { version?: string; address: string; gateway?: string; interface?: number }[]; routes: { dst: string; gw?: string }[]; dns: object };
      const rb = addB.json as typeof ra;

      // result format of the requested version
      t.equal(ra.cniVersion, version, 'result is in the requested version');
      t.equal(ra.interfaces.length, 3, 'bridge, host veth and container interface');
      t.equal(ra.interfaces[0]!.name, conf.bridge);
      t.match(ra.interfaces[1]!.name, /^veth[0-9a-f]{11}$/);
      t.same({ name: ra.interfaces[2]!.name, sandbox: ra.interfaces[2]!.sandbox }, { name: 'eth0', sandbox: a.path });
      t.equal(ra.ips.length, 1);
      t.equal(ra.ips[0]!.interface, 2, 'ip points at the container interface');
      t.equal(ra.ips[0]!.gateway, gw);
      if (version.startsWith('0.')) t.equal(ra.ips[0]!.version, '4', 'ips[].version present before 1.0.0');
      else t.notOk('version' in ra.ips[0]!, 'no ips[].version from 1.0.0');
      if (version === '1.1.0') t.type(ra.interfaces[0]!.mtu, 'number', 'interfaces[].mtu in 1.1.0');
      else t.notOk('mtu' in ra.interfaces[0]!, `no mtu before 1.1.0`);
      t.same(ra.routes, [{ dst: '0.0.0.0/0', gw }], 'default route via the gateway');
      t.type(ra.dns, 'object');
      const ipA = ra.ips[0]!.address.split('/')[0]!;
      const ipB = rb.ips[0]!.address.split('/')[0]!;
      t.not(ipA, ipB, 'distinct addresses');

      // what is really there
      const inside = JSON.parse(lab.pod(a, ['ip', '-j', 'addr', 'show', 'dev', 'eth0']).stdout) as { address: string; addr_info: { local: string }[]; flags: string[] }[];
      t.equal(inside[0]!.address, ra.interfaces[2]!.mac, 'container MAC as reported');
      t.ok(inside[0]!.addr_info.some((x) => x.local === ipA), 'container has its address');
      t.ok(inside[0]!.flags.includes('UP'), 'container interface is up');
      t.equal(lab.pod(a, ['busybox', 'ping', '-c', '1', '-W', '2', ipB]).code, 0, 'a reaches b over the bridge');
      t.equal(lab.pod(b, ['busybox', 'ping', '-c', '1', '-W', '2', gw]).code, 0, 'b reaches its gateway');
      const rules = lab.natRules().filter((r) => r.includes(`id=ctr-a-${version} `));
      t.ok(rules.some((r) => r.startsWith('-A POSTROUTING') && r.includes(`-s ${ipA}/32`)), 'POSTROUTING jump for a');
      t.ok(rules.some((r) => r.includes('-j MASQUERADE')), 'MASQUERADE rule for a');
      t.same(lab.readReservation(conf.name as string, ipA), `ctr-a-${version}\r\neth0`, 'host-local reservation file');
      t.equal(lab.host(['cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '1', 'isGateway turned IP forwarding on');

      // CHECK (0.4.0 and later)
      const withPrev = { ...conf, prevResult: addA.json };
      const check = await lab.invoke({ command: 'CHECK', config: withPrev, containerId: `ctr-a-${version}`, netns: a.path, ifName: 'eth0' });
      if (version === '0.3.0' || version === '0.3.1') {
        t.equal(check.json?.code, 1, 'CHECK is incompatible before 0.4.0');
      } else {
        t.equal(check.code, 0, `CHECK passes right after ADD: ${check.stdout}`);
        t.equal(check.stdout, '', 'CHECK prints nothing on success');
        lab.pod(a, ['ip', 'addr', 'del', ra.ips[0]!.address, 'dev', 'eth0']);
        const bad = await lab.invoke({ command: 'CHECK', config: withPrev, containerId: `ctr-a-${version}`, netns: a.path, ifName: 'eth0' });
        t.not(bad.code, 0, 'CHECK fails once the address is removed');
        t.match(String(bad.json?.msg), ipA, 'and names the missing address');
      }

      // DEL with prevResult, twice; DEL of b after its netns is gone and without prevResult
      const delA = await lab.invoke({ command: 'DEL', config: withPrev, containerId: `ctr-a-${version}`, netns: a.path, ifName: 'eth0' });
      t.equal(delA.code, 0, `DEL a: ${delA.stdout}`);
      t.equal(delA.stdout, '', 'DEL prints nothing');
      const again = await lab.invoke({ command: 'DEL', config: withPrev, containerId: `ctr-a-${version}`, netns: a.path, ifName: 'eth0' });
      t.equal(again.code, 0, `repeated DEL succeeds: ${again.stdout}`);
      lab.removeNs(b);
      const delB = await lab.invoke({ command: 'DEL', config: conf, containerId: `ctr-b-${version}`, netns: b.path, ifName: 'eth0' });
      t.equal(delB.code, 0, `DEL b with its netns gone and no prevResult: ${delB.stdout}`);

      t.same(lab.natRules().filter((r) => r.includes(`net=${conf.name as string} `)), [], 'no nat rules left');
      t.same(lab.reservations(conf.name as string), [], 'no reservations left');
      t.same(lab.hostLinks().filter((l) => l.master === conf.bridge).map((l) => l.ifname), [], 'no ports left on the bridge');
      t.equal(lab.pod(a, ['ip', 'link', 'show', 'eth0']).code !== 0, true, 'container interface gone');
    });
  }
});

t.test('DEL with nothing ever added succeeds and creates nothing', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const conf = moorConfig(lab);
  const del = await lab.invoke({ command: 'DEL', config: conf, containerId: 'never-added', ifName: 'eth0' });
  t.equal(del.code, 0, del.stdout);
  t.same(lab.hostLinks().map((l) => l.ifname), ['lo'], 'no links created');
  t.same(lab.natRules(), [], 'no rules created');
});

t.test('ADD without ipMasq leaves the nat table alone; without ipam it is L2 only', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const p = lab.podNs();
  const conf = moorConfig(lab, { ipMasq: false }, '10.212.0.0/24');
  const add = await lab.invoke({ command: 'ADD', config: conf, containerId: 'nomasq', netns: p.path, ifName: 'eth0' });
  t.equal(add.code, 0, add.stdout);
  t.same(lab.natRules(), [], 'no masquerade rules');
  const l2conf = moorConfig(lab, { name: `mbt-${lab.id}-l2`, bridge: lab.name('mbl2'), ipam: undefined, isGateway: false, isDefaultGateway: false, promiscMode: true });
  const q = lab.podNs();
  const l2 = await lab.invoke({ command: 'ADD', config: l2conf, containerId: 'l2only', netns: q.path, ifName: 'net1' });
  t.equal(l2.code, 0, l2.stdout);
  t.notOk('ips' in (l2.json ?? {}), 'no ips without ipam');
  const link = JSON.parse(lab.pod(q, ['ip', '-j', 'addr', 'show', 'dev', 'net1']).stdout) as { flags: string[]; addr_info: { family: string }[] }[];
  t.ok(link[0]!.flags.includes('UP'), 'interface is up');
  t.same(link[0]!.addr_info.filter((a) => a.family === 'inet'), [], 'and has no IPv4 address');
  const l2bridge = JSON.parse(lab.host(['ip', '-j', '-d', 'link', 'show', 'dev', l2conf.bridge as string])) as { promiscuity: number }[];
  t.ok(l2bridge[0]!.promiscuity > 0, 'promiscMode: the bridge is promiscuous');
  const l2check = await lab.invoke({ command: 'CHECK', config: { ...l2conf, prevResult: l2.json }, containerId: 'l2only', netns: q.path, ifName: 'net1' });
  t.equal(l2check.code, 0, `CHECK of an L2-only attachment: ${l2check.stdout}`);
  for (const [c, cfg, ns, ifName] of [['nomasq', conf, p, 'eth0'], ['l2only', l2conf, q, 'net1']] as const) {
    const del = await lab.invoke({ command: 'DEL', config: cfg, containerId: c, netns: ns.path, ifName });
    t.equal(del.code, 0, del.stdout);
  }
  t.same(lab.hostVeths(), [], 'no veths left');
});

t.test('MTU, hairpin, promiscuous bridge, requested MAC and address, IPv6 dual stack', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const p = lab.podNs();
  const conf = moorConfig(lab, {
    cniVersion: '1.1.0',
    mtu: 1400,
    hairpinMode: true,
    runtimeConfig: { mac: '02:aa:bb:cc:dd:ee', ips: ['10.213.0.77/24'] },
    ipam: { ranges: [[{ subnet: '10.213.0.0/24' }], [{ subnet: 'fd00:213::/64' }]], dataDir: lab.dataDir },
  });
  const add = await lab.invoke({ command: 'ADD', config: conf, containerId: 'dual', netns: p.path, ifName: 'eth0' });
  t.equal(add.code, 0, add.stdout);
  const r = add.json as { interfaces: { name: string; mac: string; mtu?: number }[]; ips: { address: string; gateway: string }[]; routes: { dst: string }[] };
  t.equal(r.interfaces[2]!.mac, '02:aa:bb:cc:dd:ee', 'requested MAC');
  t.equal(r.interfaces[2]!.mtu, 1400);
  t.same(r.ips.map((i) => i.address), ['10.213.0.77/24', 'fd00:213::2/64'], 'requested IPv4 and an IPv6 address');
  t.same(r.routes.map((x) => x.dst).sort(), ['0.0.0.0/0', '::/0'], 'default routes for both families');
  const link = JSON.parse(lab.pod(p, ['ip', '-j', 'addr', 'show', 'dev', 'eth0']).stdout) as { mtu: number; addr_info: { local: string; family: string; tentative?: boolean }[] }[];
  t.equal(link[0]!.mtu, 1400, 'container MTU');
  const v6 = link[0]!.addr_info.find((a) => a.local === 'fd00:213::2');
  t.ok(v6 !== undefined && v6.tentative !== true, 'IPv6 address usable at once (no DAD wait)');
  const veth = lab.hostLinks().find((l) => l.ifname === r.interfaces[1]!.name) as { mtu?: number; linkinfo?: { info_slave_data?: { hairpin?: boolean } } };
  t.equal(veth.mtu, 1400, 'host veth MTU');
  t.equal(veth.linkinfo?.info_slave_data?.hairpin, true, 'hairpin on the bridge port');
  t.equal(lab.pod(p, ['busybox', 'ping', '-6', '-c', '1', '-W', '2', 'fd00:213::1']).code, 0, 'IPv6 gateway reachable');
  t.ok(lab.natRules(6).some((l) => l.includes('-s fd00:213::2/128')), 'IPv6 masquerade jump');
  const check = await lab.invoke({ command: 'CHECK', config: { ...conf, prevResult: add.json }, containerId: 'dual', netns: p.path, ifName: 'eth0' });
  t.equal(check.code, 0, `CHECK dual stack: ${check.stdout}`);
  const del = await lab.invoke({ command: 'DEL', config: { ...conf, prevResult: add.json }, containerId: 'dual', netns: p.path, ifName: 'eth0' });
  t.equal(del.code, 0, del.stdout);
  t.same([...lab.natRules(4), ...lab.natRules(6)], [], 'no rules left in either family');
  t.same(lab.reservations(conf.name as string), []);
});

t.test('ADD into a netns that already has the interface fails and leaves nothing', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const p = lab.podNs();
  t.equal(lab.pod(p, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']).code, 0, 'eth0 exists already');
  const conf = moorConfig(lab, {}, '10.214.0.0/24');
  const add = await lab.invoke({ command: 'ADD', config: conf, containerId: 'dup', netns: p.path, ifName: 'eth0' });
  t.not(add.code, 0, 'ADD fails');
  t.match(String(add.json?.msg), /exists/, `names the cause: ${add.stdout}`);
  t.same(lab.reservations(conf.name as string), [], 'address released');
  t.same(lab.hostVeths(), [], 'no veth left');
  t.same(lab.natRules(), [], 'no rules left');
});

t.test('an existing bridge with another address: error unless forceAddress', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const conf = moorConfig(lab, {}, '10.215.0.0/24');
  lab.host(['ip', 'link', 'add', conf.bridge as string, 'type', 'bridge']);
  lab.host(['ip', 'addr', 'add', '10.99.9.1/24', 'dev', conf.bridge as string]);
  const p = lab.podNs();
  const add = await lab.invoke({ command: 'ADD', config: conf, containerId: 'conflict', netns: p.path, ifName: 'eth0' });
  t.equal(add.json?.code, 103, `address conflict: ${add.stdout}`);
  t.match(String(add.json?.msg), '10.99.9.1/24');
  t.same(lab.reservations(conf.name as string), [], 'nothing reserved');
  t.same(lab.hostVeths(), [], 'no veth left');
  const addrs = JSON.parse(lab.host(['ip', '-j', 'addr', 'show', 'dev', conf.bridge as string])) as { addr_info: { local: string }[] }[];
  t.same(addrs[0]!.addr_info.filter((a) => !a.local.startsWith('fe80')).map((a) => a.local), ['10.99.9.1'], 'bridge address untouched');
  const forced = await lab.invoke({ command: 'ADD', config: { ...conf, forceAddress: true }, containerId: 'conflict', netns: p.path, ifName: 'eth0' });
  t.equal(forced.code, 0, forced.stdout);
  const after = JSON.parse(lab.host(['ip', '-j', 'addr', 'show', 'dev', conf.bridge as string])) as { addr_info: { local: string }[] }[];
  t.same(after[0]!.addr_info.filter((a) => !a.local.startsWith('fe80')).map((a) => a.local), ['10.215.0.1'], 'forceAddress replaced it');
  const notBridge = moorConfig(lab, { name: `mbt-${lab.id}-nb`, bridge: lab.name('mbdum') }, '10.216.0.0/24');
  lab.host(['ip', 'link', 'add', notBridge.bridge as string, 'type', 'veth', 'peer', 'name', lab.name('mbpeer')]);
  const q = lab.podNs();
  const bad = await lab.invoke({ command: 'ADD', config: notBridge, containerId: 'nb', netns: q.path, ifName: 'eth0' });
  t.not(bad.code, 0);
  t.match(String(bad.json?.msg), /not a bridge/, bad.stdout);
  t.same(lab.reservations(notBridge.name as string), [], 'nothing reserved');
});

t.test('a netns given as /proc/<pid>/ns/net (not a named one) works through nsenter', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const p = lab.podNs();
  const holder = spawn('nsenter', [`--net=${p.path}`, '--', 'sleep', '300'], { stdio: 'ignore' });
  t.teardown(() => holder.kill('SIGKILL'));
  await new Promise((r) => holder.once('spawn', r));
  const netns = `/proc/${holder.pid}/ns/net`;
  // nsenter has switched once the process's netns differs from ours
  await waitFor(() => readlinkSync(netns) !== readlinkSync('/proc/self/ns/net'), { timeoutMs: 5000, what: 'the holder to enter the pod netns' });
  const conf = moorConfig(lab, {}, '10.217.0.0/24');
  const add = await lab.invoke({ command: 'ADD', config: conf, containerId: 'procns', netns, ifName: 'eth0' });
  t.equal(add.code, 0, add.stdout);
  t.ok(lab.pod(p, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']).stdout.includes('10.217.0.2/24'), 'configured inside the right netns');
  const check = await lab.invoke({ command: 'CHECK', config: { ...conf, prevResult: add.json }, containerId: 'procns', netns, ifName: 'eth0' });
  t.equal(check.code, 0, check.stdout);
  const del = await lab.invoke({ command: 'DEL', config: { ...conf, prevResult: add.json }, containerId: 'procns', netns, ifName: 'eth0' });
  t.equal(del.code, 0, del.stdout);
  t.same(lab.hostVeths(), []);
});
