// The containerd test rig: an isolated containerd 1.6 (own root, state, socket and config under
// /var/lib/moor-test/<name> and /run/moor-test/<name>; never /run/containerd or /var/lib/containerd)
// with the CRI plugin, Moor's pause image as sandbox image, the local registry over plain HTTP and
// the cgroupfs driver. stop() leaves nothing behind: it removes every sandbox through CRI when it
// can, then force-kills whatever containers remain through runc's private root, unmounts, deletes
// the bridge and directories. Runs in the host network namespace, like a real node's containerd;
// the CNI network it writes uses a bridge and subnet unique to the rig and no iptables rules.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile, readFile, readdir, symlink, access } from 'node:fs/promises';
import { randomBytes, createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { renderContainerdConfig, renderRegistryHosts } from '../../common/containerd-config.ts';
import { IMAGES, IMAGE_REGISTRY } from '../../common/images.ts';
import { waitFor } from '../../common/wait.ts';
import { createCriClient } from '../../agent/cri/client.ts';

export { IMAGES } from '../../common/images.ts';

const run = promisify(execFile);

export interface ContainerdRig {
  readonly name: string;
  readonly endpoint: string;
  readonly socketPath: string;
  readonly rootDir: string;
  readonly stateDir: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  /** Pod subnet of the rig's own CNI network ('' with network 'none'). */
  readonly podSubnet: string;
  /** Bridge of the rig's own CNI network ('' with network 'none'). */
  readonly bridgeName: string;
  readonly logFile: string;
  readonly pid: () => number | undefined;
  /** SIGTERM containerd, then start it again on the same directories and wait until CRI is ready. */
  restart(): Promise<void>;
  /** SIGKILL containerd (pods keep running: shims are separate processes). start() brings it back. */
  kill(): Promise<void>;
  /** Start containerd again after kill(). */
  start(): Promise<void>;
  /** Stop containerd and remove everything the rig made. Safe to call twice. */
  stop(): Promise<void>;
}

export interface RigOptions {
  readonly name?: string;
  /** 'bridge' (default): reference bridge + host-local on a rig-unique bridge and subnet. */
  readonly network?: 'bridge' | 'none';
  /** Extra plugin binaries to expose in the rig's CNI bin dir: name -> path. */
  readonly cniPlugins?: Readonly<Record<string, string>>;
}

const REFERENCE_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap', 'bandwidth', 'tuning'];
const REFERENCE_DIR = '/usr/lib/cni';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** A /24 in 10.199.0.0/16 that no route or address on the host uses yet. */
async function pickSubnet(): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const subnet = `10.199.${randomBytes(1)[0]}.0/24`;
    const { stdout } = await run('ip', ['-4', 'route', 'show', 'match', subnet.replace('.0/24', '.1')]);
    const overlapping = stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('default'));
    if (overlapping.length === 0) return subnet;
  }
  throw new Error('containerd rig: no free /24 in 10.199.0.0/16');
}

