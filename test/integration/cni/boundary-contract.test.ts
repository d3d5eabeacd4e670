// The in-memory fakes the unit tests use (test/fixtures/cni/fakes.ts) answer like the real
// boundaries: the same operation sequence run against real iproute2 in a lab netns and against
// FakeIp gives the same per-operation outcome (ok / exists / notFound) and the same facts in the
// JSON the plugin reads; the same for iptables-restore vs FakeFirewall on what saveNat reports.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { IpLinkJson, IpOp, IpOpResult } from '../../../cni/net/ip.ts';
import { findMasqProblems, listMasqAttachments, type SavedNat } from '../../../cni/net/iptables.ts';
import { silentCniLogger } from '../../../cni/log.ts';
import { FakeFirewall, FakeIp } from '../../fixtures/cni/fakes.ts';
import { Lab, REPO, isRoot } from './lab.ts';

const skip = isRoot() ? false : 'needs root';
const log = silentCniLogger();

/**
 * Run `body` (an async function body using realIpRunner, IptablesFirewall and log) in a Node
 * process inside the lab's host netns - the real boundaries act on the netns they run in - and
 * return what it returns, through JSON.
 */
function inHostNetns<T>(lab: Lab, body: string): Promise<T> {
  const mod = (p: string) => JSON.stringify(join(REPO, p));
  const script = `
    import { realIpRunner } from ${mod('cni/net/ip.ts')};
    import { IptablesFirewall } from ${mod('cni/net/iptables.ts')};
    import { silentCniLogger } from ${mod('cni/log.ts')};
    const log = silentCniLogger();
    const out = await (async () => { ${body} })();
    process.stdout.write(JSON.stringify(out, (k, v) => (v instanceof Set ? [...v] : v)));`;
  return new Promise((resolve, reject) => {
    execFile('nsenter', [`--net=${lab.hostNsPath}`, '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as T);
    });
  });
}

function revive(saved: { chains: string[]; rules: SavedNat['rules'] }): SavedNat {
  return { chains: new Set(saved.chains), rules: saved.rules };
}

function facts(r: IpOpResult): unknown {
  const base = { op: r.op.op, ok: r.ok, kind: r.kind };
  if (!r.ok || r.json === undefined) return base;
  const links = r.json as IpLinkJson[];
  return {
    ...base,
    links: links.map((l) => ({
      ifname: l.ifname, kind: l.linkinfo?.info_kind, master: l.master, alias: l.ifalias, address: l.address,
      addrs: (l.addr_info ?? []).filter((a) => !a.local.startsWith('fe80')).map((a) => `${a.local}/${a.prefixlen}`),
    })),
  };
}

t.test('FakeIp answers like iproute2', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const pod = lab.podNs();
  const br = lab.name('mbk');
  const veth = lab.name('mbkv');
  const host: IpOp[] = [
    { op: 'add-bridge', name: br, mac: '02:00:00:00:aa:01' },
    { op: 'add-bridge', name: br, mac: '02:00:00:00:aa:01' },
    { op: 'set-up', name: br },
    { op: 'add-addr', dev: br, cidr: '10.219.0.1/24' },
    { op: 'add-addr', dev: br, cidr: '10.219.0.1/24' },
    { op: 'add-veth', name: veth, mac: '02:00:00:00:aa:02', peerName: 'eth0', peerMac: '02:00:00:00:aa:03', peerNetns: pod.path },
    { op: 'add-veth', name: veth, mac: '02:00:00:00:aa:02', peerName: 'eth0', peerMac: '02:00:00:00:aa:03', peerNetns: pod.path },
    { op: 'attach', name: veth, master: br, alias: 'moor-bridge net=n id=c if=eth0' },
    { op: 'attach', name: 'mbk-missing', master: br, alias: 'x' },
    { op: 'show-addr', dev: br },
    { op: 'show-addr', dev: 'mbk-missing' },
    { op: 'show-veths' },
  ];
  const inPod: IpOp[] = [
    { op: 'add-addr', dev: 'eth0', cidr: '10.219.0.5/24' },
    { op: 'set-up', name: 'eth0' },
    { op: 'add-route', dst: '0.0.0.0/0', gw: '10.219.0.1', dev: 'eth0' },
    { op: 'show-addr', dev: 'eth0' },
  ];
  const cleanup: IpOp[] = [
    { op: 'del-addr', dev: br, cidr: '10.219.0.1/24' },
    { op: 'del-addr', dev: br, cidr: '10.219.0.1/24' },
    { op: 'del-link', name: veth },
    { op: 'del-link', name: veth },
    { op: 'show-veths' },
  ];
  const fake = new FakeIp();
  const real = (ops: readonly IpOp[], netnsPath?: string) =>
    inHostNetns<IpOpResult[]>(lab, `return realIpRunner.run(${JSON.stringify(ops)}, { log${netnsPath === undefined ? '' : `, netnsPath: ${JSON.stringify(netnsPath)}`} });`);
  for (const [name, ops, ns] of [['host', host, undefined], ['pod', inPod, pod.path], ['cleanup', cleanup, undefined]] as const) {
    const want = (await real(ops, ns)).map(facts);
    const got = (await fake.run(ops, ns === undefined ? { log } : { log, netnsPath: ns })).map(facts);
    t.same(got, want, `${name}: same outcomes`);
  }
});

