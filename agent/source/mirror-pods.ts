// Mirror pods: each static pod (from the manifest path) shown in the API as a pod of the same name,
// bound to this node, annotated with the static pod's config hash and owned by the Node, as the
// kubelet does. The mirror is only a view: the static pod runs from its manifest whatever happens
// to the mirror. A mirror deleted by someone (or being deleted) is removed for good and created
// again; one whose hash no longer matches (manifest edited) is replaced; one without a static pod is
// deleted. Status goes to the mirror through PodStatusWriter (mirrorOf). Assumes the API source's
// cache holds every pod bound to the node; a name taken by a pod that is not a mirror is left alone.

import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { ApiClient } from '../../controlplane/client/client.ts';
import { isAlreadyExists, isConflict, isForbidden, isInvalid, isNotFound } from '../../controlplane/client/errors.ts';
import { NODES, PODS } from '../../controlplane/client/resources.ts';
import type { Pod as ApiPod } from '../../controlplane/client/types.ts';
import { KeyedRunner } from '../../common/keyed-runner.ts';
import { ANNOTATION_CONFIG_HASH, ANNOTATION_CONFIG_SOURCE } from '../manifest/parse.ts';
import type { Pod, PodStatus } from '../pod/types.ts';
import { ANNOTATION_MIRROR } from './api-source.ts';

export type MirrorDeleteReason = 'orphaned' | 'outdated' | 'deleted';

export type MirrorAction =
  | { readonly kind: 'create'; readonly pod: Pod }
  /** Delete the mirror `uid`, then create the static pod's mirror anew (`pod`) unless it is orphaned. */
  | { readonly kind: 'delete'; readonly namespace: string; readonly name: string; readonly uid: string; readonly reason: MirrorDeleteReason; readonly pod?: Pod }
  | { readonly kind: 'conflict'; readonly pod: Pod };

/** The hash a static pod's mirror carries: its config hash (the UID when absent). */
export function staticPodHash(pod: Pod): string {
  return pod.metadata.annotations?.[ANNOTATION_CONFIG_HASH] ?? pod.metadata.uid;
}

export function isMirrorPod(obj: { metadata: { annotations?: Record<string, string> } }): boolean {
  return obj.metadata.annotations?.[ANNOTATION_MIRROR] !== undefined;
}

/** Is `mirror` the current mirror of `pod`: same hash, not being deleted. */
export function isMirrorOf(mirror: ApiPod, pod: Pod): boolean {
  return mirror.metadata.annotations?.[ANNOTATION_MIRROR] === staticPodHash(pod)
    && (mirror.metadata.deletionTimestamp === undefined || mirror.metadata.deletionTimestamp === null);
}

