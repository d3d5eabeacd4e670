// `moor containerd config`: prints the configuration of the isolated containerd a Moor node runs
// (scripts/up.sh writes it to /etc/moor/containerd/config.toml). Flags override each path.

import { parseArgs } from 'node:util';
import { renderContainerdConfig, renderRegistryHosts } from '../common/containerd-config.ts';
import { IMAGES, IMAGE_REGISTRY } from '../common/images.ts';

export async function runContainerd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      root: { type: 'string', default: '/var/lib/moor/containerd' },
      state: { type: 'string', default: '/run/moor/containerd' },
      socket: { type: 'string', default: '/run/moor/containerd/containerd.sock' },
      'cni-bin-dir': { type: 'string', default: '/opt/moor/cni/bin' },
      'cni-conf-dir': { type: 'string', default: '/etc/moor/cni/net.d' },
      'registry-config-dir': { type: 'string', default: '/etc/moor/containerd/certs.d' },
      'sandbox-image': { type: 'string', default: IMAGES.pause },
    },
  });
  switch (positionals[0]) {
    case 'config':
      process.stdout.write(
        renderContainerdConfig({
          rootDir: values.root,
          stateDir: values.state,
          socketPath: values.socket,
          cniBinDir: values['cni-bin-dir'],
          cniConfDir: values['cni-conf-dir'],
          registryConfigDir: values['registry-config-dir'],
          sandboxImage: values['sandbox-image'],
        }),
      );
      return 0;
    case 'registry-hosts':
      process.stdout.write(renderRegistryHosts(positionals[1] ?? IMAGE_REGISTRY));
      return 0;
    default:
      process.stderr.write(`usage: moor containerd config [--root DIR] [--state DIR] [--socket PATH] [--cni-bin-dir DIR] [--cni-conf-dir DIR] [--registry-config-dir DIR] [--sandbox-image REF]\n       moor containerd registry-hosts [HOST:PORT]\n`);
      return 2;
  }
}