t.test('FakeIp.runPair answers like the nested pod batch', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const fake = new FakeIp();
  const br = lab.name('mbq');
  const cases: { name: string; taken: boolean }[] = [
    { name: 'a fresh pod', taken: false },
    { name: 'a pod that already has eth0: the veth creation guards the rest', taken: true },
  ];
  let n = 0;
  for (const c of cases) {
    const pod = lab.podNs();
    const veth = lab.name(`mbq${n++}`);
    if (c.taken) {
      t.equal(lab.pod(pod, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']).code, 0, 'eth0 made beforehand');
      fake.links.set(`${pod.path}/eth0`, { ns: pod.path, name: 'eth0', kind: 'veth', addrs: [], up: false });
    }
    const inPod: IpOp[] = [
      // the host end goes to the netns of the process that runs realIpRunner: a PID the code fills in
      { op: 'add-veth', name: 'eth0', mac: '02:00:00:00:ab:03', peerName: veth, peerMac: '02:00:00:00:ab:02', peerNetns: 'PID' },
      { op: 'add-addr', dev: 'eth0', cidr: '10.219.1.5/24' },
      { op: 'set-up', name: 'eth0' },
      { op: 'add-route', dst: '0.0.0.0/0', gw: '10.219.1.1', dev: 'eth0' },
      { op: 'show-addr', dev: 'eth0' },
    ];
    const host: IpOp[] = [
      { op: 'add-bridge', name: br, mac: '02:00:00:00:ab:01' },
      { op: 'set-up', name: br },
      { op: 'attach', name: veth, master: br, alias: `moor-bridge net=n id=${veth} if=eth0` },
      { op: 'show-addr', dev: br },
    ];
    const pair = { netnsPath: pod.path, ops: inPod };
    const want = await inHostNetns<{ host: IpOpResult[]; pod: IpOpResult[] }>(lab, `
      const pair = ${JSON.stringify(pair)};
      pair.ops[0].peerNetns = String(process.pid);
      return realIpRunner.runPair(pair, ${JSON.stringify(host)}, { log });`);
    const got = await fake.runPair({ ...pair, ops: inPod.map((op) => (op.op === 'add-veth' ? { ...op, peerNetns: '1' } : op)) }, host, { log });
    t.same(got.pod.map(facts), want.pod.map(facts), `${c.name}: same pod outcomes`);
    t.same(got.host.map(facts), want.host.map(facts), `${c.name}: same host outcomes`);
    t.equal(want.pod.every((r) => r.ok), !c.taken, c.taken ? 'the pod batch stopped' : 'the pod batch applied');
  }
});

t.test('FakeFirewall reports like iptables', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const id = { network: 'n', containerId: 'c1', ifName: 'eth0' };
  const targets = [{ family: 4 as const, source: '10.219.0.5/32', subnet: '10.219.0.0/24' }];
  const realStates = await inHostNetns<{ chains: string[]; rules: SavedNat['rules'] }[]>(lab, `
    const fw = new IptablesFirewall(log);
    const id = ${JSON.stringify(id)};
    const targets = ${JSON.stringify(targets)};
    await fw.ensureMasq(id, targets);
    const added = await fw.saveNat(4);
    await fw.removeMasq(id, [4], targets);
    return [added, await fw.saveNat(4)];`);
  const fake = new FakeFirewall();
  await fake.ensureMasq(id, targets);
  const fakeAdded = await fake.saveNat(4);
  await fake.removeMasq(id);
  const fakeStates = [fakeAdded, await fake.saveNat(4)];
  for (const [name, [added, removed]] of [['iptables', realStates.map(revive)], ['fake', fakeStates]] as const) {
    t.same(listMasqAttachments(added!, 'n'), [id], `${name}: the attachment is listed`);
    t.same(findMasqProblems(added!, id, targets), [], `${name}: nothing missing`);
    t.same(listMasqAttachments(removed!, 'n'), [], `${name}: gone after removal`);
  }
});
