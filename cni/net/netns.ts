// Network namespaces given by path (CNI_NETNS): checking one exists and is a netns, and running a
// command inside it. Node cannot setns() in-process, so commands run through `nsenter --net=<path>`,
// which works for any netns file (bind mounts under /run/netns, /proc/<pid>/ns/net), named or not.

import { statSync } from 'node:fs';
import { CniError } from '../errors.ts';

export type NetnsState = 'ok' | 'missing' | 'not-netns' | 'host';

/** Is `path` a network namespace other than the one this process runs in? No subprocess needed. */
export function inspectNetns(path: string): NetnsState {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    throw err;
  }
  const own = statSync('/proc/self/ns/net');
  // Every namespace file lives on the one nsfs superblock, so the device number tells a netns
  // (or any namespace) from an ordinary file; the inode tells which namespace.
  if (st.dev !== own.dev) return 'not-netns';
  if (st.ino === own.ino) return 'host';
  return 'ok';
}

/** ADD and CHECK need the container's netns: a missing one is the spec's "unknown container". */
export function requireNetns(path: string): void {
  const state = inspectNetns(path);
  switch (state) {
    case 'ok':
      return;
    case 'missing':
      throw new CniError('unknownContainer', `open netns ${path}: no such file or directory`);
    case 'not-netns':
      throw new CniError('invalidEnvironment', `CNI_NETNS ${path} is not a network namespace`);
    case 'host':
      throw new CniError('invalidEnvironment', `CNI_NETNS ${path} is the host's own network namespace`);
    default: {
      const never: never = state;
      throw new Error(`unexpected netns state ${String(never)}`);
    }
  }
}

/** argv that runs `argv` inside the netns at `netnsPath` (or as is when no netns is given). */
export function inNetns(netnsPath: string | undefined, argv: readonly string[]): string[] {
  if (netnsPath === undefined) return [...argv];
  return ['nsenter', `--net=${netnsPath}`, '--', ...argv];
}

/**
 * The name of a netns given by path when `ip -n <name>` reaches the same namespace: a file directly
 * under /run/netns (containerd's /var/run/netns/cni-... included). `ip -n` saves the nsenter
 * process (~1 ms a command); any other path goes through nsenter.
 */
export function namedNetns(netnsPath: string): string | undefined {
  const m = /^(?:\/var)?\/run\/netns\/([^/]+)$/.exec(netnsPath);
  if (m === null) return undefined;
  const name = m[1]!;
  if (netnsPath.startsWith('/run/')) return name;
  try {
    const a = statSync(netnsPath);
    const b = statSync(`/run/netns/${name}`);
    return a.dev === b.dev && a.ino === b.ino ? name : undefined;
  } catch {
    return undefined; // /var/run is not /run here: use nsenter
  }
}

/** argv for `ip` with its arguments inside the netns at `netnsPath`. */
export function ipInNetns(netnsPath: string | undefined, args: readonly string[]): string[] {
  if (netnsPath === undefined) return ['ip', ...args];
  const name = namedNetns(netnsPath);
  return name === undefined ? inNetns(netnsPath, ['ip', ...args]) : ['ip', '-n', name, ...args];
}
