// The floor under any Node CNI plugin that does moor-bridge's ADD the way moor-bridge does it: the
// same Node start (the executable gets moor-bridge's shebang and Node flags, bench/cni/run.ts writes
// it), the same two children with the same kernel work (one `ip` batch with the pod batch nested
// in it, one iptables-restore), and nothing else: no validation, no IPAM (the host number comes from
// the container ID's last number), no logging, no result worth the name, no DEL. A measuring stick
// for the benchmark, never a plugin.
'use strict';
const fs = require('fs');

const Process = process.binding('process_wrap').Process;
const env = process.env;
const id = env.CNI_CONTAINERID;
const netnsName = env.CNI_NETNS.split('/').pop();
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
const subnet = conf.ipam.ranges[0][0].subnet; // a /24
const net = subnet.split('.').slice(0, 3).join('.');
const host = `${net}.${Number(/(\d+)$/.exec(id)[1]) + 2}`;
const name = `vf${id.replace(/[^A-Za-z0-9-]/g, '')}`.slice(-15);
const chain = `MOORF-${id.replace(/[^A-Za-z0-9-]/g, '')}`.slice(0, 28);
const tag = `-m comment --comment "moor-floor id=${id}"`;

const podBatch = [
  `link add eth0 type veth peer name ${name} netns ${process.pid}`,
  `addr add ${host}/24 dev eth0`,
  'link set dev eth0 up',
  `route add 0.0.0.0/0 via ${net}.1 dev eth0`,
].join('\n') + '\n';
const hostBatch = [
  `netns exec ${netnsName} ip -json -details -batch /dev/fd/3`,
  `link add ${conf.bridge} type bridge`,
  `link set dev ${conf.bridge} up`,
  `addr add ${net}.1/24 dev ${conf.bridge}`,
  `link set dev ${name} master ${conf.bridge} alias "moor-floor id=${id}" up`,
  `addr show dev ${conf.bridge}`,
].join('\n') + '\n';
const rules = [
  '*nat',
  `:${chain} - [0:0]`,
  `-A ${chain} -d ${subnet} ${tag} -j ACCEPT`,
  `-A ${chain} ! -d 224.0.0.0/4 ${tag} -j MASQUERADE`,
  `-A POSTROUTING -s ${host}/32 ${tag} -j ${chain}`,
  'COMMIT',
].join('\n') + '\n';

function scratch(text) {
  const path = `/dev/shm/.moor-floor-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = fs.openSync(path, 'wx+');
  fs.unlinkSync(path);
  if (text) fs.writeSync(fd, text, 0);
  return fd;
}

const envPairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
let running = 0;
function run(file, args, input, extra) {
  const fds = [scratch(input), scratch(''), scratch('')];
  if (extra !== undefined) fds.push(scratch(extra));
  const child = new Process();
  running++;
  child.onexit = (code) => {
    child.close();
    for (const fd of fds) fs.closeSync(fd);
    if (code !== 0 && file.endsWith('iptables-restore')) process.exitCode = 1;
    if (--running === 0) {
      fs.writeSync(1, '{"cniVersion":"1.0.0"}\n');
      process.exit(process.exitCode ?? 0);
    }
  };
  child.spawn({ file, args, envPairs, stdio: fds.map((fd) => ({ type: 'fd', fd })), detached: false, windowsHide: false, windowsVerbatimArguments: false });
}

run('/usr/sbin/iptables-restore', ['iptables-restore', '-w', '10', '--noflush'], rules);
run('/usr/sbin/ip', ['ip', '-json', '-details', '-force', '-batch', '-'], hostBatch, podBatch);
