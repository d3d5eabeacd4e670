// Pod garbage collection, every 20 s: finished pods (Succeeded/Failed) beyond the threshold (default
// 12,500, as kube-controller-manager) are deleted oldest first; pods bound to a node that no longer
// exists (confirmed with a live GET) and unscheduled pods stuck terminating are force-deleted, since
// no agent will ever finish them.

import { PeriodicPass } from './periodic.ts';
import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from '../client/client.ts';
import { isNotFound } from '../client/errors.ts';
import type { Informer, InformerFactory } from '../client/informer.ts';
import { NODES, objectKey, PODS } from '../client/resources.ts';
import type { Node, Pod } from '../client/types.ts';
import { parseTimestamp } from './util.ts';

// ---- pure parts ----

export function isTerminated(p: Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

/** Finished pods to delete so that at most `threshold` remain: oldest first. */
export function chooseTerminatedPodsToDelete(pods: readonly Pod[], threshold: number): Pod[] {
  if (threshold <= 0) return [];
  const done = pods.filter((p) => isTerminated(p) && p.metadata.deletionTimestamp === undefined);
  const excess = done.length - threshold;
  if (excess <= 0) return [];
  return [...done]
    .sort((a, b) => (parseTimestamp(a.metadata.creationTimestamp) ?? 0) - (parseTimestamp(b.metadata.creationTimestamp) ?? 0) || String(a.metadata.name).localeCompare(String(b.metadata.name)))
    .slice(0, excess);
}

// ---- the controller ----

export interface PodGcOptions {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly log?: Logger;
  readonly terminatedPodThreshold?: number;
  readonly periodMs?: number;
}

export class PodGcController {
  readonly #client: ApiClient;
  readonly #log: Logger;
  readonly #threshold: number;
  readonly #periodic: PeriodicPass;
  readonly #pods: Informer<Pod>;
  readonly #nodes: Informer<Node>;

  constructor(opts: PodGcOptions) {
    this.#client = opts.client;
    this.#log = (opts.log ?? silentLogger()).child({ controller: 'pod-gc' });
    this.#threshold = opts.terminatedPodThreshold ?? 12_500;
    this.#periodic = new PeriodicPass({ run: () => this.collect(), periodMs: opts.periodMs ?? 20_000, log: this.#log, what: 'pod gc pass' });
    this.#pods = opts.informers.informerFor(PODS);
    this.#nodes = opts.informers.informerFor(NODES);
  }

  start(): void {
    this.#periodic.start();
  }

  async stop(): Promise<void> {
    await this.#periodic.stop();
  }

  /** One pass (exposed for tests). */
  async collect(): Promise<void> {
    if (!this.#pods.hasSynced() || !this.#nodes.hasSynced()) return;
    const pods = this.#pods.list();
    for (const p of chooseTerminatedPodsToDelete(pods, this.#threshold)) {
      this.#log.info({ pod: objectKey(p), phase: p.status?.phase }, 'deleting terminated pod beyond the threshold');
      await this.#forceDelete(p);
    }
    const missing = new Map<string, boolean>();
    for (const p of pods) {
      if (this.#periodic.stopped) return;
      const node = p.spec.nodeName ?? '';
      if (node === '') {
        if (p.metadata.deletionTimestamp !== undefined) await this.#forceDelete(p);
        continue;
      }
      if (this.#nodes.get(node) !== undefined) continue;
      let gone = missing.get(node);
      if (gone === undefined) {
        gone = (await this.#client.tryGet(NODES, node)) === undefined;
        missing.set(node, gone);
      }
      if (!gone) continue;
      this.#log.info({ pod: objectKey(p), node }, 'deleting pod bound to a node that no longer exists');
      await this.#forceDelete(p);
    }
  }

  async #forceDelete(p: Pod): Promise<void> {
    try {
      await this.#client.delete(PODS, String(p.metadata.name), { namespace: p.metadata.namespace, gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } });
    } catch (err) {
      if (!isNotFound(err)) this.#log.debug({ pod: objectKey(p), err: (err as Error).message }, 'force delete failed');
    }
  }
}
