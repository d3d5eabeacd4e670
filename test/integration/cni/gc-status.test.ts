// GC (1.1.0) releases everything held for attachments missing from cni.dev/valid-attachments and
// nothing else (other networks included); STATUS answers 0 when ADD can be served and 50 when the
// range is exhausted or the IPAM store cannot be written. Both are invoked directly: libcni 1.1.x
// never sends them.
import t from 'tap';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, isRoot, moorConfig } from './lab.ts';

const skip = isRoot() ? false : 'needs root';

t.test('GC removes stale reservations, veths and rules, keeps valid ones', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const conf = moorConfig(lab, { cniVersion: '1.1.0' }, '10.223.0.0/24');
  const other = moorConfig(lab, { cniVersion: '1.1.0', name: `mbt-${lab.id}-other`, bridge: lab.name('mbo') }, '10.224.0.0/24');
  const network = conf.name as string;
  const results: Record<string, unknown> = {};
  for (const id of ['keep', 'stale1', 'stale2']) {
    const p = lab.podNs();
    const add = await lab.invoke({ command: 'ADD', config: conf, containerId: id, netns: p.path, ifName: 'eth0' });
    t.equal(add.code, 0, add.stdout);
    results[id] = add.json;
  }
  const q = lab.podNs();
  const otherAdd = await lab.invoke({ command: 'ADD', config: other, containerId: 'stale1', netns: q.path, ifName: 'eth0' });
  t.equal(otherAdd.code, 0, 'another network holds an attachment with the same container id');
  // a reservation left by some earlier crash, in host-local's format, with no veth or rules
  writeFileSync(join(lab.dataDir, network, '10.223.0.200'), 'crashed-long-ago\r\neth0');

  const gc = await lab.invoke({ command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] } });
  t.equal(gc.code, 0, `GC succeeds: ${gc.stdout}`);
  t.equal(gc.stdout, '', 'GC prints nothing');
  const keepIp = (results.keep as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!;
  t.same(lab.reservations(network), [keepIp], 'only the valid attachment keeps its address');
  const ports = lab.hostLinks().filter((l) => l.master === conf.bridge).map((l) => l.ifalias);
  t.same(ports, [`moor-bridge net=${network} id=keep if=eth0`], 'only the valid attachment keeps its veth');
  const rules = lab.natRules().filter((r) => r.includes(`net=${network} `));
  t.ok(rules.length > 0 && rules.every((r) => r.includes('id=keep ')), 'only the valid attachment keeps its rules');
  t.equal(lab.reservations(other.name as string).length, 1, 'the other network is untouched');
  t.ok(lab.natRules().some((r) => r.includes(`net=${other.name as string} `)), "the other network's rules are untouched");

  const check = await lab.invoke({ command: 'CHECK', config: { ...conf, prevResult: results.keep }, containerId: 'keep', netns: '/run/netns/' + `mbt-${lab.id}-p0`, ifName: 'eth0' });
  t.equal(check.code, 0, `the kept attachment still passes CHECK: ${check.stdout}`);

  const none = await lab.invoke({ command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': [] } });
  t.equal(none.code, 0, none.stdout);
  t.same(lab.reservations(network), [], 'GC with no valid attachment releases everything');
  t.same(lab.hostLinks().filter((l) => l.master === conf.bridge), [], 'and removes every veth');
  t.same(lab.natRules().filter((r) => r.includes(`net=${network} `)), [], 'and every rule');
});

t.test('GC forwards to a delegated IPAM plugin and releases only what it held', { skip }, async (t) => {
  // host-local 1.1.1 speaks up to 1.0.0 and knows no GC: its error is passed on, and veths and rules
  // are still collected.
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const conf = moorConfig(lab, { cniVersion: '1.1.0', ipam: { type: 'host-local', ranges: [[{ subnet: '10.225.0.0/24' }]], dataDir: lab.dataDir } });
  const p = lab.podNs();
  const add = await lab.invoke({ command: 'ADD', config: { ...conf, cniVersion: '1.0.0' }, containerId: 'gone', netns: p.path, ifName: 'eth0' });
  t.equal(add.code, 0, add.stdout);
  const gc = await lab.invoke({ command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': [] } });
  t.not(gc.code, 0, 'the delegate failure is reported');
  t.match(String(gc.json?.msg), /IPAM plugin host-local GC/, gc.stdout);
  t.same(lab.hostLinks().filter((l) => l.master === conf.bridge), [], 'veths still collected');
  t.same(lab.natRules(), [], 'rules still collected');
});

t.test('STATUS: available, exhausted range, unwritable store', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  // a /29 has 6 hosts; the gateway takes one, 5 are left
  const conf = moorConfig(lab, { cniVersion: '1.1.0' }, '10.226.0.0/29');
  const ok = await lab.invoke({ command: 'STATUS', config: conf });
  t.equal(ok.code, 0, `STATUS on an empty range: ${ok.stdout}`);
  t.equal(ok.stdout, '', 'prints nothing');
  for (let i = 0; i < 5; i++) {
    const p = lab.podNs();
    const add = await lab.invoke({ command: 'ADD', config: conf, containerId: `fill-${i}`, netns: p.path, ifName: 'eth0' });
    t.equal(add.code, 0, `ADD ${i}: ${add.stdout}`);
  }
  const full = await lab.invoke({ command: 'STATUS', config: conf });
  t.equal(full.json?.code, 50, `exhausted: ${full.stdout}`);
  t.match(String(full.json?.msg), /10\.226\.0\.0\/29 exhausted \(5 of 5/);
  const p = lab.podNs();
  const add = await lab.invoke({ command: 'ADD', config: conf, containerId: 'one-too-many', netns: p.path, ifName: 'eth0' });
  t.equal(add.json?.code, 101, `ADD on an exhausted range: ${add.stdout}`);
  t.same(lab.hostLinks().filter((l) => l.ifalias?.includes('one-too-many')), [], 'and leaves no veth');

  const blocked = join(lab.dir, 'not-a-dir');
  writeFileSync(blocked, 'a file where the store directory should be');
  const unwritable = moorConfig(lab, { cniVersion: '1.1.0', ipam: { ranges: [[{ subnet: '10.227.0.0/24' }]], dataDir: join(blocked, 'ipam') } });
  const st = await lab.invoke({ command: 'STATUS', config: unwritable });
  t.equal(st.json?.code, 50, `unwritable store: ${st.stdout}`);
  t.match(String(st.json?.msg), /not-a-dir/);
  mkdirSync(join(lab.dir, 'fine'));
});
