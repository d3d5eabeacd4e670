// The one place the agent mounts and unmounts (tmpfs for emptyDir medium Memory) and reads the
// mount table. mount(8)/umount(8) through execa with a timeout; failures become CommandError;
// "not mounted" on unmount counts as done.

import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { CommandError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';

const TIMEOUT_MS = 10_000;

async function run(argv: string[], log?: Logger): Promise<void> {
  const started = performance.now();
  const r = await execa(argv[0], argv.slice(1), { reject: false, timeout: TIMEOUT_MS, stdin: 'ignore' });
  log?.debug({ argv, exitCode: r.exitCode, durationMs: Math.round(performance.now() - started) }, 'mount command');
  if (r.exitCode !== 0) {
    const stderr = String(r.stderr ?? '').trim();
    throw new CommandError({ code: /not mounted|no mount point/.test(stderr) ? 'not-mounted' : 'mount-failed', message: `${argv.join(' ')}: ${stderr || `exit ${r.exitCode ?? r.signal}`}`, argv, exitCode: r.exitCode, stderr });
  }
}

/** Mount points, decoded (mountinfo escapes spaces and the like as \NNN octal). */
export async function listMountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').filter(Boolean).map((line) => line.split(' ')[4].replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await listMountPoints()).includes(path);
}

/** Mount a tmpfs at `path` unless one is there already. */
export async function ensureTmpfs(path: string, opts: { sizeBytes?: number; log?: Logger } = {}): Promise<void> {
  if (await isMountPoint(path)) return;
  const options = ['mode=0777', ...(opts.sizeBytes !== undefined ? [`size=${opts.sizeBytes}`] : [])];
  await run(['mount', '-t', 'tmpfs', '-o', options.join(','), 'tmpfs', path], opts.log);
}

/** Unmount `path`; absent or not mounted is fine. */
export async function removeMount(path: string, log?: Logger): Promise<void> {
  try {
    await run(['umount', path], log);
  } catch (err) {
    if (!(err instanceof CommandError && (err.code === 'not-mounted' || /no such file|not found/i.test(err.stderr)))) throw err;
  }
}

/** Unmount everything at or under `dir`, deepest first. */
export async function removeMountsUnder(dir: string, log?: Logger): Promise<void> {
  const prefix = dir.replace(/\/+$/, '');
  const mounts = (await listMountPoints()).filter((m) => m === prefix || m.startsWith(prefix + '/'));
  for (const m of mounts.sort((a, b) => b.length - a.length)) await removeMount(m, log);
}
