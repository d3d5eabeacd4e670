// Reads what the runtime holds for one pod (sandboxes and containers labelled with its UID) into
// an ObservedPod. The status of an exited container never changes, so it is cached by id and read
// once, with its termination message; running ones are read on every inspection. A container or
// sandbox removed between the list and the status call is simply left out.

import { isNotFound } from '../cri/errors.ts';
import type { ContainerStatus, CriRuntime, PodSandboxStatus } from '../cri/types.ts';
import { LABEL_POD_UID } from './labels.ts';
import { terminationMessage } from './termination-message.ts';
import { buildObservedContainer, buildObservedPod, buildObservedSandbox, type ObservedContainer, type ObservedPod, type ObservedSandbox } from './observed.ts';

/**
 * What one sync created: sandboxes (with the status read right after RunPodSandbox, when it was:
 * a new sandbox's status does not change until something stops it) and containers.
 */
export interface CreatedInSync {
  readonly sandboxes: { id: string; status?: PodSandboxStatus }[];
  readonly containers: { id: string; sandboxId: string }[];
}

export class PodInspector {
  readonly #cri: Pick<CriRuntime, 'listPodSandbox' | 'podSandboxStatus' | 'listContainers' | 'containerStatus'>;
  readonly #exited = new Map<string, ContainerStatus>();

  constructor(cri: Pick<CriRuntime, 'listPodSandbox' | 'podSandboxStatus' | 'listContainers' | 'containerStatus'>) {
    this.#cri = cri;
  }

  async inspect(podUid: string): Promise<ObservedPod> {
    const selector = { labelSelector: { [LABEL_POD_UID]: podUid } };
    const [sandboxes, containers] = await Promise.all([this.#cri.listPodSandbox(selector), this.#cri.listContainers(selector)]);
    const observedSandboxes: ObservedSandbox[] = [];
    const observedContainers: ObservedContainer[] = [];
    // Sandbox and container statuses in one round.
    await Promise.all([
      ...sandboxes.map(async (s) => {
        // Only the IP and network mode of ready sandboxes matter; a stopped sandbox has no IP.
        if (s.state !== 'ready') {
          observedSandboxes.push(buildObservedSandbox(s));
          return;
        }
        try {
          observedSandboxes.push(buildObservedSandbox(s, await this.#cri.podSandboxStatus(s.id)));
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }),
      ...containers.map(async (c) => {
        let status = this.#exited.get(c.id);
        if (status === undefined) {
          try {
            status = await this.#containerStatus(c.id);
          } catch (err) {
            if (isNotFound(err)) return;
            throw err;
          }
        }
        observedContainers.push(buildObservedContainer(c.podSandboxId, status));
      }),
    ]);
    return buildObservedPod(podUid, observedSandboxes, observedContainers);
  }

  /**
   * `seen` plus sandboxes and containers made since, read by id in one round: for a sync that only
   * created things, this equals a full inspection without the two list calls.
   */
  async refresh(seen: ObservedPod, created: CreatedInSync): Promise<ObservedPod> {
    const [newSandboxes, newContainers] = await Promise.all([Promise.all(created.sandboxes.map(async ({ id, status }) => {
      const st = status ?? (await this.#cri.podSandboxStatus(id));
      return buildObservedSandbox(st, st);
    })), Promise.all(created.containers.map(async (c) => {
      return buildObservedContainer(c.sandboxId, await this.#containerStatus(c.id));
    }))]);
    return buildObservedPod(seen.uid, [...seen.sandboxes, ...newSandboxes], [...seen.containers, ...newContainers]);
  }

  /** A container's status; an exited one with its termination message, and kept (it never changes). */
  async #containerStatus(id: string): Promise<ContainerStatus> {
    const status = await this.#cri.containerStatus(id);
    if (status.state !== 'exited') return status;
    const withMessage = { ...status, message: await terminationMessage(status) };
    this.#exited.set(id, withMessage);
    return withMessage;
  }

  /** Drop cached statuses of containers that are gone. */
  forget(containerIds: Iterable<string>): void {
    for (const id of containerIds) this.#exited.delete(id);
  }
}
