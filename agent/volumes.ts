// Pod volumes on the node: emptyDir (a directory, or a tmpfs for medium Memory) and hostPath, under
// <root-dir>/pods/<uid>/volumes/kubernetes.io~<kind>/<name> like the kubelet, plus the managed
// /etc/hosts file. Everything under a pod's directory is removed with the pod: mounts first, and
// nothing is deleted while anything is still mounted beneath it. hostPath contents are never removed.

import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { Logger } from '../common/log.ts';
import { NodeError } from '../common/errors.ts';
import { ensureTmpfs, listMountPoints, removeMountsUnder } from './host/mount.ts';
import { bytes } from '../common/quantity.ts';
import type { HostPathType, Pod, Volume } from './pod/types.ts';

export class VolumeError extends NodeError {}

export interface VolumeManagerOptions {
  readonly rootDir: string;
  readonly log: Logger;
}

export class VolumeManager {
  readonly #rootDir: string;
  readonly #log: Logger;

  constructor(opts: VolumeManagerOptions) {
    this.#rootDir = opts.rootDir.replace(/\/+$/, '');
    this.#log = opts.log;
  }

  podDir(podUid: string): string {
    if (podUid === '' || podUid.includes('/') || podUid.startsWith('.')) throw new VolumeError('invalid-pod-uid', `pod directory for uid ${JSON.stringify(podUid)}: invalid uid`);
    return `${this.#rootDir}/pods/${podUid}`;
  }

  volumePath(podUid: string, v: Volume): string {
    if (v.hostPath !== undefined) return v.hostPath.path;
    return `${this.podDir(podUid)}/volumes/kubernetes.io~empty-dir/${v.name}`;
  }

  hostsFilePath(podUid: string): string {
    return `${this.podDir(podUid)}/etc-hosts`;
  }

  /** Create (or confirm) every volume of the pod; returns volume name -> host path. */
  async ensurePodVolumes(pod: Pod): Promise<Map<string, string>> {
    const uid = pod.metadata.uid;
    await mkdir(`${this.podDir(uid)}/volumes`, { recursive: true });
    const paths = new Map<string, string>();
    for (const v of pod.spec.volumes ?? []) {
      const path = this.volumePath(uid, v);
      if (v.emptyDir !== undefined) {
        await mkdir(path, { recursive: true, mode: 0o777 });
        if (v.emptyDir.medium === 'Memory') {
          const sizeBytes = v.emptyDir.sizeLimit !== undefined ? bytes(v.emptyDir.sizeLimit) : undefined;
          await ensureTmpfs(path, { ...(sizeBytes !== undefined ? { sizeBytes } : {}), log: this.#log });
        }
      } else if (v.hostPath !== undefined) {
        await ensureHostPath(v.hostPath.path, v.hostPath.type ?? '', v.name);
      }
      paths.set(v.name, path);
    }
    // subPath directories are created on demand, like the kubelet does.
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      for (const m of c.volumeMounts ?? []) {
        const base = paths.get(m.name);
        if (m.subPath && base !== undefined) await mkdir(`${base}/${m.subPath}`, { recursive: true });
      }
    }
    return paths;
  }

  /** Write the managed hosts file (atomically when it exists: containers may be reading it). */
  async writeHostsFile(podUid: string, content: string): Promise<string> {
    const path = this.hostsFilePath(podUid);
    try {
      await writeFile(path, content, { mode: 0o644, flag: 'wx' });
      return path;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        await mkdir(this.podDir(podUid), { recursive: true });
        await writeFile(path, content, { mode: 0o644, flag: 'wx' });
        return path;
      }
      if (code !== 'EEXIST') throw err;
    }
    await writeFile(`${path}.tmp`, content, { mode: 0o644 });
    await rename(`${path}.tmp`, path);
    return path;
  }

  /** Remove the pod's directory: unmount tmpfs volumes, then delete. Safe to call twice. */
  async removePodDir(podUid: string): Promise<void> {
    const dir = this.podDir(podUid);
    await removeMountsUnder(dir, this.#log);
    const still = (await listMountPoints()).filter((m) => m === dir || m.startsWith(dir + '/'));
    if (still.length > 0) throw new VolumeError('volume-busy', `remove pod directory ${dir}: still mounted: ${still.join(', ')}`);
    await rm(dir, { recursive: true, force: true });
  }

  /** UIDs that have a directory under <root-dir>/pods (for cleaning up after pods that are gone). */
  async listPodDirs(): Promise<string[]> {
    return readdir(`${this.#rootDir}/pods`).catch(() => []);
  }
}

async function kindOf(path: string): Promise<'dir' | 'file' | 'socket' | 'char' | 'block' | 'other' | undefined> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) return 'dir';
    if (s.isFile()) return 'file';
    if (s.isSocket()) return 'socket';
    if (s.isCharacterDevice()) return 'char';
    if (s.isBlockDevice()) return 'block';
    return 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** hostPath `type` checks and creation, as the kubelet's hostPath volume plugin does them. */
export async function ensureHostPath(path: string, type: HostPathType, volumeName: string): Promise<void> {
  const want: Record<Exclude<HostPathType, '' | 'DirectoryOrCreate' | 'FileOrCreate'>, string> = {
    Directory: 'dir', File: 'file', Socket: 'socket', CharDevice: 'char', BlockDevice: 'block',
  };
  const have = await kindOf(path);
  switch (type) {
    case '':
      return;
    case 'DirectoryOrCreate':
      if (have === undefined) await mkdir(path, { recursive: true, mode: 0o755 });
      else if (have !== 'dir') throw new VolumeError('host-path-type', `prepare hostPath volume ${volumeName}: ${path} exists and is not a directory`);
      return;
    case 'FileOrCreate':
      if (have === undefined) {
        await mkdir(path.slice(0, path.lastIndexOf('/')) || '/', { recursive: true });
        await writeFile(path, '', { flag: 'a', mode: 0o644 });
      } else if (have !== 'file') throw new VolumeError('host-path-type', `prepare hostPath volume ${volumeName}: ${path} exists and is not a file`);
      return;
    default:
      if (have !== want[type]) {
        throw new VolumeError('host-path-type', `prepare hostPath volume ${volumeName}: ${path} is not a ${type}${have === undefined ? ': does not exist' : ''}`);
      }
  }
}
