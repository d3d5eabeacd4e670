// Termination messages, as the kubelet does them: each container gets an empty file of its own
// under the pod directory, bind-mounted at its terminationMessagePath (/dev/termination-log by
// default). When the container has exited, what it wrote there (at most 4 KiB) becomes
// `state.terminated.message`; with terminationMessagePolicy FallbackToLogsOnError, a container that
// failed and wrote nothing gets the tail of its log instead (the last 80 lines, at most 2 KiB).
// The host file is found again through the container's CRI mounts, so it survives an agent restart.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rm, writeFile } from 'node:fs/promises';
import type { ContainerStatus, Mount } from '../cri/types.ts';
import { LogAssembler, readTail } from '../logs.ts';
import { ANNOTATION_TERMINATION_MESSAGE_POLICY } from './labels.ts';
import { terminationMessageFile } from './observed.ts';
import type { Container } from './types.ts';

/** The kubelet's limits. */
export const MAX_MESSAGE_BYTES = 4096;
export const MAX_FALLBACK_LOG_LINES = 80;
export const MAX_FALLBACK_LOG_BYTES = 2048;

/**
 * Make the container's message file (empty, writable by any user the container runs as) under
 * `<podDir>/containers/<name>/`, and return the mount for it; none when the container has no
 * terminationMessagePath or mounts something else there.
 */
export async function prepareTerminationMessageMount(podDir: string, c: Container, mounts: readonly Mount[]): Promise<Mount | undefined> {
  const path = c.terminationMessagePath;
  if (path === '' || mounts.some((m) => m.containerPath === path)) return undefined;
  const dir = `${podDir}/containers/${c.name}`;
  await mkdir(dir, { recursive: true });
  const hostPath = `${dir}/${randomBytes(4).toString('hex')}`;
  await writeFile(hostPath, '', { flag: 'wx' });
  await chmod(hostPath, 0o666); // not left to the umask: a container's non-root user must write it
  return { containerPath: path, hostPath, readonly: false };
}

async function readHead(path: string, maxBytes: number): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  try {
    const buf = Buffer.alloc(maxBytes);
    const { bytesRead } = await fh.read(buf, 0, maxBytes, 0);
    return buf.toString('utf8', 0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The last lines of a CRI log file as the container wrote them, within the kubelet's limits. */
export async function logTailMessage(logPath: string): Promise<string> {
  if (logPath === '') return '';
  let raw: string[];
  try {
    raw = (await readTail(logPath, MAX_FALLBACK_LOG_LINES)).lines;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  const assembler = new LogAssembler({ timestamps: false });
  const text = raw.flatMap((l) => assembler.push(l)).join('');
  if (Buffer.byteLength(text) <= MAX_FALLBACK_LOG_BYTES) return text;
  const bytes = Buffer.from(text);
  return bytes.subarray(bytes.length - MAX_FALLBACK_LOG_BYTES).toString('utf8');
}

/**
 * The message of an exited container: what the runtime said, then (after ": ", as the kubelet
 * joins them) its termination message file or, with FallbackToLogsOnError, a non-zero exit code and
 * an empty file, its log's tail. Unreadable files count as empty: a status must not fail for a message.
 */
export async function terminationMessage(status: ContainerStatus): Promise<string> {
  if (status.state !== 'exited') return status.message;
  const file = terminationMessageFile(status);
  let message = '';
  if (file !== undefined) message = await readHead(file, MAX_MESSAGE_BYTES).catch(() => '');
  if (message === '' && status.exitCode !== 0 && status.annotations[ANNOTATION_TERMINATION_MESSAGE_POLICY] === 'FallbackToLogsOnError') {
    message = await logTailMessage(status.logPath).catch(() => '');
  }
  if (message === '') return status.message;
  return status.message === '' ? message : `${status.message}: ${message}`;
}

/** Remove a removed container's message file (the pod directory goes with the pod anyway). */
export async function removeTerminationMessageFile(path: string | undefined): Promise<void> {
  if (path !== undefined) await rm(path, { force: true });
}
