// The built-in IPAM: host-local's behaviour without a second process. One address per range set,
// round-robin from the last one handed out, requested addresses (runtimeConfig.ips, args.cni.ips,
// CNI_ARGS IP=) honoured, routes and resolv.conf DNS returned. Uses the store for everything on disk.

import { readFileSync } from 'node:fs';
import { type IpAddr, formatCidr, formatIp, parseIp } from '../addr.ts';
import type { IpamConf, IpamRoute } from '../config.ts';
import { rangeSetIndexOf } from '../config.ts';
import { CniError } from '../errors.ts';
import type { CniLogger } from '../log.ts';
import type { CniDns } from '../result.ts';
import { candidateAddresses, rangeForRequested, usableCount } from './allocator.ts';
import { IpamStore, sameAttachment } from './store.ts';

export type BuiltinIpamConf = Extract<IpamConf, { kind: 'builtin' }>;

export interface IpamAddress {
  readonly ip: IpAddr;
  readonly prefix: number;
  readonly gateway?: IpAddr;
}

export interface IpamResult {
  readonly addresses: readonly IpamAddress[];
  readonly routes: readonly IpamRoute[];
  readonly dns: CniDns;
}

export function parseResolvConf(text: string): CniDns {
  const nameservers: string[] = [];
  const search: string[] = [];
  const options: string[] = [];
  let domain: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0] !== undefined) nameservers.push(rest[0]);
    else if (key === 'domain' && rest[0] !== undefined) domain = rest[0];
    else if (key === 'search') search.splice(0, search.length, ...rest);
    else if (key === 'options') options.push(...rest);
  }
  return {
    ...(nameservers.length > 0 ? { nameservers } : {}),
    ...(domain === undefined ? {} : { domain }),
    ...(search.length > 0 ? { search } : {}),
    ...(options.length > 0 ? { options } : {}),
  };
}

/** Addresses asked for by CNI_ARGS IP=a,b (host-local's argument). */
export function requestedFromArgs(args: ReadonlyMap<string, string>): IpAddr[] {
  const text = args.get('IP');
  if (text === undefined || text === '') return [];
  return text.split(',').map((s) => {
    const ip = parseIp(s.trim().replace(/\/\d+$/, ''));
    if (ip === undefined) throw new CniError('invalidEnvironment', `read CNI_ARGS: IP=${JSON.stringify(s)} is not an IP address`);
    return ip;
  });
}

export interface BuiltinIpamDeps {
  readonly conf: BuiltinIpamConf;
  readonly network: string;
  readonly log: CniLogger;
}

export class BuiltinIpam {
  readonly store: IpamStore;
  readonly #conf: BuiltinIpamConf;
  readonly #log: CniLogger;

  constructor(deps: BuiltinIpamDeps) {
    this.#conf = deps.conf;
    this.#log = deps.log;
    this.store = new IpamStore(deps.conf.dataDir, deps.network);
  }

