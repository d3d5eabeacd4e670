// vagrant/Vagrantfile checked with `vagrant validate`; no VM can boot here, so each provider is given
// just enough to load its own validation honestly:
// - provider-independent settings: `vagrant validate --ignore-provider`;
// - the VirtualBox block: the virtualbox provider, with a stand-in VBoxManage on PATH that only
//   answers `--version` (all that `vagrant validate` asks of it);
// - the libvirt block: Debian's vagrant-libvirt against libvirt's built-in test driver
//   (LIBVIRT_DEFAULT_URI=test:///default), which needs no libvirtd.
// Vagrant's state and home go to a temporary directory; its version check is off (no network).
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../../..');
const vagrantDir = join(repo, 'vagrant');
const hasVagrant = spawnSync('sh', ['-c', 'command -v vagrant']).status === 0;
const skip = hasVagrant ? false : 'needs vagrant (Debian package vagrant; scripts/install-deps.sh --test installs it)';

interface Run { readonly code: number; readonly out: string }

function vagrant(args: readonly string[], opts: { cwd: string; tmp: string; env?: Record<string, string> }): Promise<Run> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    VAGRANT_CWD: opts.cwd,
    VAGRANT_DOTFILE_PATH: join(opts.tmp, 'dot'),
    VAGRANT_HOME: join(opts.tmp, 'home'),
    VAGRANT_CHECKPOINT_DISABLE: '1',
    VAGRANT_NO_COLOR: '1',
    ...opts.env,
  };
  return new Promise((res) => {
    execFile('vagrant', args, { env, cwd: opts.cwd, timeout: 120_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      res({ code, out: `${stdout}${stderr}` });
    });
  });
}

t.test('vagrant/Vagrantfile', { skip }, async (t) => {
  const tmp = mkdtempSync('/tmp/moor-vagrant-');
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const stub = join(tmp, 'stub');
  cpSync(vagrantDir, join(tmp, 'broken'), { recursive: true, filter: (p) => !p.includes('/.vagrant') && !p.includes('/.cluster') });
  writeFileSync(join(tmp, 'broken/Vagrantfile'), readFileSync(join(vagrantDir, 'Vagrantfile'), 'utf8').replace('vb.memory = memory', 'vb.memmory = memory'));
  spawnSync('mkdir', ['-p', stub]);
  writeFileSync(join(stub, 'VBoxManage'), '#!/bin/sh\n# stands in for VirtualBox: vagrant validate only asks for the version\n[ "$1" = --version ] && echo 7.0.14r161095 && exit 0\necho "VBoxManage stand-in: $*" >&2\nexit 1\n');
  chmodSync(join(stub, 'VBoxManage'), 0o755);
  const virtualbox = { VAGRANT_DEFAULT_PROVIDER: 'virtualbox', PATH: `${stub}:${process.env.PATH ?? ''}` };
  const libvirtPlugin = existsSync('/usr/share/vagrant-plugins/plugins.d/vagrant-libvirt.json') || spawnSync('gem', ['list', '-i', 'vagrant-libvirt']).status === 0;

  // vagrant takes seconds to load: run every case at once, then look at each
  const [generic, sized, vbox, libvirt, brokenVbox, badAgents] = await Promise.all([
    vagrant(['validate', '--ignore-provider'], { cwd: vagrantDir, tmp: join(tmp, 'a') }),
    vagrant(['validate', '--ignore-provider'], { cwd: vagrantDir, tmp: join(tmp, 'b'), env: { MOOR_AGENTS: '3', MOOR_NETWORK: '10.77.0' } }),
    vagrant(['validate'], { cwd: vagrantDir, tmp: join(tmp, 'c'), env: virtualbox }),
    libvirtPlugin ? vagrant(['validate'], { cwd: vagrantDir, tmp: join(tmp, 'd'), env: { VAGRANT_DEFAULT_PROVIDER: 'libvirt', LIBVIRT_DEFAULT_URI: 'test:///default' } }) : undefined,
    vagrant(['validate'], { cwd: join(tmp, 'broken'), tmp: join(tmp, 'e'), env: virtualbox }),
    vagrant(['validate', '--ignore-provider'], { cwd: vagrantDir, tmp: join(tmp, 'f'), env: { MOOR_AGENTS: 'many' } }),
  ]);

  t.test('defines the server and two agents by default', async (t) => {
    t.equal(generic.code, 0, 'vagrant validate succeeds', { output: generic.out });
    t.same([...generic.out.matchAll(/^==> ([\w-]+): /gm)].map((m) => m[1]), ['server', 'agent-1', 'agent-2']);
    t.match(generic.out, /Vagrantfile validated successfully/);
  });

  t.test('MOOR_AGENTS sets the number of agent nodes', async (t) => {
    t.equal(sized.code, 0, 'vagrant validate succeeds', { output: sized.out });
    t.same([...sized.out.matchAll(/^==> ([\w-]+): /gm)].map((m) => m[1]), ['server', 'agent-1', 'agent-2', 'agent-3']);
  });

  t.test('a bad setting is refused, naming it', async (t) => {
    t.not(badAgents.code, 0);
    t.match(badAgents.out, /MOOR_AGENTS="many" is not valid/);
  });

  t.test('the VirtualBox provider block is valid', async (t) => {
    t.equal(vbox.code, 0, 'vagrant validate succeeds', { output: vbox.out });
    t.match(vbox.out, /Vagrantfile validated successfully/);
    // the same check sees a misspelt provider setting: it does look at the block
    t.not(brokenVbox.code, 0);
    t.match(brokenVbox.out, /VirtualBox Provider:[\s\S]*shouldn't exist: memmory/);
  });

  t.test('the libvirt provider block is valid', { skip: libvirtPlugin ? false : 'needs vagrant-libvirt (Debian package vagrant-libvirt)' }, async (t) => {
    t.equal(libvirt!.code, 0, 'vagrant validate succeeds', { output: libvirt!.out });
    t.match(libvirt!.out, /Vagrantfile validated successfully/);
  });

  t.test('provision.sh parses and refuses bad arguments before doing anything', async (t) => {
    const script = join(vagrantDir, 'provision.sh');
    t.equal(spawnSync('bash', ['-n', script]).status, 0, 'bash -n');
    const noArgs = spawnSync('bash', [script], { encoding: 'utf8' });
    t.equal(noArgs.status, 2);
    t.match(noArgs.stderr, /usage: provision.sh server\|agent/);
    if (!existsSync('/moor/scripts/install.sh')) {
      const unmounted = spawnSync('bash', [script, 'agent', 'moor-agent-1', '192.0.2.11', '192.0.2.10'], { encoding: 'utf8' });
      t.equal(unmounted.status, 1);
      t.match(unmounted.stderr, /the source tree is not mounted at \/moor/);
    }
  });
  t.equal(existsSync(join(vagrantDir, '.vagrant')), false, 'no machine state left in vagrant/');
});
