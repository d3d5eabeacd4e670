// moor-bridge as the CNI network of a real containerd (the test rig, network 'none'), installed with
// scripts/install-cni.sh: a pod sandbox gets its IP from our built-in IPAM (a host-local style
// reservation file naming the sandbox), the pod reaches its gateway, and stopping and removing the
// sandbox (CNI DEL through libcni) releases everything. containerd runs in the machine's network
// namespace, so the bridge, subnet and data directory are unique to this test, and teardown runs our
// own GC for the network before deleting the bridge.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../../../common/wait.ts';
import { createCriClient } from '../../../agent/cri/client.ts';
import { startContainerdRig, IMAGES } from '../../helpers/containerd-rig.ts';
import { REPO, isRoot, moorBridgePath } from './lab.ts';

const skip = isRoot() ? false : 'needs root';

function sh(argv: string[], input?: string, env?: Record<string, string>): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

/** A /24 in 10.198.0.0/16 that no route on the machine uses yet. */
function freeSubnet(): string {
  for (let i = 0; i < 50; i++) {
    const third = randomBytes(1)[0]!;
    const out = sh(['ip', '-4', 'route', 'show', 'match', `10.198.${third}.1`]).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('default'));
    if (out.length === 0) return `10.198.${third}.0/24`;
  }
  throw new Error('no free /24 in 10.198.0.0/16');
}

t.test('a pod sandbox started through containerd gets its IP from moor-bridge', { skip, timeout: 180_000 }, async (t) => {
  const id = randomBytes(3).toString('hex');
  const rig = await startContainerdRig({ network: 'none' });
  t.teardown(() => rig.stop());
  const subnet = freeSubnet();
  const bridge = `mbtc${id}`;
  const network = `mbt-ctrd-${id}`;
  const dataDir = join(rig.stateDir, 'moor-ipam');
  const logFile = join(rig.stateDir, 'moor-bridge.log');
  const plugin = await moorBridgePath();

  sh(['bash', join(REPO, 'scripts', 'install-cni.sh'), '--plugin', plugin, '--bin-dir', rig.cniBinDir, '--conf-dir', rig.cniConfDir,
    '--pod-cidr', subnet, '--name', network, '--bridge', bridge, '--data-dir', dataDir, '--log-file', logFile]);
  t.teardown(() => {
    // Our own GC with no valid attachment removes whatever a failed run left of this network
    // (reservations, veths, nat rules); the bridge is never removed by the plugin itself.
    const conf = JSON.parse(readFileSync(join(rig.cniConfDir, '10-moor.conflist'), 'utf8')) as { plugins: Record<string, unknown>[] };
    const gc = { ...conf.plugins[0], cniVersion: '1.1.0', name: network, 'cni.dev/valid-attachments': [] };
    try {
      sh([join(rig.cniBinDir, 'moor-bridge')], JSON.stringify(gc), { CNI_COMMAND: 'GC', CNI_PATH: rig.cniBinDir });
    } catch {
      // reported by the assertions below when it matters
    }
    try {
      sh(['ip', 'link', 'del', bridge]);
    } catch {
      // never created
    }
  });
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 60_000 });
  t.teardown(() => cri.close());
  await waitFor(async () => (await cri.status()).conditions.some((c) => c.type === 'NetworkReady' && c.status), { timeoutMs: 20_000, what: 'containerd to load the moor-bridge network' });
  await cri.pullImage(IMAGES.busybox);

  const sandboxConfig = { metadata: { name: 'moor-net', uid: `uid-${id}`, namespace: 'cni-test', attempt: 0 }, hostname: 'moor-net' };
  const sandboxId = await cri.runPodSandbox(sandboxConfig);
  const status = await cri.podSandboxStatus(sandboxId);
  const prefix = subnet.replace('.0/24', '.');
  t.ok(status.ip.startsWith(prefix), `pod IP ${status.ip} is in ${subnet}`);
  const reservation = join(dataDir, network, status.ip);
  t.ok(existsSync(reservation), 'a reservation file in our IPAM store');
  t.equal(readFileSync(reservation, 'utf8'), `${sandboxId}\r\neth0`, 'naming the sandbox, host-local style');
  const port = JSON.parse(sh(['ip', '-j', '-d', 'link', 'show', 'master', bridge])) as { ifalias?: string }[];
  t.same(port.map((p) => p.ifalias), [`moor-bridge net=${network} id=${sandboxId} if=eth0`], 'one port on our bridge, tagged with the attachment');
  t.ok(sh(['iptables-save', '-t', 'nat']).includes(`moor-bridge net=${network} id=${sandboxId} if=eth0`), 'masquerade rules tagged with the sandbox');

  const containerId = await cri.createContainer(sandboxId, { metadata: { name: 'ping', attempt: 0 }, image: { image: IMAGES.busybox }, command: ['sleep', '3600'] }, sandboxConfig);
  await cri.startContainer(containerId);
  const ping = await cri.execSync(containerId, ['ping', '-c', '1', '-W', '2', `${prefix}1`], 10);
  t.equal(ping.exitCode, 0, `the pod reaches its gateway ${prefix}1`);
  const log = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(log.some((l) => l.msg === 'ADD done' && l.containerId === sandboxId), 'the ADD is in the plugin log');

  await cri.stopPodSandbox(sandboxId);
  await cri.removePodSandbox(sandboxId);
  t.notOk(existsSync(reservation), 'StopPodSandbox released the address');
  t.same(readdirSync(join(dataDir, network)).filter((f) => /^\d/.test(f)), [], 'no reservation left');
  t.same(JSON.parse(sh(['ip', '-j', 'link', 'show', 'master', bridge])), [], 'no port left on the bridge');
  t.notOk(sh(['iptables-save', '-t', 'nat']).includes(`net=${network} `), 'no nat rule left');
});
