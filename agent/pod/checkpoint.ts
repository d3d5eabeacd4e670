// The last reported status of each pod, kept at <root-dir>/pods/<uid>/status.json so that an agent
// started again carries on where it left off: start time, conditions' transition times, a final
// phase, and the readiness of containers still running. Written atomically, only on change.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { PodStatus } from './types.ts';

export function checkpointPath(podDir: string): string {
  return `${podDir}/status.json`;
}

export async function writeStatusCheckpoint(podDir: string, status: PodStatus): Promise<void> {
  await mkdir(podDir, { recursive: true });
  const path = checkpointPath(podDir);
  await writeFile(`${path}.tmp`, JSON.stringify(status));
  await rename(`${path}.tmp`, path);
}

/** The checkpoint, or undefined when there is none or it does not parse. */
export async function readStatusCheckpoint(podDir: string): Promise<PodStatus | undefined> {
  let text: string;
  try {
    text = await readFile(checkpointPath(podDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as PodStatus).phase === 'string' && Array.isArray((parsed as PodStatus).conditions)) return parsed as PodStatus;
  } catch {
    // A torn or hand-edited file: start afresh rather than refuse the pod.
  }
  return undefined;
}
