import t from 'tap';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { buildBridgeConflist, ensureBridgeConflist } from '../../../../agent/node/cni-config.ts';

t.test('buildBridgeConflist: moor-bridge on the pod CIDR, then portmap', async (t) => {
  const doc = JSON.parse(buildBridgeConflist({ podCidr: '10.244.3.0/24' }));
  t.equal(doc.name, 'moor');
  t.same(doc.plugins.map((p: { type: string }) => p.type), ['moor-bridge', 'portmap']);
  t.match(doc.plugins[0], { bridge: 'moor0', isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true, ipam: { ranges: [[{ subnet: '10.244.3.0/24' }]] } });
  t.same(doc.plugins[1].capabilities, { portMappings: true });
});

t.test('ensureBridgeConflist writes only on change', async (t) => {
  const dir = await mkdtemp(`${tmpdir()}/moor-cni-conf-`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cases = [
    { name: 'first write', cidr: '10.244.1.0/24', wrote: true },
    { name: 'same CIDR: untouched', cidr: '10.244.1.0/24', wrote: false },
    { name: 'new CIDR: rewritten', cidr: '10.244.2.0/24', wrote: true },
  ];
  for (const c of cases) {
    t.equal(await ensureBridgeConflist(`${dir}/net.d`, { podCidr: c.cidr }), c.wrote, c.name);
    t.match(await readFile(`${dir}/net.d/10-moor.conflist`, 'utf8'), c.cidr, `${c.name}: content`);
  }
  await t.rejects(stat(`${dir}/net.d/.10-moor.conflist.tmp`), 'no temporary file left');
});

t.test('buildBridgeConflist: the cluster CIDR left unmasqueraded when given, the document unchanged when not', async (t) => {
  const cases: [string, readonly string[] | undefined, unknown][] = [
    ['not given', undefined, undefined],
    ['empty', [], undefined],
    ['the cluster CIDR', ['10.240.0.0/16'], ['10.240.0.0/16']],
  ];
  for (const [name, cidrs, want] of cases) {
    const doc = JSON.parse(buildBridgeConflist({ podCidr: '10.240.3.0/24', ...(cidrs === undefined ? {} : { nonMasqueradeCidrs: cidrs }) }));
    t.same(doc.plugins[0].nonMasqueradeCIDRs, want, name);
  }
  t.equal(buildBridgeConflist({ podCidr: '10.244.3.0/24', nonMasqueradeCidrs: [] }), buildBridgeConflist({ podCidr: '10.244.3.0/24' }), 'no rewrite of existing nodes\' conflists');
});
