// scripts/install.sh into a temporary --root, never the machine's own /usr/local or /etc: the layout
// an admin expects, units that pass `systemd-analyze verify`, the installed program (production
// node_modules only) running `moor server`, a join whose kubeconfig authenticates as the node, a
// second run that changes no file, and an uninstall that leaves nothing but what was there before.
// The installed program's final paths (/usr/local/...) are made real inside a private mount
// namespace that binds <root>/usr/local over /usr/local for one command.
import t from 'tap';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from '../../../common/wait.ts';

const repo = resolve(import.meta.dirname, '../../..');
const installSh = join(repo, 'scripts/install.sh');
const NODE_NAME = 'moor-pkg-test-node';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const skip = process.getuid?.() !== 0 ? 'needs root (mount namespaces, file ownership)'
  : !existsSync(join(repo, 'dist/moor.mjs')) || !existsSync(join(repo, 'dist/moor-bridge')) ? 'needs a build of dist/ (npm run build)'
  : !existsSync(join(repo, 'node_modules')) ? 'needs node_modules (npm ci)'
  : !has('unshare') ? 'needs unshare (util-linux)'
  : false;

/** path -> "type mode size mtime inode" (files), "l target" (links), "d mode" (dirs), for every entry below dir. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = join(rel, e.name);
      const p = join(dir, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (e.isSymbolicLink()) out.set(r, `l ${readlinkSync(p)}`);
      else if (e.isDirectory()) { out.set(r, `d ${mode}`); walk(r); }
      // a rewritten file gets a new inode (install.sh replaces by rename) or a new mtime
      else out.set(r, `f ${mode} ${st.size} ${st.mtimeMs} ${st.ino}`);
    }
  };
  walk('');
  return out;
}

function diffSnapshots(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort().map((k) => `${k}: ${a.get(k) ?? '(absent)'} -> ${b.get(k) ?? '(absent)'}`);
}

t.test('scripts/install.sh into a temporary root', { skip }, async (t) => {
  const tmp = mkdtempSync('/tmp/moor-pkg-');
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  // A snapshot of the build: other work may rebuild dist/ while this test runs.
  const dist = join(tmp, 'dist');
  cpSync(join(repo, 'dist'), dist, { recursive: true });
  const root = join(tmp, 'root');
  // Files that were there before Moor: they must survive every step, uninstall --purge included.
  mkdirSync(join(root, 'opt/cni/bin'), { recursive: true });
  writeFileSync(join(root, 'opt/cni/bin/other-plugin'), 'not moor\n', { mode: 0o755 });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/hostname'), 'host\n');
  const before = snapshot(root);

  const install = (...args: string[]): SpawnSyncReturns<string> => {
    const r = spawnSync('bash', [installSh, '--root', root, '--dist', dist, ...args], { encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw new Error(`install.sh ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r;
  };
  /** Runs a shell script where /usr/local is <root>/usr/local. */
  const inRoot = (script: string): SpawnSyncReturns<string> =>
    spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount --bind ${root}/usr/local /usr/local && ${script}`], { encoding: 'utf8', timeout: 60_000 });
  const at = (p: string): string => join(root, p);

  const podCidr = ['--pod-cidr', '10.250.0.0/24'];
  await t.test('installs the layout an admin expects', async (t) => {
    const r = install(...podCidr);
    t.match(r.stderr, /installed Moor in/);
    const wrapper = readFileSync(at('usr/local/bin/moor'), 'utf8');
    const nodeBin = /^exec (\/\S+) \/usr\/local\/lib\/moor\/dist\/moor\.mjs "\$@"$/m.exec(wrapper)?.[1];
    t.ok(nodeBin !== undefined && existsSync(nodeBin), `wrapper runs the final path with this machine's node: ${wrapper}`);
    t.equal(statSync(at('usr/local/bin/moor')).mode & 0o777, 0o755);
    for (const f of ['usr/local/lib/moor/dist/moor.mjs', 'usr/local/lib/moor/dist/proto/runtime/v1/api.proto', 'usr/local/lib/moor/dist/proto/k8s/core.proto',
      'usr/local/lib/moor/node_modules/@grpc/grpc-js/package.json', 'usr/local/lib/moor/node_modules/better-sqlite3/build/Release/better_sqlite3.node']) {
      t.ok(existsSync(at(f)), `${f} installed`);
    }
    for (const dev of ['typescript', 'tap', 'esbuild', 'tsx']) t.notOk(existsSync(at(`usr/local/lib/moor/node_modules/${dev}`)), `dev dependency ${dev} left out`);
    t.notOk(existsSync(at('usr/local/lib/moor/node_modules/better-sqlite3/deps')), 'better-sqlite3 sources left out');
    const plugin = readFileSync(at('opt/cni/bin/moor-bridge'), 'utf8');
    t.equal(plugin.split('\n')[0].split(' ').pop(), nodeBin, 'CNI plugin shebang names the same node');
    if (existsSync('/usr/lib/cni/loopback')) t.equal(readlinkSync(at('opt/cni/bin/loopback')), '/usr/lib/cni/loopback');
    t.match(readFileSync(at('etc/moor/server.env'), 'utf8'), /^MOOR_SERVER_ARGS="--data-dir \/var\/lib\/moor\/server .*--secure-port 6443 --cluster-cidr 10.244.0.0\/16"$/m);
    t.match(readFileSync(at('etc/moor/agent.env'), 'utf8'), /^MOOR_AGENT_ARGS="--container-runtime-endpoint unix:\/\/\/run\/moor\/containerd\/containerd.sock /m);
    const conflist = JSON.parse(readFileSync(at('etc/moor/cni/net.d/10-moor.conflist'), 'utf8')) as { plugins: { type: string; ipam?: { ranges: { subnet: string }[][] } }[] };
    t.same(conflist.plugins.map((p) => p.type), ['moor-bridge', 'portmap'], 'the node conflist for --pod-cidr');
    t.equal(conflist.plugins[0].ipam?.ranges[0][0].subnet, '10.250.0.0/24');
    for (const u of ['moor-server', 'moor-agent', 'moor-containerd', 'moor-registry']) t.ok(existsSync(at(`etc/systemd/system/${u}.service`)), `${u}.service installed`);
    t.equal(statSync(at('var/lib/moor/server')).mode & 0o777, 0o700, 'server state is private');
    t.equal(readFileSync(at('etc/hostname'), 'utf8'), 'host\n', 'files already there are untouched');
  });

  await t.test('containerd accepts the rendered configuration', { skip: has('containerd') ? false : 'needs containerd' }, async (t) => {
    const r = spawnSync('containerd', ['--config', at('etc/moor/containerd/config.toml'), 'config', 'dump'], { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /address = "\/run\/moor\/containerd\/containerd.sock"/);
    t.match(r.stdout, /restrict_oom_score_adj = true/);
    t.match(r.stdout, /bin_dir = "\/opt\/cni\/bin"/);
    t.match(r.stdout, /conf_dir = "\/etc\/moor\/cni\/net.d"/);
  });

  await t.test('units pass systemd-analyze verify against the installed program', { skip: has('systemd-analyze') ? false : 'needs systemd-analyze (Debian package systemd)' }, async (t) => {
    const units = ['moor-server', 'moor-agent', 'moor-containerd', 'moor-registry'].map((u) => at(`etc/systemd/system/${u}.service`));
    const ok = inRoot(`systemd-analyze verify ${units.join(' ')}`);
    t.equal(ok.status, 0, ok.stderr);
    t.equal(`${ok.stdout}${ok.stderr}`.trim(), '', 'no warnings');
    // the same check fails on a unit whose program is missing: it is not vacuous
    const bad = join(tmp, 'moor-broken.service');
    writeFileSync(bad, readFileSync(units[1], 'utf8').replace('ExecStart=/usr/local/bin/moor ', 'ExecStart=/usr/local/bin/moor-missing '));
    const broken = inRoot(`systemd-analyze verify ${bad}`);
    t.not(broken.status, 0);
    t.match(broken.stderr, /moor-missing is not executable/);
  });

  await t.test('the flags in the env files are accepted by the installed program', async (t) => {
    const server = inRoot(`set -a; . ${at('etc/moor/server.env')}; exec /usr/local/bin/moor server $MOOR_SERVER_ARGS --help`);
    t.equal(server.status, 0, server.stderr);
    const agent = inRoot(`set -a; . ${at('etc/moor/agent.env')}; exec /usr/local/bin/moor agent $MOOR_AGENT_ARGS --help`);
    t.equal(agent.status, 0, agent.stderr);
  });

  await t.test('a second run changes nothing', async (t) => {
    const first = snapshot(root);
    const r = install(...podCidr);
    t.match(r.stderr, /nothing changed/);
    t.same(diffSnapshots(first, snapshot(root)), [], 'every file, mode and mtime as before');
  });

  await t.test('joins a server run by the installed program', async (t) => {
    // the server from the installed tree with the installed flags (later flags win: own data dir, any port)
    const data = join(tmp, 'server');
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      `mount --bind ${root}/usr/local /usr/local && set -a && . ${at('etc/moor/server.env')} && exec /usr/local/bin/moor server $MOOR_SERVER_ARGS --data-dir ${data} --bind-address 127.0.0.1 --secure-port 0`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    t.teardown(async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await exited; } });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000); });
    let started: { url: string } | undefined;
    createInterface({ input: child.stdout }).once('line', (line) => { started = JSON.parse(line) as { url: string }; });
    const { url } = await waitFor(() => started ?? (child.exitCode !== null ? Promise.reject(new Error(`server exited: ${stderr}`)) : undefined), { timeoutMs: 60_000, what: 'the installed moor server to listen' });
    t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);

    const token = inRoot(`exec /usr/local/bin/moor server token create --node ${NODE_NAME} --data-dir ${data}`);
    t.equal(token.status, 0, token.stderr);
    appendFileSync(at('etc/moor/server.env'), '# edited by the admin\n');
    const r = install('--node-name', NODE_NAME, '--join', url, '--token', token.stdout.trim(), '--ca-file', join(data, 'pki/ca.crt'));
    t.match(r.stderr, /added --kubeconfig \/etc\/moor\/agent.kubeconfig --non-masquerade-cidr 10.244.0.0\/16 --pod-network-routes host-gw --cni-conf-dir \/etc\/moor\/cni\/net.d to \/etc\/moor\/agent.env/);
    t.match(readFileSync(at('etc/moor/server.env'), 'utf8'), /# edited by the admin\n$/, 'configuration is never overwritten');
    // joined: the agent writes the conflist for the pod CIDR the server gives it, and keeps pod IPs towards the cluster CIDR
    t.match(readFileSync(at('etc/moor/agent.env'), 'utf8'), /^MOOR_AGENT_ARGS=".* --kubeconfig \/etc\/moor\/agent.kubeconfig --non-masquerade-cidr 10.244.0.0\/16 --pod-network-routes host-gw --cni-conf-dir \/etc\/moor\/cni\/net.d"$/m);
    t.equal(statSync(at('etc/moor/agent.kubeconfig')).mode & 0o777, 0o600, 'the credential is private');

    // the kubeconfig verifies the server (CA) and authenticates as the node: NotFound, not 401/403
    const kubectl = has('kubectl') ? spawnSync('kubectl', ['--kubeconfig', at('etc/moor/agent.kubeconfig'), 'get', 'node', NODE_NAME], { encoding: 'utf8', timeout: 30_000 }) : undefined;
    if (kubectl !== undefined) {
      t.match(kubectl.stderr, /NotFound.*not found/, 'authenticated as the node');
      t.notMatch(kubectl.stderr, /Unauthorized|Forbidden|certificate/);
    }

    const again = snapshot(root);
    const r2 = install('--node-name', NODE_NAME, '--join', url, '--token', token.stdout.trim(), '--ca-file', join(data, 'pki/ca.crt'));
    t.match(r2.stderr, /nothing changed/);
    t.same(diffSnapshots(again, snapshot(root)), [], 'the same join again changes nothing');
  });

  await t.test('the agent takes the --kubeconfig that the join adds', async (t) => {
    const help = inRoot('exec /usr/local/bin/moor agent --help');
    const known = help.stdout.includes('--kubeconfig');
    await t.test('moor agent $MOOR_AGENT_ARGS parses', { todo: known ? false : 'moor agent has no --kubeconfig flag yet (the agent joins the server: issue 6)' }, async (t) => {
      const agent = inRoot(`set -a; . ${at('etc/moor/agent.env')}; exec /usr/local/bin/moor agent $MOOR_AGENT_ARGS --help`);
      t.equal(agent.status, 0, agent.stderr);
    });
  });

  await t.test('uninstall keeps configuration and state; --purge leaves nothing', async (t) => {
    install('--uninstall');
    for (const gone of ['usr/local/lib/moor', 'usr/local/bin/moor', 'opt/cni/bin/moor-bridge', 'opt/cni/bin/loopback', 'etc/systemd/system/moor-agent.service']) {
      t.notOk(existsSync(at(gone)), `${gone} removed`);
    }
    for (const kept of ['etc/moor/server.env', 'etc/moor/agent.env', 'etc/moor/agent.kubeconfig', 'var/lib/moor/server']) t.ok(existsSync(at(kept)), `${kept} kept`);
    install('--uninstall', '--purge');
    t.same(diffSnapshots(before, snapshot(root)), [], 'only what was there before is left');
  });
});
