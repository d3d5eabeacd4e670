// iproute2 batch lines and the parsing of a -force batch's output into per-line results.
import t from 'tap';
import { classifyIpError, formatIpOp, parseBatchOutput, parseNestedOutput, type IpOp } from '../../../../cni/net/ip.ts';
import { ipInNetns } from '../../../../cni/net/netns.ts';

t.test('batch lines', async (t) => {
  const cases: [IpOp, string][] = [
    [{ op: 'add-bridge', name: 'br0', mtu: 1400, mac: '02:00:00:00:00:01' }, 'link add br0 mtu 1400 address 02:00:00:00:00:01 type bridge'],
    [{ op: 'set-up', name: 'br0', promisc: true }, 'link set dev br0 promisc on up'],
    [{ op: 'add-addr', dev: 'eth0', cidr: 'fd00::5/64', nodad: true }, 'addr add fd00::5/64 dev eth0 nodad'],
    [{ op: 'add-veth', name: 'vethabc', mac: '02:00:00:00:00:02', peerName: 'eth0', peerMac: '02:00:00:00:00:03', peerNetns: '/run/netns/p' }, 'link add vethabc address 02:00:00:00:00:02 type veth peer name eth0 address 02:00:00:00:00:03 netns /run/netns/p'],
    [{ op: 'attach', name: 'vethabc', master: 'br0', alias: 'moor-bridge net=n id=c if=eth0' }, 'link set dev vethabc master br0 alias "moor-bridge net=n id=c if=eth0" up'],
    [{ op: 'set-hairpin', name: 'vethabc' }, 'link set dev vethabc type bridge_slave hairpin on'],
    [{ op: 'add-veth', name: 'eth0', mac: '02:00:00:00:00:03', mtu: 1400, peerName: 'vethabc', peerMac: '02:00:00:00:00:02', peerNetns: '4242' }, 'link add eth0 mtu 1400 address 02:00:00:00:00:03 type veth peer name vethabc mtu 1400 address 02:00:00:00:00:02 netns 4242'],
    [{ op: 'add-route', dst: '0.0.0.0/0', gw: '10.0.0.1', dev: 'eth0' }, 'route add 0.0.0.0/0 via 10.0.0.1 dev eth0'],
    [{ op: 'add-route', dst: '10.1.0.0/16', dev: 'eth0' }, 'route add 10.1.0.0/16 dev eth0'],
    [{ op: 'del-link', name: 'vethabc' }, 'link del dev vethabc'],
    [{ op: 'show-routes' }, 'route show table all'],
  ];
  for (const [op, line] of cases) t.equal(formatIpOp(op), line, op.op);
});

t.test('per-line results from -force batch output', async (t) => {
  const ops: IpOp[] = [
    { op: 'add-bridge', name: 'br0' },
    { op: 'show-addr', dev: 'br0' },
    { op: 'add-addr', dev: 'br0', cidr: '10.0.0.1/24' },
    { op: 'attach', name: 'v', master: 'br0', alias: 'a' },
    { op: 'show-addr', dev: 'nope' },
    { op: 'show-addr', dev: 'v' },
  ];
  const stdout = '[{"ifname":"br0","ifindex":2,"addr_info":[]}]\n[{"ifname":"v","ifindex":3,"ifalias":"a [x]"}]\n';
  const stderr = 'RTNETLINK answers: File exists\nCommand failed -:1\nError: ipv4: Address already assigned.\nCommand failed -:3\nCannot find device "nope"\nCommand failed -:5\n';
  const r = parseBatchOutput(ops, stdout, stderr);
  t.same(r.map((x) => [x.ok, x.kind]), [[false, 'exists'], [true, undefined], [false, 'exists'], [true, undefined], [false, 'notFound'], [true, undefined]]);
  t.same((r[1]!.json as { ifname: string }[])[0]!.ifname, 'br0');
  t.same((r[5]!.json as { ifalias: string }[])[0]!.ifalias, 'a [x]', 'JSON documents assigned past a failed show');
  const oneLine = parseBatchOutput([{ op: 'show-addr', dev: 'a' }, { op: 'show-addr', dev: 'b' }], '[{"ifname":"a","ifindex":1}][{"ifname":"b","ifindex":2}]', '');
  t.same(oneLine.map((x) => (x.json as { ifname: string }[])[0]!.ifname), ['a', 'b'], 'documents not one per line are still told apart');
  t.equal(classifyIpError('RTNETLINK answers: Operation not permitted'), 'other');
  t.equal(classifyIpError('Device "x" does not exist.'), 'notFound');
  t.equal(classifyIpError('Error: ipv4: Address not found.'), 'notFound');
});

