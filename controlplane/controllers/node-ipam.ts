// Node IPAM: every node gets a pod CIDR (spec.podCIDR, spec.podCIDRs) carved from the cluster CIDR
// (default 10.244.0.0/16) with the node mask (default /24); the node agent writes its bridge config
// from it. Allocation is the lowest free block, one node at a time; a block is free when no node
// carries it, so deleting a node frees its block. IPv4 only.

import type { Logger } from 'pino';
import { NodeError } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from '../client/client.ts';
import { isNotFound } from '../client/errors.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Informer, InformerFactory } from '../client/informer.ts';
import { NODES } from '../client/resources.ts';
import type { Node } from '../client/types.ts';
import { WorkQueue, type ReconcileResult } from '../client/work-queue.ts';

// ---- pure parts ----

export interface Cidr {
  readonly base: number;
  readonly prefix: number;
}

export function parseCidr(text: string): Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  const octets = m === null ? [] : m.slice(1, 5).map(Number);
  const prefix = m === null ? -1 : Number(m[5]);
  if (m === null || octets.some((o) => o > 255) || prefix > 32) throw new NodeError('cidr-invalid', `parse cidr ${JSON.stringify(text)}: want an IPv4 a.b.c.d/n`);
  const addr = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (addr & mask) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${c.base >>> 24}.${(c.base >>> 16) & 255}.${(c.base >>> 8) & 255}.${c.base & 255}/${c.prefix}`;
}

/** The lowest block of size /maskSize inside `cluster` not in `used`; undefined when all are taken. */
export function allocatePodCidr(cluster: Cidr, maskSize: number, used: ReadonlySet<string>): string | undefined {
  if (maskSize < cluster.prefix || maskSize > 32) throw new NodeError('cidr-invalid', `allocate pod cidr: node mask /${maskSize} does not fit in the cluster cidr /${cluster.prefix}`);
  const count = 2 ** (maskSize - cluster.prefix);
  const step = 2 ** (32 - maskSize);
  for (let i = 0; i < count; i++) {
    const cidr = formatCidr({ base: (cluster.base + i * step) >>> 0, prefix: maskSize });
    if (!used.has(cidr)) return cidr;
  }
  return undefined;
}

// ---- the controller ----

export interface NodeIpamOptions {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly events: EventRecorder;
  readonly log?: Logger;
  readonly clusterCidr?: string;
  readonly nodeCidrMaskSize?: number;
}

export class NodeIpamController {
  readonly #client: ApiClient;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #cluster: Cidr;
  readonly #mask: number;
  readonly #nodes: Informer<Node>;
  /** Blocks handed out whose node update the cache has not shown yet: node → cidr. */
  readonly #reserved = new Map<string, string>();
  readonly queue: WorkQueue;

  constructor(opts: NodeIpamOptions) {
    this.#client = opts.client;
    this.#events = opts.events;
    this.#log = (opts.log ?? silentLogger()).child({ controller: 'node-ipam' });
    this.#cluster = parseCidr(opts.clusterCidr ?? '10.244.0.0/16');
    this.#mask = opts.nodeCidrMaskSize ?? 24;
    if (this.#mask < this.#cluster.prefix) throw new NodeError('cidr-invalid', `node ipam: --node-cidr-mask-size ${this.#mask} is shorter than the cluster cidr ${formatCidr(this.#cluster)}`);
    this.#nodes = opts.informers.informerFor(NODES);
    // One node at a time: two allocations must not pick the same free block.
    this.queue = new WorkQueue({ name: 'node-ipam', reconcile: (key) => this.reconcile(key), log: this.#log, maxConcurrent: 1 });
    this.#nodes.addHandler({
      onAdd: (n) => this.queue.add(String(n.metadata.name)),
      onUpdate: (_o, n) => { if ((n.spec?.podCIDR ?? '') === '') this.queue.add(String(n.metadata.name)); },
      onDelete: (n) => this.#reserved.delete(String(n.metadata.name)),
    });
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    const node = this.#nodes.get(name);
    if (node === undefined) { this.#reserved.delete(name); return; }
    if ((node.spec?.podCIDR ?? '') !== '') { this.#reserved.delete(name); return; }
    const used = new Set<string>();
    for (const n of this.#nodes.list()) {
      if (n.spec?.podCIDR !== undefined && n.spec.podCIDR !== '') used.add(n.spec.podCIDR);
      for (const c of n.spec?.podCIDRs ?? []) used.add(c);
    }
    for (const [other, cidr] of this.#reserved) if (other !== name) used.add(cidr);
    const cidr = this.#reserved.get(name) ?? allocatePodCidr(this.#cluster, this.#mask, used);
    if (cidr === undefined) {
      this.#events.event(node, 'Warning', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      throw new NodeError('cidr-exhausted', `allocate pod cidr for node ${name}: every /${this.#mask} of ${formatCidr(this.#cluster)} is taken`);
    }
    this.#reserved.set(name, cidr);
    try {
      await this.#client.patch(NODES, name, { spec: { podCIDR: cidr, podCIDRs: [cidr] } });
    } catch (err) {
      this.#reserved.delete(name);
      if (isNotFound(err)) return;
      throw err;
    }
    this.#log.info({ node: name, podCIDR: cidr }, 'pod cidr allocated');
    this.#events.event(node, 'Normal', 'CIDRAssignmentSucceeded', `Node ${name} was assigned pod CIDR ${cidr}`);
    return undefined;
  }
}