function keyOf(o: { metadata: { namespace?: string; name?: string } }): string {
  return `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;
}

/**
 * What to do so that every static pod has its current mirror and no mirror outlives its static
 * pod. `apiPods` are the pods bound to the node as the API has them (mirrors and others). Pure.
 */
export function planMirrorPods(staticPods: readonly Pod[], apiPods: readonly ApiPod[]): MirrorAction[] {
  const byKey = new Map(apiPods.map((p) => [keyOf(p), p]));
  const wanted = new Set<string>();
  const actions: MirrorAction[] = [];
  for (const pod of staticPods) {
    const key = keyOf(pod);
    wanted.add(key);
    const current = byKey.get(key);
    if (current === undefined) actions.push({ kind: 'create', pod });
    else if (!isMirrorPod(current)) actions.push({ kind: 'conflict', pod });
    else if (!isMirrorOf(current, pod)) {
      const deleting = current.metadata.deletionTimestamp !== undefined && current.metadata.deletionTimestamp !== null;
      actions.push({ kind: 'delete', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: String(current.metadata.uid), reason: deleting ? 'deleted' : 'outdated', pod });
    }
  }
  for (const [key, p] of byKey) {
    if (wanted.has(key) || !isMirrorPod(p)) continue;
    actions.push({ kind: 'delete', namespace: String(p.metadata.namespace), name: String(p.metadata.name), uid: String(p.metadata.uid), reason: 'orphaned' });
  }
  return actions;
}

/** The mirror object for a static pod: its metadata and spec, the mirror annotation, owned by the Node. Pure. */
export function buildMirrorPod(pod: Pod, node: { name: string; uid: string }): ApiPod {
  const { name, namespace, labels, annotations } = pod.metadata;
  const spec: Record<string, unknown> = { ...pod.spec, nodeName: node.name };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      ...(labels !== undefined ? { labels: { ...labels } } : {}),
      annotations: { ...annotations, [ANNOTATION_CONFIG_SOURCE]: annotations?.[ANNOTATION_CONFIG_SOURCE] ?? 'file', [ANNOTATION_CONFIG_HASH]: staticPodHash(pod), [ANNOTATION_MIRROR]: staticPodHash(pod) },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid, controller: true }],
    },
    spec: spec as ApiPod['spec'],
  };
}

export interface MirrorPodsOptions {
  readonly client: ApiClient;
  readonly nodeName: string;
  readonly log: Logger;
  /** The pods bound to this node in the API source's cache. */
  readonly apiPods: () => readonly ApiPod[];
  /** The static pod's current status, to write to a new mirror. */
  readonly statusOf: (podUid: string) => PodStatus | undefined;
  /** Where the status goes (PodStatusWriter). */
  readonly writeStatus: (pod: Pod, status: PodStatus) => void;
  /** Told a static pod left: nothing more is written for it. */
  readonly forgetStatus: (podUid: string) => void;
  /** The whole set is checked this often (safety net); default 10 s. */
  readonly resyncPeriodMs?: number;
  /** A failed action is retried after this long; default 2 s. */
  readonly retryMs?: number;
  /** Wait before making again a mirror somebody deleted; default 1 s (see #apply). */
  readonly recreateDelayMs?: number;
}

const KEY = 'mirrors';

export class MirrorPods {
  readonly #o: MirrorPodsOptions;
  readonly #runner: KeyedRunner<string>;
  #staticPods: readonly Pod[] = [];
  /** Mirrors created by this agent that the cache may not show yet: pod key -> uid and hash. */
  readonly #created = new Map<string, { uid: string; hash: string }>();
  /** The mirror UID each static pod's status was last handed to. */
  readonly #statusTarget = new Map<string, string>();
  readonly #conflictLogged = new Set<string>();
  /** Pod key -> the last failure logged at warn for it. */
  readonly #failureLogged = new Map<string, string>();
  #nodeUid: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #recreate: NodeJS.Timeout | undefined;
  /** UIDs of mirrors this agent deleted that the cache may still show. */
  readonly #gone = new Set<string>();
  /** Mirrors somebody deleted: not made again before this time (epoch ms), by pod key. */
  readonly #notBefore = new Map<string, number>();
  #started = false;
  #stopped = false;

  constructor(opts: MirrorPodsOptions) {
    this.#o = opts;
    this.#runner = new KeyedRunner<string>({
      task: () => this.#pass(),
      onError: (_key, err) => opts.log.warn({ err: errorMessage(err) }, 'sync mirror pods failed'),
    });
  }

  /** Begin with the static pods known now; later changes come through setStaticPods and changed(). */
  start(staticPods: readonly Pod[]): void {
    this.#staticPods = staticPods;
    this.#started = true;
    const period = this.#o.resyncPeriodMs ?? 10_000;
    const tick = (): void => {
      if (this.#stopped) return;
      this.#runner.trigger(KEY);
      this.#timer = setTimeout(tick, period);
      this.#timer.unref?.();
    };
    tick();
  }

  setStaticPods(pods: readonly Pod[]): void {
    this.#staticPods = pods;
    this.changed();
  }

  /** Something changed (the API source's cache, or the static pods): check again. */
  changed(): void {
    if (this.#started && !this.#stopped) this.#runner.trigger(KEY);
  }

  /** UID of the current mirror of static pod `podUid`, where its status is written; undefined if none. */
  mirrorOf(podUid: string): string | undefined {
    const pod = this.#staticPods.find((p) => p.metadata.uid === podUid);
    if (pod === undefined) return undefined;
    const key = keyOf(pod);
    const cached = this.#o.apiPods().find((p) => keyOf(p) === key);
    if (cached !== undefined && isMirrorOf(cached, pod)) return cached.metadata.uid;
    const created = this.#created.get(key);
    return created !== undefined && created.hash === staticPodHash(pod) ? created.uid : undefined;
  }

  async #pass(): Promise<void> {
    if (this.#stopped) return;
    const cached = this.#o.apiPods();
    for (const uid of this.#gone) if (!cached.some((p) => p.metadata.uid === uid)) this.#gone.delete(uid);
    const apiPods = cached.filter((p) => !this.#gone.has(String(p.metadata.uid)));
    // The cache caught up with what this agent created: it speaks for those pods from now on.
    for (const [key, c] of this.#created) if (apiPods.some((p) => keyOf(p) === key && p.metadata.uid === c.uid)) this.#created.delete(key);
    const now = Date.now();
    for (const [key, at] of this.#notBefore) if (at <= now) this.#notBefore.delete(key);
    const actions = planMirrorPods(this.#staticPods, apiPods).filter((a) => !this.#createdAlready(a) && !(a.kind === 'create' && this.#notBefore.has(keyOf(a.pod))));
    let failed = false;
    for (const action of actions) {
      if (this.#stopped) return;
      try {
        await this.#apply(action);
      } catch (err) {
        // A mirror the server refuses as invalid is tried again at the next resync only; other failures soon.
        if (!isInvalid(err)) failed = true;
        const pod = action.kind === 'delete' ? `${action.namespace}/${action.name}` : keyOf(action.pod);
        const message = errorMessage(err);
        // The same failure again is logged at debug: once is enough to be seen.
        const level = this.#failureLogged.get(pod) === message ? 'debug' : 'warn';
        this.#failureLogged.set(pod, message);
        this.#o.log[level]({ pod, action: action.kind, err: message }, `${action.kind} mirror pod failed; retrying`);
      }
    }
    for (const pod of [...this.#failureLogged.keys()]) if (!actions.some((a) => (a.kind === 'delete' ? `${a.namespace}/${a.name}` : keyOf(a.pod)) === pod)) this.#failureLogged.delete(pod);
    this.#handOverStatus();
    if (failed && this.#retry === undefined && !this.#stopped) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.changed();
      }, this.#o.retryMs ?? 2000);
      this.#retry.unref?.();
    }
  }

  /** A create planned from a cache that does not show the mirror this agent just created. */
  #createdAlready(a: MirrorAction): boolean {
    if (a.kind !== 'create') return false;
    const c = this.#created.get(keyOf(a.pod));
    return c !== undefined && c.hash === staticPodHash(a.pod);
  }

  /**
   * Carry out one action:
   * 1. delete the old mirror for good (grace period 0, UID precondition), if any;
   * 2. create the mirror of the static pod, if one is wanted and the Node is there.
   */
  async #apply(a: MirrorAction): Promise<void> {
    const log = this.#o.log;
    if (a.kind === 'conflict') {
      const key = keyOf(a.pod);
      if (!this.#conflictLogged.has(key)) log.warn({ pod: key }, 'create mirror pod: name taken by a pod that is not a mirror; not created');
      this.#conflictLogged.add(key);
      return;
    }
    // step 1: delete the old mirror
    if (a.kind === 'delete') {
      const pod = `${a.namespace}/${a.name}`;
      try {
        await this.#o.client.delete(PODS, a.name, { namespace: a.namespace, gracePeriodSeconds: 0, preconditions: { uid: a.uid } });
        this.#gone.add(a.uid);
        log.info({ pod, mirrorUid: a.uid, reason: a.reason }, 'mirror pod deleted');
      } catch (err) {
        // Gone already, or replaced by another pod of that name: nothing of this mirror left to delete.
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
      const c = this.#created.get(pod);
      if (c?.uid === a.uid) this.#created.delete(pod);
      // A mirror somebody deleted is made again a little later, not at once, as the kubelet does
      // at its next sync: `kubectl delete` waits until it no longer finds the pod by name, and a new
      // mirror of that name within its first ~100 ms looks to it like the old one still there.
      if (a.reason === 'deleted') {
        const delayMs = this.#o.recreateDelayMs ?? 1000;
        this.#notBefore.set(pod, Date.now() + delayMs);
        if (this.#recreate === undefined && !this.#stopped) {
          this.#recreate = setTimeout(() => {
            this.#recreate = undefined;
            this.changed();
          }, delayMs + 5);
          this.#recreate.unref?.();
        }
        return;
      }
    }
    // step 2: create the mirror
    const pod = a.pod;
    if (pod === undefined) return; // orphaned: nothing to create
    const key = keyOf(pod);
    this.#conflictLogged.delete(key);
    const nodeUid = await this.#liveNodeUid();
    if (nodeUid === undefined) return; // the node is not registered (yet), or is being deleted: nothing to own the mirror
    try {
      const created = await this.#o.client.create(PODS, buildMirrorPod(pod, { name: this.#o.nodeName, uid: nodeUid }), { namespace: pod.metadata.namespace });
      this.#created.set(key, { uid: String(created.metadata.uid), hash: staticPodHash(pod) });
      log.info({ pod: key, podUid: pod.metadata.uid, mirrorUid: created.metadata.uid }, 'mirror pod created');
    } catch (err) {
      if (isAlreadyExists(err)) return; // the cache will show it, and the next pass decides
      if (isForbidden(err)) this.#nodeUid = undefined; // the Node may have been made again with another UID
      throw err;
    }
  }

  /** The Node's UID (cached once read); undefined while the Node does not exist or is being deleted. */
  async #liveNodeUid(): Promise<string | undefined> {
    if (this.#nodeUid !== undefined) return this.#nodeUid;
    const node = await this.#o.client.tryGet(NODES, this.#o.nodeName);
    if (node === undefined || (node.metadata.deletionTimestamp !== undefined && node.metadata.deletionTimestamp !== null)) return undefined;
    this.#nodeUid = node.metadata.uid;
    return this.#nodeUid;
  }

  /** Hand each static pod's status to its mirror when the mirror changed; forget pods that left. */
  #handOverStatus(): void {
    const uids = new Set(this.#staticPods.map((p) => p.metadata.uid));
    for (const uid of [...this.#statusTarget.keys()]) {
      if (uids.has(uid)) continue;
      this.#statusTarget.delete(uid);
      this.#o.forgetStatus(uid);
    }
    for (const pod of this.#staticPods) {
      const uid = pod.metadata.uid;
      const target = this.mirrorOf(uid);
      if (target === undefined) {
        this.#statusTarget.delete(uid);
        continue;
      }
      if (this.#statusTarget.get(uid) === target) continue;
      const status = this.#o.statusOf(uid);
      if (status === undefined) continue;
      this.#statusTarget.set(uid, target);
      this.#o.writeStatus(pod, status);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    if (this.#recreate !== undefined) clearTimeout(this.#recreate);
    await this.#runner.stop();
  }
}