t.test('ip inside a netns', async (t) => {
  t.same(ipInNetns(undefined, ['-batch', '-']), ['ip', '-batch', '-']);
  t.same(ipInNetns('/run/netns/cni-1', ['-batch', '-']), ['ip', '-n', 'cni-1', '-batch', '-'], 'named: ip -n');
  t.same(ipInNetns('/proc/42/ns/net', ['-batch', '-']), ['nsenter', '--net=/proc/42/ns/net', '--', 'ip', '-batch', '-'], 'any other path: nsenter');
});

t.test('a host batch with the pod batch nested in its first line', async (t) => {
  const pod: IpOp[] = [
    { op: 'add-veth', name: 'eth0', mac: '02:00:00:00:00:03', peerName: 'vethabc', peerMac: '02:00:00:00:00:02', peerNetns: '4242' },
    { op: 'add-addr', dev: 'eth0', cidr: '10.0.0.5/24' },
    { op: 'set-up', name: 'eth0' },
  ];
  const host: IpOp[] = [
    { op: 'add-bridge', name: 'br0' },
    { op: 'attach', name: 'vethabc', master: 'br0', alias: 'a' },
    { op: 'show-addr', dev: 'br0' },
  ];
  const br = '[{"ifname":"br0","ifindex":2}]\n';
  // host lines are numbered from 2: line 1 is `netns exec ... ip -batch /dev/fd/3`
  const cases: { name: string; stderr: string; pod: [boolean, string | undefined][]; host: [boolean, string | undefined][] }[] = [
    {
      name: 'all applied (the bridge existed)',
      stderr: 'RTNETLINK answers: File exists\nCommand failed -:2\n',
      pod: [[true, undefined], [true, undefined], [true, undefined]],
      host: [[false, 'exists'], [true, undefined], [true, undefined]],
    },
    {
      name: 'the interface exists in the pod: the pod batch stops at once',
      stderr: 'RTNETLINK answers: File exists\nCommand failed /dev/fd/3:1\nCommand failed -:1\nCannot find device "vethabc"\nCommand failed -:3\n',
      pod: [[false, 'exists'], [false, 'skipped'], [false, 'skipped']],
      host: [[true, undefined], [false, 'notFound'], [true, undefined]],
    },
    {
      name: 'a later pod line fails',
      stderr: 'RTNETLINK answers: Permission denied\nCommand failed /dev/fd/3:2\nCommand failed -:1\n',
      pod: [[true, undefined], [false, 'other'], [false, 'skipped']],
      host: [[true, undefined], [true, undefined], [true, undefined]],
    },
    {
      name: 'the netns exec line fails before the pod batch starts',
      stderr: 'Cannot open network namespace "p": No such file or directory\nCommand failed -:1\n',
      pod: [[false, 'other'], [false, 'skipped'], [false, 'skipped']],
      host: [[true, undefined], [true, undefined], [true, undefined]],
    },
  ];
  for (const c of cases) {
    const r = parseNestedOutput(pod, host, br, c.stderr);
    t.same(r.pod.map((x) => [x.ok, x.kind]), c.pod, `${c.name}: pod`);
    t.same(r.host.map((x) => [x.ok, x.kind]), c.host, `${c.name}: host`);
    t.same((r.host[2]!.json as { ifname: string }[])[0]!.ifname, 'br0', `${c.name}: the show output is the host's`);
  }
});
