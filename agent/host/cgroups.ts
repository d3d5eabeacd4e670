// Pod-level cgroup directories: runc creates `<parent>` in every v1 hierarchy (and the unified
// one) when a sandbox names a cgroup parent, and nobody removes it after RemovePodSandbox
// (reference: containerd-cri.md item 33). This module is the one that removes them. It only ever
// rmdir()s, so a cgroup that still holds processes or children is left and reported, never forced.

import { readdir, rmdir } from 'node:fs/promises';
import type { Logger } from '../../common/log.ts';

const CGROUP_ROOT = '/sys/fs/cgroup';

async function hierarchies(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() || e.isSymbolicLink()).map((e) => `${root}/${e.name}`);
}

/**
 * Remove the cgroup `path` (cgroupfs syntax, e.g. /kubepods/besteffort/pod<uid>) from every
 * hierarchy. Returns the directories that could not be removed (busy), which a later call retries.
 */
export async function removePodCgroup(path: string, opts: { log?: Logger; root?: string } = {}): Promise<string[]> {
  const rel = path.replace(/^\/+/, '');
  if (rel === '' || rel.split('/').includes('..')) throw new Error(`remove cgroup ${JSON.stringify(path)}: not a pod cgroup path`);
  const left: string[] = [];
  for (const h of await hierarchies(opts.root ?? CGROUP_ROOT)) {
    const dir = `${h}/${rel}`;
    try {
      await rmdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      left.push(dir);
      opts.log?.debug({ dir, code }, 'pod cgroup not removed');
    }
  }
  return left;
}
