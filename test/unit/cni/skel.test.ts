// The CNI_* environment table: which command needs what, and the error 4 naming the variable.
import t from 'tap';
import { parseCniArgs, parseEnvironment, validateIfName } from '../../../cni/skel.ts';

const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni', CNI_ARGS: 'IgnoreUnknown=1;IP=10.0.0.5' };

t.test('valid environments', async (t) => {
  const inv = parseEnvironment(env);
  t.equal(inv.command, 'ADD');
  t.same(inv.cniPath, ['/opt/cni/bin', '/usr/lib/cni']);
  t.equal(inv.args.get('IP'), '10.0.0.5');
  const del = parseEnvironment({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' });
  t.equal(del.netnsPath, '', 'DEL needs no netns');
  t.equal(parseEnvironment({ CNI_COMMAND: 'VERSION' }).command, 'VERSION');
  t.equal(parseEnvironment({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }).command, 'GC');
  t.equal(parseEnvironment({ CNI_COMMAND: 'STATUS' }).command, 'STATUS');
});

t.test('invalid environments are code 4 naming the variable', async (t) => {
  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    ['no command', { ...env, CNI_COMMAND: undefined }, /CNI_COMMAND: missing/],
    ['empty command', { ...env, CNI_COMMAND: '' }, /CNI_COMMAND: missing/],
    ['unknown command', { ...env, CNI_COMMAND: 'add' }, /unknown command "add"/],
    ['no container id', { ...env, CNI_CONTAINERID: undefined }, /CNI_CONTAINERID missing for ADD/],
    ['bad container id', { ...env, CNI_CONTAINERID: '.abc' }, /"\.abc"/],
    ['container id with slash', { ...env, CNI_CONTAINERID: 'a/b' }, /"a\/b"/],
    ['no netns', { ...env, CNI_NETNS: undefined }, /CNI_NETNS missing/],
    ['relative netns', { ...env, CNI_NETNS: 'run/netns/x' }, /"run\/netns\/x"/],
    ['no ifname', { ...env, CNI_IFNAME: '' }, /CNI_IFNAME missing/],
    ['long ifname', { ...env, CNI_IFNAME: 'a234567890123456' }, /longer than 15/],
    ['ifname with slash', { ...env, CNI_IFNAME: 'et/h0' }, /contains "\/"/],
    ['ifname with blank', { ...env, CNI_IFNAME: 'et h0' }, /contains " "/],
    ['ifname dot', { ...env, CNI_IFNAME: '..' }, /not allowed/],
    ['bad CNI_ARGS', { ...env, CNI_ARGS: 'novalue' }, /"novalue"/],
    ['several missing', { CNI_COMMAND: 'CHECK' }, /CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME missing for CHECK/],
  ];
  for (const [name, e, msg] of cases) t.throws(() => parseEnvironment(e), { cniCode: 4, message: msg }, name);
});

t.test('helpers', async (t) => {
  t.same([...parseCniArgs('A=1;B=x=y;;')], [['A', '1'], ['B', 'x=y']]);
  t.equal(validateIfName('eth0'), undefined);
  t.equal(validateIfName('net1.100'), undefined);
  t.match(validateIfName('a:b')!, /contains ":"/);
});