export async function startContainerdRig(opts: RigOptions = {}): Promise<ContainerdRig> {
  if (process.getuid?.() !== 0) throw new Error('containerd rig: needs root');
  const id = randomBytes(3).toString('hex');
  const name = opts.name ?? `moor-rig-${id}`;
  const base = `/var/lib/moor-test/${name}`;
  const rootDir = `${base}/root`;
  const stateDir = `/run/moor-test/${name}`;
  const socketPath = `${stateDir}/containerd.sock`;
  const cniConfDir = `${base}/cni-conf`;
  const cniBinDir = `${base}/cni-bin`;
  const registryConfigDir = `${base}/certs.d`;
  const configPath = `${base}/config.toml`;
  const logFile = `${base}/containerd.log`;
  const network = opts.network ?? 'bridge';
  const bridgeName = network === 'bridge' ? `mrig-${id}` : '';
  const netName = `moor-rig-${id}`;
  const podSubnet = network === 'bridge' ? await pickSubnet() : '';

  await mkdir(`${registryConfigDir}/${IMAGE_REGISTRY}`, { recursive: true });
  await mkdir(cniConfDir, { recursive: true });
  await mkdir(cniBinDir, { recursive: true });
  await mkdir(stateDir, { recursive: true });
  await writeFile(`${registryConfigDir}/${IMAGE_REGISTRY}/hosts.toml`, renderRegistryHosts(IMAGE_REGISTRY));
  await writeFile(configPath, renderContainerdConfig({ rootDir, stateDir, socketPath, sandboxImage: IMAGES.pause, cniBinDir, cniConfDir, registryConfigDir }));
  for (const plugin of REFERENCE_PLUGINS) {
    if (await exists(`${REFERENCE_DIR}/${plugin}`)) await symlink(`${REFERENCE_DIR}/${plugin}`, `${cniBinDir}/${plugin}`);
  }
  for (const [plugin, path] of Object.entries(opts.cniPlugins ?? {})) await symlink(path, `${cniBinDir}/${plugin}`);
  if (network === 'bridge') {
    const conflist = {
      cniVersion: '1.0.0',
      name: netName,
      plugins: [
        {
          type: 'bridge',
          bridge: bridgeName,
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: podSubnet }]], dataDir: `${base}/cni-ipam` },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    };
    await writeFile(`${cniConfDir}/10-${netName}.conflist`, JSON.stringify(conflist, null, 2));
  }

  let child: ChildProcess | undefined;
  let stopped = false;

  const start = async (): Promise<void> => {
    const out = await import('node:fs').then((fs) => fs.openSync(logFile, 'a'));
    child = spawn('containerd', ['--config', configPath, '--log-level', 'info'], { stdio: ['ignore', out, out], detached: true });
    const proc = child;
    let exited: string | undefined;
    proc.once('exit', (code, signal) => {
      exited = `containerd exited (${signal ?? code})`;
    });
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(exited);
        if (!(await exists(socketPath))) return false;
        // A socket proves nothing (reference §2 item 3), nor does `ctr plugins ls` showing cri ok
        // (the CRI server may still answer "not initialized"): ask CRI itself.
        const cri = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 2000 });
        try {
          await cri.version();
          return (await cri.status()).conditions.some((c) => c.type === 'RuntimeReady' && c.status);
        } finally {
          cri.close();
        }
      },
      { timeoutMs: 20000, intervalMs: 50, what: `containerd rig ${name} CRI ready (log: ${logFile})` },
    ).catch(async (err: unknown) => {
      const tail = await readFile(logFile, 'utf8').then((t) => t.split('\n').slice(-15).join('\n'), () => '');
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail}`);
    });
  };

  const waitExit = async (proc: ChildProcess, signal: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await done;
  };

  const rig: ContainerdRig = {
    name,
    endpoint: `unix://${socketPath}`,
    socketPath,
    rootDir,
    stateDir,
    cniConfDir,
    cniBinDir,
    podSubnet,
    bridgeName,
    logFile,
    pid: () => child?.pid,
    async restart() {
      if (child) await waitExit(child, 'SIGTERM');
      await start();
    },
    async kill() {
      if (child) await waitExit(child, 'SIGKILL');
    },
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      const running = child !== undefined && child.exitCode === null && child.signalCode === null;
      if (running) await removeAllSandboxes(rig).catch(() => undefined);
      if (child) await waitExit(child, 'SIGTERM');
      await forceCleanup({ stateDir, base, bridgeName, netName });
    },
  };

  try {
    await start();
  } catch (err) {
    await rig.stop();
    throw err;
  }
  return rig;
}

/** The graceful path: RemovePodSandbox for every sandbox (stops containers, runs CNI DEL). */
async function removeAllSandboxes(rig: ContainerdRig): Promise<void> {
  const client = createCriClient({ endpoint: rig.endpoint, timeoutMs: 20000 });
  try {
    for (const sandbox of await client.listPodSandbox()) await client.removePodSandbox(sandbox.id);
  } finally {
    client.close();
  }
}

/**
 * The forceful path, for whatever the graceful one could not remove (a test that failed, a killed
 * containerd): kill and delete containers through the rig's private runc root, kill the rig's
 * shims, unmount what lies under its state dir, delete its bridge, CNI cache entries and dirs.
 */
async function forceCleanup(o: { stateDir: string; base: string; bridgeName: string; netName: string }): Promise<void> {
  const runcRoot = `${o.stateDir}/runc/k8s.io`;
  if (await exists(runcRoot)) {
    const { stdout } = await run('runc', ['--root', runcRoot, 'list', '-q']).catch(() => ({ stdout: '' }));
    for (const cid of stdout.split('\n').filter(Boolean)) {
      await run('runc', ['--root', runcRoot, 'kill', cid, 'KILL']).catch(() => undefined);
      await run('runc', ['--root', runcRoot, 'delete', '--force', cid]).catch(() => undefined);
    }
  }
  // Shims started by this rig carry its socket address on their command line.
  const socket = `${o.stateDir}/containerd.sock`;
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const argv = cmdline.split('\0');
    if (!argv[0]?.includes('containerd-shim') || !argv.includes(socket)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
    // A killed shim leaves its socket in the shared /run/containerd/s (reference §2 item 2), named
    // sha256("<grpc address>/<namespace>/<id>").
    const flag = (name: string): string => argv[argv.indexOf(name) + 1] ?? '';
    const digest = createHash('sha256').update(`${socket}/${flag('-namespace')}/${flag('-id')}`).digest('hex');
    await rm(`/run/containerd/s/${digest}`, { force: true });
  }
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1]).filter((m): m is string => m !== undefined && (m.startsWith(o.stateDir + '/') || m.startsWith(o.base + '/')));
  for (const m of mounts.reverse()) await run('umount', ['-l', m]).catch(() => undefined);
  if (o.bridgeName !== '') await run('ip', ['link', 'del', o.bridgeName]).catch(() => undefined);
  for (const f of await readdir('/var/lib/cni/results').catch(() => [] as string[])) {
    if (f.startsWith(`${o.netName}-`)) await rm(`/var/lib/cni/results/${f}`, { force: true });
  }
  await rm(o.stateDir, { recursive: true, force: true });
  await rm(o.base, { recursive: true, force: true });
}
