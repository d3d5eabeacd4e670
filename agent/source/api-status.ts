// Pod status back to the control plane: one writer per pod UID, at most one request in flight, and
// always the newest status (a status arriving mid-write is written next; one older than the last
// written is never sent). Writes go to pods/<name>/status as a JSON patch that first tests the UID,
// so a status never lands on a new pod of the same name. Skips a status whose normalised form
// equals the last one written. A static pod's status goes to its mirror pod (same name, the mirror's
// UID from mirrorOf); without a mirror it is not written, and a new mirror gets it again in full.

import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { ApiClient } from '../../controlplane/client/client.ts';
import { isInvalid, isNotFound } from '../../controlplane/client/errors.ts';
import { PODS } from '../../controlplane/client/resources.ts';
import { normaliseStatus } from '../pod/status.ts';
import type { Pod, PodStatus } from '../pod/types.ts';

interface Entry {
  namespace: string;
  name: string;
  /** The API object the status goes to: the pod's own UID, or its mirror's for a static pod. */
  targetUid: string;
  /** A static pod: kept until forget(), whatever the API source delivers. */
  mirror: boolean;
  pending?: PodStatus;
  written?: string;
  inFlight: boolean;
  retry?: NodeJS.Timeout;
}

export interface PodStatusWriterOptions {
  readonly client: ApiClient;
  readonly log: Logger;
  /** Whether the pod is one the server knows (from the API source). */
  readonly isApiPod: (podUid: string) => boolean;
  /** For a static pod, the UID of its mirror pod in the API; undefined when it has none. */
  readonly mirrorOf?: (podUid: string) => string | undefined;
  readonly retryMs?: number;
}

export class PodStatusWriter {
  readonly #o: PodStatusWriterOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;

  constructor(opts: PodStatusWriterOptions) {
    this.#o = opts;
  }

  /** Hand over a pod's new status; written soon, unless an equal one was written already. */
  set(pod: Pod, status: PodStatus): void {
    const uid = pod.metadata.uid;
    if (this.#stopped) return;
    const mirror = !this.#o.isApiPod(uid);
    const targetUid = mirror ? this.#o.mirrorOf?.(uid) : uid;
    if (targetUid === undefined) return;
    let e = this.#entries.get(uid);
    if (e === undefined) this.#entries.set(uid, (e = { namespace: pod.metadata.namespace, name: pod.metadata.name, targetUid, mirror, inFlight: false }));
    if (e.targetUid !== targetUid) {
      // A new mirror: it has none of the status written to the old one.
      e.targetUid = targetUid;
      e.written = undefined;
    }
    e.pending = status;
    this.#kick(uid, e);
  }

  /** Forget every pod of the API source not in this set (the source no longer delivers them); static pods stay. */
  retain(podUids: ReadonlySet<string>): void {
    for (const [uid, e] of [...this.#entries]) if (!e.mirror && !podUids.has(uid)) this.forget(uid);
  }

  /** Forget a pod (terminated): nothing more is written for it. */
  forget(podUid: string): void {
    const e = this.#entries.get(podUid);
    if (e?.retry !== undefined) clearTimeout(e.retry);
    this.#entries.delete(podUid);
  }

  #kick(uid: string, e: Entry): void {
    if (e.inFlight || e.pending === undefined || e.retry !== undefined) return;
    const status = e.pending;
    e.pending = undefined;
    const normal = normaliseStatus(status);
    if (normal === e.written) return;
    e.inFlight = true;
    const p = this.#write(uid, e, status, normal).finally(() => {
      e.inFlight = false;
      this.#inFlight.delete(p);
      if (!this.#stopped && this.#entries.get(uid) === e) this.#kick(uid, e);
    });
    this.#inFlight.add(p);
  }

  async #write(uid: string, e: Entry, status: PodStatus, normal: string): Promise<void> {
    const targetUid = e.targetUid;
    const patch = [
      { op: 'test', path: '/metadata/uid', value: targetUid },
      { op: 'add', path: '/status', value: status },
    ];
    try {
      await this.#o.client.patchStatus(PODS, e.name, patch, { namespace: e.namespace, type: 'json' });
      if (e.targetUid === targetUid) e.written = normal;
      this.#o.log.debug({ pod: `${e.namespace}/${e.name}`, podUid: uid, phase: status.phase }, 'pod status written');
    } catch (err) {
      // The pod is gone, or the name now belongs to another pod (the UID test failed): stop writing.
      if (isNotFound(err) || isInvalid(err) || /test/i.test(errorMessage(err))) {
        this.#o.log.debug({ pod: `${e.namespace}/${e.name}`, podUid: uid, err: errorMessage(err) }, 'pod status not written: pod gone');
        return;
      }
      this.#o.log.warn({ pod: `${e.namespace}/${e.name}`, podUid: uid, err: errorMessage(err) }, 'write pod status failed; retrying');
      if (e.pending === undefined) e.pending = status;
      e.retry = setTimeout(() => {
        e.retry = undefined;
        this.#kick(uid, e);
      }, this.#o.retryMs ?? 1000);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const e of this.#entries.values()) if (e.retry !== undefined) clearTimeout(e.retry);
    await Promise.all([...this.#inFlight]);
  }
}
