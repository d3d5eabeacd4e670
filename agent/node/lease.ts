// The node's heartbeat: Lease kube-node-lease/<node>, held by the node, renewed every renewPeriodMs
// (10 s, like the kubelet; leaseDurationSeconds 40). Creates the Lease when missing and re-reads it
// on a conflict. The node lifecycle controller on the server watches it; this module never reads
// anyone else's lease.

import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { ApiClient } from '../../controlplane/client/client.ts';
import { isAlreadyExists, isConflict } from '../../controlplane/client/errors.ts';
import { LEASES } from '../../controlplane/client/resources.ts';
import type { Lease } from '../../controlplane/client/types.ts';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const LEASE_DURATION_SECONDS = 40;

/** MicroTime, as the API spells a renewTime. */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** The Lease spec the node writes at `nowMs`. Pure. */
export function buildLeaseSpec(nodeName: string, previous: Lease['spec'] | undefined, nowMs: number): NonNullable<Lease['spec']> {
  const now = formatMicroTime(nowMs);
  const held = previous?.holderIdentity === nodeName;
  return {
    ...(previous ?? {}),
    holderIdentity: nodeName,
    leaseDurationSeconds: LEASE_DURATION_SECONDS,
    acquireTime: held && typeof previous?.acquireTime === 'string' ? previous.acquireTime : now,
    renewTime: now,
  };
}

export interface NodeLeaseOptions {
  readonly client: ApiClient;
  readonly nodeName: string;
  readonly log: Logger;
  readonly renewPeriodMs: number;
  readonly now?: () => number;
}

export class NodeLease {
  readonly #o: NodeLeaseOptions;
  #lease: Lease | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  #failures = 0;

  constructor(opts: NodeLeaseOptions) {
    this.#o = opts;
  }

  /** Create or renew the Lease once; throws what the server answered. */
  async renew(): Promise<Lease> {
    const { client, nodeName } = this.#o;
    const now = (this.#o.now ?? Date.now)();
    if (this.#lease === undefined) this.#lease = await client.tryGet(LEASES, nodeName, { namespace: NODE_LEASE_NAMESPACE });
    if (this.#lease === undefined) {
      try {
        this.#lease = await client.create(LEASES, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
          metadata: { name: nodeName, namespace: NODE_LEASE_NAMESPACE },
          spec: buildLeaseSpec(nodeName, undefined, now),
        });
        return this.#lease;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        this.#lease = await client.get(LEASES, nodeName, { namespace: NODE_LEASE_NAMESPACE });
      }
    }
    try {
      this.#lease = await client.update(LEASES, { ...this.#lease, spec: buildLeaseSpec(nodeName, this.#lease.spec, now) });
    } catch (err) {
      // Someone else wrote it (or it was deleted): read it again on the next renewal.
      this.#lease = undefined;
      throw err;
    }
    return this.#lease;
  }

  start(): void {
    const tick = (): void => {
      if (this.#stopped) return;
      this.#running = this.renew().then(
        () => {
          if (this.#failures > 0) this.#o.log.info({ failures: this.#failures }, 'renew node lease works again');
          this.#failures = 0;
        },
        (err: unknown) => {
          this.#failures++;
          if (this.#failures === 1 || this.#failures % 10 === 0) this.#o.log.warn({ err: errorMessage(err), conflict: isConflict(err), failures: this.#failures }, 'renew node lease failed; retrying');
        },
      ).finally(() => {
        // After a failure retry sooner, as the kubelet does (200 ms doubling, capped at the period).
        const delay = this.#failures === 0 ? this.#o.renewPeriodMs : Math.min(this.#o.renewPeriodMs, 200 * 2 ** Math.min(this.#failures, 10));
        if (!this.#stopped) this.#timer = setTimeout(tick, delay);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
  }
}
