// The control plane as a pod source: an informer on pods with spec.nodeName=<node>, delivering the
// full set (set semantics) on every change. Pods being deleted (deletionTimestamp set) and pods in a
// final phase are left out, so the agent terminates them; once a deleted pod is gone from the
// runtime the source finishes the deletion (gracePeriodSeconds 0, uid precondition). Pods that do
// not decode are left out and logged. Mirror pods are never run (their static pod runs from its
// manifest); mirror-pods.ts keeps them. Status writing is PodStatusWriter (api-status.ts).

import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { ApiClient } from '../../controlplane/client/client.ts';
import { isConflict, isNotFound } from '../../controlplane/client/errors.ts';
import { Informer, listWatcherFor } from '../../controlplane/client/informer.ts';
import { PODS } from '../../controlplane/client/resources.ts';
import type { Pod as ApiPod } from '../../controlplane/client/types.ts';
import { decodePod } from '../manifest/decode.ts';
import type { Pod } from '../pod/types.ts';
import type { PodSource, PodSourceUpdate } from './types.ts';

/** Metadata that changes on every write and means nothing to the pod's containers. */
const VOLATILE_METADATA = ['resourceVersion', 'managedFields', 'generation'] as const;

export type ApiPodDecision =
  | { readonly kind: 'run'; readonly pod: Pod }
  | { readonly kind: 'deleting'; readonly gracePeriodSeconds: number }
  | { readonly kind: 'finished' }
  | { readonly kind: 'mirror' }
  | { readonly kind: 'invalid'; readonly errors: readonly string[] };

/** The annotation of a static pod's mirror in the API: the pod runs from its manifest, not from here. */
export const ANNOTATION_MIRROR = 'kubernetes.io/config.mirror';

/** What the agent does with one pod bound to its node. Pure. */
export function decideApiPod(obj: ApiPod): ApiPodDecision {
  if (obj.metadata.annotations?.[ANNOTATION_MIRROR] !== undefined) return { kind: 'mirror' };
  if (obj.metadata.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null) {
    const spec = obj.spec as { terminationGracePeriodSeconds?: number };
    return { kind: 'deleting', gracePeriodSeconds: obj.metadata.deletionGracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30 };
  }
  const phase = obj.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return { kind: 'finished' };
  const metadata: Record<string, unknown> = { ...obj.metadata };
  for (const k of VOLATILE_METADATA) delete metadata[k];
  const decoded = decodePod({ ...obj, apiVersion: 'v1', kind: 'Pod', metadata, status: undefined });
  if (decoded.pod === undefined) return { kind: 'invalid', errors: decoded.errors };
  return { kind: 'run', pod: decoded.pod };
}

export interface ApiSourceOptions {
  readonly client: ApiClient;
  readonly nodeName: string;
  readonly log: Logger;
  /** Whether the agent still runs (or is terminating) anything of the pod: false once it is all gone. */
  readonly isPodGone: (podUid: string) => Promise<boolean>;
  /** Told the grace period of each pod being deleted, before the set without it is delivered. */
  readonly onDeleting?: (podUid: string, gracePeriodSeconds: number) => void;
  /** Told the UIDs of each set delivered. */
  readonly onSet?: (podUids: ReadonlySet<string>) => void;
  /** Period of the check of pods being deleted. */
  readonly deletionCheckPeriodMs?: number;
}

