// One face for the three IPAM modes bridge.ts deals with: none (L2 only), built-in (host-local
// compatible, in-process) and delegated (an IPAM plugin run from CNI_PATH).

import { type IpAddr, parseCidr, parseIp } from '../addr.ts';
import type { BridgeConf, IpamRoute } from '../config.ts';
import { familiesOf } from '../config.ts';
import type { Family } from '../addr.ts';
import type { CniLogger } from '../log.ts';
import type { Invocation } from '../skel.ts';
import { BuiltinIpam, type IpamResult, requestedFromArgs } from './builtin.ts';
import { runDelegate } from './delegate.ts';

export interface Ipam {
  readonly kind: 'none' | 'builtin' | 'delegate';
  /** Reserve addresses for the attachment. */
  add(): Promise<IpamResult>;
  /** The addresses the attachment holds, best known (DEL without prevResult). */
  held(known: readonly IpAddr[]): IpAddr[];
  /** Release everything the attachment holds. */
  del(known: readonly IpAddr[]): Promise<void>;
  /** Problems with the attachment's reservations (empty when fine). */
  check(addresses: readonly IpAddr[]): Promise<string[]>;
  /** GC: release reservations of attachments not kept; returns a description of what was released. */
  gc(keep: (containerId: string, ifName: string) => boolean): Promise<string[]>;
  /** STATUS: why ADD cannot be served, undefined when it can. Delegates throw their own error. */
  status(): Promise<string | undefined>;
  /** Address families this IPAM may hand out, when known from the config. */
  readonly families: readonly Family[] | undefined;
}

export interface IpamDeps {
  readonly conf: BridgeConf;
  readonly inv: Invocation;
  readonly stdin: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: CniLogger;
}

export function createIpam(deps: IpamDeps): Ipam {
  const { conf, inv } = deps;
  const ipam = conf.ipam;
  switch (ipam.kind) {
    case 'none':
      return {
        kind: 'none',
        families: [],
        add: async () => ({ addresses: [], routes: [], dns: {} }),
        held: () => [],
        del: async () => undefined,
        check: async () => [],
        gc: async () => [],
        status: async () => undefined,
      };
    case 'builtin': {
      const builtin = new BuiltinIpam({ conf: ipam, network: conf.name, log: deps.log });
      return {
        kind: 'builtin',
        families: familiesOf(ipam.rangeSets),
        add: async () => builtin.allocate(inv.containerId, inv.ifName, [...conf.requestedIps, ...requestedFromArgs(inv.args)]),
        held: (known) => builtin.held(inv.containerId, inv.ifName, known),
        del: async (known) => builtin.release(inv.containerId, inv.ifName, builtin.held(inv.containerId, inv.ifName, known)),
        check: async (addresses) => builtin.check(inv.containerId, inv.ifName, addresses),
        gc: async (keep) => builtin.collect(keep),
        status: async () => builtin.unavailableReason(),
      };
    }
    case 'delegate': {
      const run = (command: Invocation['command']) =>
        runDelegate({ type: ipam.type, command, cniPath: inv.cniPath, stdin: deps.stdin, env: deps.env, log: deps.log });
      return {
        kind: 'delegate',
        families: undefined,
        add: async () => {
          const r = await run('ADD');
          const addresses = (r?.ips ?? []).map((ip) => {
            const net = parseCidr(ip.address)!;
            const gateway = ip.gateway === undefined ? undefined : parseIp(ip.gateway);
            return { ip: net.ip, prefix: net.prefix, ...(gateway === undefined ? {} : { gateway }) };
          });
          const routes: IpamRoute[] = (r?.routes ?? []).map((x) => ({ dst: x.dst, ...(x.gw === undefined ? {} : { gw: x.gw }) }));
          return { addresses, routes, dns: r?.dns ?? {} };
        },
        held: (known) => [...known],
        del: async () => {
          await run('DEL');
        },
        check: async () => {
          await run('CHECK');
          return [];
        },
        gc: async () => {
          await run('GC');
          return [];
        },
        status: async () => {
          await run('STATUS');
          return undefined;
        },
      };
    }
    default: {
      const never: never = ipam;
      throw new Error(`unknown ipam kind ${JSON.stringify(never)}`);
    }
  }
}
