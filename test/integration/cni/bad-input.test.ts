// Bad input gets the spec's error code, a message naming the bad value, and leaves nothing behind:
// no bridge, no veth, no reservation, no rule. Also the protocol corners the reference plugins get
// wrong: a missing CNI_COMMAND is error 4, VERSION echoes the version it was asked with.
import t from 'tap';
import { Lab, isRoot, moorConfig } from './lab.ts';

const skip = isRoot() ? false : 'needs root';

t.test('bad input: right code, named value, nothing left behind', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const pod = lab.podNs();
  const base = moorConfig(lab, {}, '10.220.0.0/24');
  const ipam = (range: Record<string, unknown>) => ({ ...base, ipam: { ranges: [[range]], dataDir: lab.dataDir } });
  const without = (key: string) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== key));

  const cases: { name: string; code: number; msg: RegExp; config?: unknown; stdin?: string; env?: Record<string, string | undefined>; command?: string | undefined }[] = [
    { name: 'malformed JSON', code: 6, msg: /decode network config/, stdin: '{"cniVersion": "1.0.0", "name": ' },
    { name: 'not an object', code: 6, msg: /want a JSON object/, stdin: '[1, 2]' },
    { name: 'missing name', code: 7, msg: /name is missing/, config: without('name') },
    { name: 'missing cniVersion', code: 7, msg: /cniVersion is missing/, config: without('cniVersion') },
    { name: 'missing type', code: 7, msg: /type is missing/, config: without('type') },
    { name: 'unsupported version', code: 1, msg: /"0\.2\.0"/, config: { ...base, cniVersion: '0.2.0' } },
    { name: 'unknown future version', code: 1, msg: /"9\.0\.0"/, config: { ...base, cniVersion: '9.0.0' } },
    { name: 'invalid CIDR', code: 7, msg: /10\.220\.0\.0\/33/, config: ipam({ subnet: '10.220.0.0/33' }) },
    { name: 'garbage subnet', code: 7, msg: /"banana"/, config: ipam({ subnet: 'banana' }) },
    { name: 'rangeStart outside subnet', code: 7, msg: /10\.9\.0\.5 is not in subnet 10\.220\.0\.0\/24/, config: ipam({ subnet: '10.220.0.0/24', rangeStart: '10.9.0.5' }) },
    { name: 'rangeEnd before rangeStart', code: 7, msg: /rangeStart 10\.220\.0\.50 is after rangeEnd 10\.220\.0\.10/, config: ipam({ subnet: '10.220.0.0/24', rangeStart: '10.220.0.50', rangeEnd: '10.220.0.10' }) },
    { name: 'subnet too small', code: 7, msg: /too small/, config: ipam({ subnet: '10.220.0.0/31' }) },
    { name: 'wrong type for ipMasq', code: 7, msg: /ipMasq must be a boolean, got "yes"/, config: { ...base, ipMasq: 'yes' } },
    { name: 'mtu out of range', code: 7, msg: /mtu .* got 20/, config: { ...base, mtu: 20 } },
    { name: 'bridge name too long', code: 7, msg: /"averyveryverylongbridge"/, config: { ...base, bridge: 'averyveryverylongbridge' } },
    { name: 'bad network name', code: 7, msg: /"..\/escape"/, config: { ...base, name: '../escape' } },
    { name: 'unsupported vlan', code: 2, msg: /vlan=100/, config: { ...base, vlan: 100 } },
    { name: 'hairpin with promisc', code: 7, msg: /hairpinMode and promiscMode/, config: { ...base, hairpinMode: true, promiscMode: true } },
    { name: 'ifname over 15 characters', code: 4, msg: /"eth0123456789abc"/, env: { CNI_IFNAME: 'eth0123456789abc' } },
    { name: 'ifname with a slash', code: 4, msg: /"eth\/0" contains "\/"/, env: { CNI_IFNAME: 'eth/0' } },
    { name: 'missing CNI_CONTAINERID', code: 4, msg: /CNI_CONTAINERID missing/, env: { CNI_CONTAINERID: undefined } },
    { name: 'bad CNI_CONTAINERID', code: 4, msg: /"-bad id"/, env: { CNI_CONTAINERID: '-bad id' } },
    { name: 'missing CNI_NETNS on ADD', code: 4, msg: /CNI_NETNS missing/, env: { CNI_NETNS: undefined } },
    { name: 'netns path that does not exist', code: 3, msg: /\/run\/netns\/mbt-nonexistent/, env: { CNI_NETNS: '/run/netns/mbt-nonexistent' } },
    { name: 'netns path that is not a netns', code: 4, msg: /\/etc\/hostname is not a network namespace/, env: { CNI_NETNS: '/etc/hostname' } },
    { name: 'missing CNI_COMMAND', code: 4, msg: /CNI_COMMAND: missing/, command: undefined },
    { name: 'unknown CNI_COMMAND', code: 4, msg: /"JUMP"/, command: 'JUMP' },
    { name: 'CHECK before 0.4.0', code: 1, msg: /0\.3\.1 does not allow CHECK/, command: 'CHECK', config: { ...base, cniVersion: '0.3.1' } },
    { name: 'GC before 1.1.0', code: 1, msg: /1\.0\.0 does not allow GC/, command: 'GC' },
    { name: 'STATUS before 1.1.0', code: 1, msg: /does not allow STATUS/, command: 'STATUS' },
    { name: 'CHECK without prevResult', code: 7, msg: /CHECK needs prevResult/, command: 'CHECK' },
    { name: 'GC without valid-attachments', code: 7, msg: /valid-attachments/, command: 'GC', config: { ...base, cniVersion: '1.1.0' } },
    { name: 'unknown IPAM plugin', code: 7, msg: /no-such-ipam/, config: { ...base, ipam: { type: 'no-such-ipam' } } },
    { name: 'requested IP outside the ranges', code: 7, msg: /10\.99\.0\.7/, env: { CNI_ARGS: 'IP=10.99.0.7' } },
    { name: 'multicast MAC in CNI_ARGS', code: 4, msg: /MAC="01:00:5e:00:00:01"/, env: { CNI_ARGS: 'IgnoreUnknown=1;MAC=01:00:5e:00:00:01' } },
  ];

  for (const c of cases) {
    const command = 'command' in c ? c.command : 'ADD';
    const res = await lab.invoke({
      command,
      config: c.config ?? base,
      ...(c.stdin === undefined ? {} : { stdin: c.stdin }),
      containerId: 'bad-input',
      netns: pod.path,
      ifName: 'eth0',
      env: c.env,
    });
    t.not(res.code, 0, `${c.name}: non-zero exit`);
    t.equal(res.json?.code, c.code, `${c.name}: code ${c.code} (${res.stdout.trim()})`);
    t.match(String(res.json?.msg), c.msg, `${c.name}: message names the bad value`);
  }
  t.same(lab.hostLinks().map((l) => l.ifname), ['lo'], 'no bridge or veth created');
  t.same(lab.natRules(), [], 'no rules');
  t.same(lab.reservations(base.name as string), [], 'no reservations');
  t.same(lab.pod(pod, ['ip', '-o', 'link', 'show']).stdout.trim().split('\n').length, 1, 'pod netns untouched');
});

t.test('VERSION answers in the version it was asked with', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  for (const asked of ['0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    const res = await lab.invoke({ command: 'VERSION', config: { cniVersion: asked } });
    t.equal(res.code, 0);
    t.same(res.json, { cniVersion: asked, supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] }, `asked with ${asked}`);
  }
  const bad = await lab.invoke({ command: 'VERSION', config: undefined, stdin: '{nope' });
  t.equal(bad.json?.code, 6, 'undecodable VERSION request is code 6');
});