  /**
   * Reserve one address per range set. On failure nothing stays reserved.
   * Steps: 1 sort requested addresses into range sets; 2 per set reserve the requested address or
   * the next free one; 3 record last_reserved_ip; 4 read DNS from resolvConf.
   */
  allocate(containerId: string, ifName: string, requested: readonly IpAddr[]): IpamResult {
    const sets = this.#conf.rangeSets;
    // step 1
    const wanted = new Map<number, IpAddr>();
    for (const ip of requested) {
      const idx = rangeSetIndexOf(sets, ip);
      if (idx < 0) throw new CniError('invalidConfig', `allocate requested address ${formatIp(ip)}: not in any configured range`);
      wanted.set(idx, ip);
    }
    this.store.ensureDir();
    const reserved: IpAddr[] = [];
    const addresses: IpamAddress[] = [];
    try {
      sets.forEach((set, idx) => {
        // step 2
        const want = wanted.get(idx);
        let got: IpAddr | undefined;
        if (want !== undefined) {
          if (rangeForRequested(set, want) === undefined) throw new CniError('invalidConfig', `allocate requested address ${formatIp(want)}: outside the allocatable range or reserved for the gateway`);
          if (!this.store.tryReserve(want, containerId, ifName)) {
            const holder = this.store.lookup(want);
            throw new CniError('addressConflict', `allocate requested address ${formatIp(want)}: already reserved${holder === undefined ? '' : ` by ${holder.containerId}`}`);
          }
          got = want;
        } else {
          for (const ip of candidateAddresses(set, this.store.lastReserved(idx))) {
            if (this.store.tryReserve(ip, containerId, ifName)) {
              got = ip;
              break;
            }
          }
          if (got === undefined) {
            throw new CniError('addressExhausted', `allocate address in ${set.map((r) => formatCidr(r.subnet)).join(', ')}: no free address left`);
          }
        }
        reserved.push(got);
        // step 3
        this.store.setLastReserved(idx, got);
        const range = set.find((r) => r.subnet.ip.family === got!.family && got!.value >= r.start.value && got!.value <= r.end.value) ?? set[0]!;
        addresses.push({ ip: got, prefix: range.subnet.prefix, gateway: range.gateway });
      });
    } catch (err) {
      for (const ip of reserved) this.store.release(ip, containerId, ifName);
      throw err;
    } finally {
      this.store.finishReserving();
    }
    this.#log.debug({ addresses: addresses.map((a) => formatIp(a.ip)) }, 'addresses reserved');
    // step 4
    let dns: CniDns = {};
    if (this.#conf.resolvConf !== undefined) {
      try {
        dns = parseResolvConf(readFileSync(this.#conf.resolvConf, 'utf8'));
      } catch (err) {
        for (const ip of reserved) this.store.release(ip, containerId, ifName);
        throw new CniError('ioFailure', `read resolvConf ${this.#conf.resolvConf}: ${(err as Error).message}`);
      }
    }
    return { addresses, routes: this.#conf.routes, dns };
  }

  /** The addresses the attachment holds: the given ones when they are still its own, else a scan. */
  held(containerId: string, ifName: string, known: readonly IpAddr[]): IpAddr[] {
    const mine = known.filter((ip) => {
      const r = this.store.lookup(ip);
      return r !== undefined && sameAttachment(r, containerId, ifName);
    });
    if (mine.length > 0) return mine;
    return this.store.findByAttachment(containerId, ifName);
  }

  release(containerId: string, ifName: string, addresses: readonly IpAddr[]): void {
    for (const ip of addresses) this.store.release(ip, containerId, ifName);
    this.store.removeAttachmentTemporary(containerId, ifName);
  }

  /** Problems with the attachment's reservations (CHECK). */
  check(containerId: string, ifName: string, addresses: readonly IpAddr[]): string[] {
    const problems: string[] = [];
    for (const ip of addresses) {
      if (rangeSetIndexOf(this.#conf.rangeSets, ip) < 0) continue;
      const r = this.store.lookup(ip);
      if (r === undefined) problems.push(`address ${formatIp(ip)} is not reserved in ${this.store.dir}`);
      else if (!sameAttachment(r, containerId, ifName)) problems.push(`address ${formatIp(ip)} is reserved by ${r.containerId}/${r.ifName}, not ${containerId}/${ifName}`);
    }
    return problems;
  }

  /** Release every reservation whose attachment `keep` rejects; returns what was released. */
  collect(keep: (containerId: string, ifName: string) => boolean): string[] {
    const released: string[] = [];
    for (const r of this.store.list()) {
      if (keep(r.containerId, r.ifName)) continue;
      if (this.store.release(r.ip, r.containerId, r.ifName)) released.push(formatIp(r.ip));
    }
    this.store.removeStaleTemporaries(keep);
    return released;
  }

  /** Why ADD cannot be served now, or undefined when it can (STATUS). */
  unavailableReason(): string | undefined {
    try {
      this.store.checkWritable();
    } catch (err) {
      return (err as Error).message;
    }
    const reserved = this.store.list();
    for (const set of this.#conf.rangeSets) {
      const total = usableCount(set);
      const used = BigInt(reserved.filter((r) => set.some((x) => r.ip.family === x.start.family && r.ip.value >= x.start.value && r.ip.value <= x.end.value)).length);
      if (used >= total) return `address range ${set.map((r) => formatCidr(r.subnet)).join(', ')} exhausted (${used} of ${total} addresses reserved)`;
    }
    return undefined;
  }
}