export class ApiSource implements PodSource {
  readonly #o: ApiSourceOptions;
  readonly #informer: Informer<ApiPod>;
  readonly #invalidLogged = new Map<string, string>();
  readonly #finishing = new Set<string>();
  #uids = new Set<string>();
  readonly #listeners: (() => void)[] = [];
  #onUpdate: ((u: PodSourceUpdate) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(opts: ApiSourceOptions) {
    this.#o = opts;
    this.#informer = new Informer<ApiPod>({
      name: 'node-pods',
      listWatcher: listWatcherFor(opts.client, PODS, { fieldSelector: `spec.nodeName=${opts.nodeName}` }),
      log: opts.log,
    });
  }

  /** UIDs of the pods this source delivered last: their status goes back to the server. */
  has(podUid: string): boolean {
    return this.#uids.has(podUid);
  }

  /** Every pod bound to the node as the informer cache has it (mirror pods included). */
  list(): ApiPod[] {
    return this.#informer.list();
  }

  /** Call `fn` after each change of the cache (once synced), after the set was delivered. */
  addChangeListener(fn: () => void): void {
    this.#listeners.push(fn);
  }

  /** The server's copy of a pod, from the informer cache. */
  cached(namespace: string, name: string): ApiPod | undefined {
    return this.#informer.getByName(namespace, name);
  }

  async start(onUpdate: (update: PodSourceUpdate) => void): Promise<void> {
    this.#onUpdate = onUpdate;
    const changed = (): void => this.#deliver();
    this.#informer.addHandler({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.#informer.start();
    await this.#informer.waitForSync();
    if (this.#stopped) return;
    this.#deliver();
    const period = this.#o.deletionCheckPeriodMs ?? 1000;
    const tick = (): void => {
      if (this.#stopped) return;
      this.#checking = this.#finishDeletions().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, period);
      });
    };
    this.#timer = setTimeout(tick, period);
  }

  #deliver(): void {
    if (this.#onUpdate === undefined || !this.#informer.hasSynced()) return;
    const pods: Pod[] = [];
    for (const obj of this.#informer.list()) {
      const d = decideApiPod(obj);
      if (d.kind === 'run') pods.push(d.pod);
      else if (d.kind === 'deleting' && obj.metadata.uid !== undefined) this.#o.onDeleting?.(obj.metadata.uid, d.gracePeriodSeconds);
      else if (d.kind === 'invalid') {
        const key = `${obj.metadata.uid ?? ''}@${obj.metadata.resourceVersion ?? ''}`;
        if (this.#invalidLogged.get(String(obj.metadata.uid)) !== key) {
          this.#invalidLogged.set(String(obj.metadata.uid), key);
          this.#o.log.warn({ pod: `${obj.metadata.namespace}/${obj.metadata.name}`, errors: d.errors }, 'pod bound to this node cannot run here; ignored');
        }
      }
    }
    this.#uids = new Set(pods.map((p) => p.metadata.uid));
    this.#o.onSet?.(this.#uids);
    this.#onUpdate({ pods, manifests: [] });
    for (const fn of this.#listeners) fn();
  }

  /** Delete for good the pods with a deletionTimestamp whose containers and sandboxes are all gone. */
  async #finishDeletions(): Promise<void> {
    for (const obj of this.#informer.list()) {
      const uid = obj.metadata.uid;
      if (uid === undefined || decideApiPod(obj).kind !== 'deleting' || this.#finishing.has(uid)) continue;
      const pod = `${obj.metadata.namespace}/${obj.metadata.name}`;
      try {
        if (!(await this.#o.isPodGone(uid))) continue;
        this.#finishing.add(uid);
        await this.#o.client.delete(PODS, String(obj.metadata.name), { namespace: obj.metadata.namespace, gracePeriodSeconds: 0, preconditions: { uid } });
        this.#o.log.info({ pod, podUid: uid }, 'pod deleted: its containers are gone');
      } catch (err) {
        // Gone already, or a new pod of the same name: nothing of ours to delete.
        if (!isNotFound(err) && !isConflict(err)) this.#o.log.warn({ pod, podUid: uid, err: errorMessage(err) }, 'finish pod deletion failed; retrying');
        this.#finishing.delete(uid);
      }
    }
    // Forget UIDs the cache no longer holds.
    const live = new Set(this.#informer.list().map((o) => o.metadata.uid));
    for (const uid of this.#finishing) if (!live.has(uid)) this.#finishing.delete(uid);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#checking;
    await this.#informer.stop();
  }
}
