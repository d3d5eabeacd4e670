// Host-gw pod routes (`--pod-network-routes host-gw`): when the nodes share a network segment, each
// node reaches every other node's pod CIDR through that node's InternalIP, as flannel's host-gw
// backend does. The agent watches the Node objects and keeps one route per other node in the main
// table, tagged with Moor's route protocol number, so that it finds, changes and removes exactly its
// own routes and never one somebody else made. A route that cannot be made (the gateway is not on a
// connected network, say) is logged once and tried again with the next change or resync.

import { execa } from 'execa';
import { CoalescedPass } from '../../common/coalesce.ts';
import { CommandError, errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { ApiClient } from '../../controlplane/client/client.ts';
import { Informer, listWatcherFor } from '../../controlplane/client/informer.ts';
import { NODES } from '../../controlplane/client/resources.ts';
import type { Node } from '../../controlplane/client/types.ts';

/** The route protocol number Moor's routes carry (`ip route ... proto 77`); unused by iproute2's table. */
export const ROUTE_PROTO = 77;
const RESYNC_MS = 60_000;
const COMMAND_TIMEOUT_MS = 10_000;

export interface PodRoute {
  /** The other node's pod CIDR. */
  readonly dst: string;
  /** Its InternalIP. */
  readonly via: string;
}

export interface RoutePlan {
  readonly replace: readonly PodRoute[];
  readonly remove: readonly string[];
}

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The routes this node wants: one per other node with a pod CIDR and an InternalIP (pure). */
export function desiredPodRoutes(self: string, nodes: readonly Node[]): PodRoute[] {
  const byDst = new Map<string, PodRoute>();
  for (const n of [...nodes].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))) {
    if (n.metadata.name === self || n.metadata.deletionTimestamp !== undefined) continue;
    const dst = n.spec?.podCIDR ?? '';
    const via = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
    if (!IPV4_CIDR.test(dst) || !IPV4.test(via) || byDst.has(dst)) continue;
    byDst.set(dst, { dst, via });
  }
  return [...byDst.values()];
}

/** What to change so that the routes in place become the desired ones (pure). */
export function planPodRoutes(desired: readonly PodRoute[], current: readonly PodRoute[]): RoutePlan {
  const have = new Map(current.map((r) => [r.dst, r.via]));
  const want = new Set(desired.map((r) => r.dst));
  return {
    replace: desired.filter((r) => have.get(r.dst) !== r.via),
    remove: current.filter((r) => !want.has(r.dst)).map((r) => r.dst),
  };
}

/** The main routing table, through ip(8): only routes with Moor's protocol number. */
export interface RouteTable {
  list(): Promise<PodRoute[]>;
  replace(route: PodRoute): Promise<void>;
  remove(dst: string): Promise<void>;
}

async function ip(args: readonly string[]): Promise<string> {
  const argv = ['ip', ...args];
  const r = await execa(argv[0], argv.slice(1), { reject: false, timeout: COMMAND_TIMEOUT_MS, stdin: 'ignore' });
  if (r.exitCode !== 0) {
    const stderr = String(r.stderr ?? '').trim();
    throw new CommandError({ code: 'route-failed', message: `${argv.join(' ')}: ${stderr || `exit ${r.exitCode ?? r.signal}`}`, argv, ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}), stderr });
  }
  return String(r.stdout ?? '');
}

export const ipRouteTable: RouteTable = {
  async list() {
    const out = (await ip(['-j', '-4', 'route', 'show', 'proto', String(ROUTE_PROTO)])).trim();
    const rows = (out === '' ? [] : JSON.parse(out)) as { dst?: string; gateway?: string }[];
    return rows.filter((r) => r.dst !== undefined && r.gateway !== undefined).map((r) => ({ dst: r.dst!, via: r.gateway! }));
  },
  async replace(r) {
    await ip(['route', 'replace', r.dst, 'via', r.via, 'proto', String(ROUTE_PROTO)]);
  },
  async remove(dst) {
    await ip(['route', 'del', dst, 'proto', String(ROUTE_PROTO)]);
  },
};

export interface PodRoutesOptions {
  readonly client: ApiClient;
  readonly nodeName: string;
  readonly log: Logger;
  readonly table?: RouteTable;
  readonly resyncMs?: number;
}

/** Keeps the host-gw routes in step with the Node objects: one reconcile at a time, coalesced. */
export class PodRoutes {
  readonly #o: PodRoutesOptions;
  readonly #table: RouteTable;
  readonly #informer: Informer<Node>;
  /** Failures already logged, by route, so that a lasting one is logged once. */
  readonly #failed = new Map<string, string>();
  readonly #passes = new CoalescedPass(() => this.#pass(), () => this.#stopped);
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: PodRoutesOptions) {
    this.#o = opts;
    this.#table = opts.table ?? ipRouteTable;
    this.#informer = new Informer<Node>({ name: 'pod-routes-nodes', listWatcher: listWatcherFor(opts.client, NODES), log: opts.log });
  }

  async start(): Promise<void> {
    const changed = (): void => void this.reconcile();
    this.#informer.addHandler({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.#informer.start();
    await this.#informer.waitForSync();
    await this.reconcile();
    const tick = (): void => {
      if (this.#stopped) return;
      void this.reconcile().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.resyncMs ?? RESYNC_MS).unref();
      });
    };
    this.#timer = setTimeout(tick, this.#o.resyncMs ?? RESYNC_MS).unref();
  }

  /** The routes stay: pods on this node keep reaching the others while the agent is away. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#informer.stop();
    await this.#passes.running;
  }

  /** Bring the routes in line with the nodes now; concurrent calls coalesce into one more pass. */
  reconcile(): Promise<void> {
    if (!this.#informer.hasSynced() || this.#stopped) return this.#passes.running ?? Promise.resolve();
    return this.#passes.run();
  }

  async #pass(): Promise<void> {
    const log = this.#o.log;
    let current: PodRoute[];
    try {
      current = await this.#table.list();
    } catch (err) {
      this.#logOnce('list', `list pod routes failed: ${errorMessage(err)}`);
      return;
    }
    const plan = planPodRoutes(desiredPodRoutes(this.#o.nodeName, this.#informer.list()), current);
    for (const r of plan.replace) {
      try {
        await this.#table.replace(r);
        this.#failed.delete(r.dst);
        log.info({ dst: r.dst, via: r.via }, 'pod route set');
      } catch (err) {
        this.#logOnce(r.dst, `set pod route ${r.dst} via ${r.via} failed: ${errorMessage(err)}`);
      }
    }
    for (const dst of plan.remove) {
      try {
        await this.#table.remove(dst);
        this.#failed.delete(dst);
        log.info({ dst }, 'pod route removed');
      } catch (err) {
        this.#logOnce(dst, `remove pod route ${dst} failed: ${errorMessage(err)}`);
      }
    }
  }

  #logOnce(key: string, message: string): void {
    if (this.#failed.get(key) === message) return;
    this.#failed.set(key, message);
    this.#o.log.warn({ key }, message);
  }
}
