// Names derived from identities: deterministic, within kernel and iptables limits, distinct.
import t from 'tap';
import { attachmentAlias, bridgeMac, hostVethName, isUnicastMac, parseAttachmentAlias, randomMac } from '../../../cni/names.ts';
import { masqChainName, masqComment, parseMasqComment } from '../../../cni/net/iptables.ts';

t.test('host veth names', async (t) => {
  const a = hostVethName('net', 'c1', 'eth0');
  t.equal(a, hostVethName('net', 'c1', 'eth0'), 'deterministic');
  t.match(a, /^veth[0-9a-f]{11}$/);
  t.ok(a.length <= 15, 'fits IFNAMSIZ');
  t.not(a, hostVethName('net', 'c1', 'eth1'), 'ifname matters');
  t.not(a, hostVethName('net2', 'c1', 'eth0'), 'network matters');
  t.not(a, hostVethName('net', 'c2', 'eth0'), 'container matters');
});

t.test('chain names and comments', async (t) => {
  const id = { network: 'mynet', containerId: 'abc123', ifName: 'eth0' };
  const chain = masqChainName(id);
  t.match(chain, /^MOOR-[0-9A-F]{22}$/);
  t.ok(chain.length <= 28, 'iptables chain name limit');
  t.equal(masqComment(id), 'moor-bridge net=mynet id=abc123 if=eth0');
  t.same(parseMasqComment(masqComment(id)), id, 'comment round trip');
  t.equal(parseMasqComment('name: "x" id: "y"'), undefined, "the reference plugin's comments are not ours");
  t.same(parseAttachmentAlias(attachmentAlias('mynet', 'abc123', 'eth0')), id, 'alias round trip');
});

t.test('MACs', async (t) => {
  let seed = 0;
  const mac = randomMac(() => ((seed = (seed * 9301 + 49297) % 233280) / 233280));
  t.match(mac, /^02(:[0-9a-f]{2}){5}$/, 'locally administered unicast');
  t.ok(isUnicastMac(mac));
  t.equal(bridgeMac('br0'), bridgeMac('br0'), 'bridge MAC is stable');
  t.not(bridgeMac('br0'), bridgeMac('br1'));
  t.ok(isUnicastMac(bridgeMac('cni0')));
  t.notOk(isUnicastMac('01:00:5e:00:00:01'), 'multicast');
  t.notOk(isUnicastMac('00:00:00:00:00:00'));
  t.notOk(isUnicastMac('zz:00:00:00:00:01'));
});
