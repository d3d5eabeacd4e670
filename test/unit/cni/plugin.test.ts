// The whole plugin in-process (fake boundaries, temporary IPAM store): stdout carries only the
// result or the error object, exit statuses, version gates, and one error line in the log.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryCniLogger } from '../../../cni/log.ts';
import { runPlugin } from '../../../cni/plugin.ts';
import { FakeFirewall, FakeIp, FakeSysctl } from '../../fixtures/cni/fakes.ts';

function harness(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'mbt-plugin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ip = new FakeIp();
  const firewall = new FakeFirewall();
  const conf = { cniVersion: '1.0.0', name: 'net', type: 'moor-bridge', bridge: 'br9', isGateway: true, ipMasq: true, ipam: { subnet: '10.0.0.0/24', dataDir: dir } };
  async function invoke(env: Record<string, string | undefined>, stdin: unknown = conf) {
    let out = '';
    const { log, lines } = memoryCniLogger('info');
    const code = await runPlugin(
      { env, readStdin: () => (typeof stdin === 'string' ? stdin : JSON.stringify(stdin)), writeStdout: (s) => (out += s) },
      { log, deps: () => ({ ip, firewall, sysctl: new FakeSysctl() }), requireNetns: () => undefined },
    );
    return { code, out, json: out === '' ? undefined : (JSON.parse(out) as Record<string, unknown>), logs: lines() };
  }
  return { dir, conf, invoke, ip, firewall };
}

const add = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/p', CNI_IFNAME: 'eth0' };

t.test('ADD, CHECK, DEL through the front door', async (t) => {
  const h = harness(t);
  const a = await h.invoke(add);
  t.equal(a.code, 0);
  t.equal(a.out.split('\n').filter(Boolean).length, 1, 'one JSON line on stdout');
  t.equal(a.json?.cniVersion, '1.0.0');
  t.match(a.logs.at(-1), { msg: 'ADD done', cmd: 'ADD', containerId: 'c1', network: 'net' });
  const c = await h.invoke({ ...add, CNI_COMMAND: 'CHECK' }, { ...h.conf, prevResult: a.json });
  t.same([c.code, c.out], [0, ''], 'CHECK prints nothing');
  const d = await h.invoke({ ...add, CNI_COMMAND: 'DEL', CNI_NETNS: undefined }, { ...h.conf, prevResult: a.json });
  t.same([d.code, d.out], [0, '']);
  t.same(readdirSync(join(h.dir, 'net')).filter((f) => /^\d/.test(f)), [], 'released');
});

t.test('errors: the spec object on stdout, non-zero exit, logged once', async (t) => {
  const h = harness(t);
  const cases: { env: Record<string, string | undefined>; stdin?: unknown; code: number }[] = [
    { env: { ...add, CNI_COMMAND: undefined }, code: 4 },
    { env: add, stdin: '{oops', code: 6 },
    { env: add, stdin: { ...h.conf, cniVersion: '0.1.0' }, code: 1 },
    { env: { ...add, CNI_COMMAND: 'CHECK' }, stdin: { ...h.conf, cniVersion: '0.3.0' }, code: 1 },
    { env: { CNI_COMMAND: 'STATUS' }, code: 1 },
    { env: { CNI_COMMAND: 'GC' }, stdin: { ...h.conf, cniVersion: '1.1.0' }, code: 7 },
  ];
  for (const c of cases) {
    const r = await h.invoke(c.env, c.stdin ?? h.conf);
    t.equal(r.code, 1);
    t.equal(r.json?.code, c.code, String(r.json?.msg));
    t.equal(r.logs.filter((l) => l.level === 50).length, 1, 'one error line');
  }
  h.firewall.failEnsure = 'boom';
  const f = await h.invoke(add);
  t.same([f.json?.code, f.json?.msg], [104, 'boom'], "the firewall's own code and message");
  t.equal(h.ip.count('veth'), 0, 'and was rolled back');
  h.firewall.failEnsure = undefined;
  h.ip.crash = 'unexpected';
  const u = await h.invoke({ ...add, CNI_CONTAINERID: 'c2' });
  t.same([u.code, u.json?.code, u.json?.msg], [1, 999, 'unexpected'], 'anything else is code 999 with its message');
  t.same(readdirSync(join(h.dir, 'net')).filter((f) => /^\d/.test(f)), [], 'nothing reserved');
});

t.test('VERSION, STATUS and GC on 1.1.0', async (t) => {
  const h = harness(t);
  const v = await h.invoke({ CNI_COMMAND: 'VERSION' }, { cniVersion: '0.4.0' });
  t.same(v.json, { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  const empty = await h.invoke({ CNI_COMMAND: 'VERSION' }, '');
  t.equal(empty.json?.cniVersion, '1.1.0', 'no request: our latest');
  const s = await h.invoke({ CNI_COMMAND: 'STATUS' }, { ...h.conf, cniVersion: '1.1.0' });
  t.same([s.code, s.out], [0, '']);
  const g = await h.invoke({ CNI_COMMAND: 'GC' }, { ...h.conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] });
  t.same([g.code, g.out], [0, '']);
});
