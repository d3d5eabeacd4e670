// Many plugin processes at once on a fresh node: 50 concurrent ADDs create the bridge once and get 50
// distinct addresses; 50 concurrent DELs leave no reservation file, host veth or nat rule behind.
import t from 'tap';
import { Lab, isRoot, moorConfig, type PodNs } from './lab.ts';

const skip = isRoot() ? false : 'needs root';
const N = 50;

t.test(`${N} concurrent ADDs then ${N} concurrent DELs`, { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const conf = moorConfig(lab, {}, '10.221.0.0/24');
  const pods: PodNs[] = Array.from({ length: N }, () => lab.podNs());

  const adds = await Promise.all(pods.map((p, i) => lab.invoke({ command: 'ADD', config: conf, containerId: `conc-${i}`, netns: p.path, ifName: 'eth0' })));
  const failed = adds.filter((r) => r.code !== 0);
  t.same(failed.map((r) => r.stdout), [], 'every ADD succeeds');
  const ips = adds.map((r) => (r.json as { ips?: { address: string }[] } | undefined)?.ips?.[0]?.address);
  t.equal(new Set(ips).size, N, `${N} distinct addresses`);
  t.equal(lab.reservations(conf.name as string).length, N, `${N} reservation files`);
  t.equal(lab.hostLinks().filter((l) => l.linkinfo?.info_kind === 'bridge').length, 1, 'one bridge');
  t.equal(lab.hostLinks().filter((l) => l.master === conf.bridge).length, N, `${N} ports on it`);
  t.equal(lab.natRules().filter((r) => r.startsWith('-A POSTROUTING')).length, N, `${N} masquerade jumps`);

  const dels = await Promise.all(pods.map((p, i) => lab.invoke({ command: 'DEL', config: { ...conf, prevResult: adds[i]!.json }, containerId: `conc-${i}`, netns: p.path, ifName: 'eth0' })));
  t.same(dels.filter((r) => r.code !== 0).map((r) => r.stdout), [], 'every DEL succeeds');
  t.same(lab.reservations(conf.name as string), [], 'no reservation files');
  t.same(lab.ipamFiles(conf.name as string).filter((f) => f.startsWith('.')), [], 'no temporary files');
  t.same(lab.hostVeths(), [], 'no host veths');
  t.same(lab.natRules(), [], 'no nat rules or chains');
});
