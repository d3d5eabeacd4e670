// The bridge network type: ADD / DEL / CHECK / GC / STATUS. ADD is planned (planBridgeAdd, pure)
// and then applied with an UndoStack; DEL works from identities (host veth name, nat chain and rule
// comments derived from network + container id + ifname), so it needs neither the netns nor a
// prevResult to remove everything. Assumes the caller validated env and config (main.ts).
// Never deletes the bridge or its gateway address: they are shared by every container on the node.

import { UndoStack } from '../common/undo.ts';
import { elapsedMs, msSinceStart } from './clock.ts';
import {
  type Family, type IpAddr, canonicalNet, formatCidr, formatIp, hostNet, networkOf, offsetIp, parseCidr, parseIp,
} from './addr.ts';
import type { BridgeConf } from './config.ts';
import { CniError } from './errors.ts';
import type { IpamAddress, IpamResult } from './ipam/builtin.ts';
import type { Ipam } from './ipam/ipam.ts';
import type { CniLogger } from './log.ts';
import { attachmentAlias, bridgeMac, hostVethName, isUnicastMac, parseAttachmentAlias, randomMac } from './names.ts';
import {
  type IpLinkJson, type IpOp, type IpOpResult, type IpRouteJson, type IpRunner, firstIpFailure, formatIpOp, ipFailureError,
} from './net/ip.ts';
import { type AttachmentId, type Firewall, type MasqTarget, buildMasqPurgeScript, findMasqProblems } from './net/iptables.ts';
import { acceptRaKey, forwardingKey, type Sysctl } from './net/sysctl.ts';
import type { CniInterface, CniIpConfig, CniResult, CniRoute } from './result.ts';
import type { Invocation } from './skel.ts';

export interface BridgeDeps {
  readonly ip: IpRunner;
  readonly firewall: Firewall;
  readonly sysctl: Sysctl;
  readonly log: CniLogger;
  readonly random?: () => number;
}

export interface BridgeInput {
  readonly conf: BridgeConf;
  readonly inv: Invocation;
  readonly ipam: Ipam;
}

export interface AddPlan {
  readonly hostVeth: string;
  readonly hostMac: string;
  readonly containerMac: string;
  /** gateway addresses put on the bridge (isGateway), e.g. 10.22.0.1/24 */
  readonly bridgeAddrs: readonly { readonly family: Family; readonly cidr: string }[];
  readonly hostOps: readonly IpOp[];
  readonly containerOps: readonly IpOp[];
  readonly masq: readonly MasqTarget[];
  readonly forwarding: readonly Family[];
  readonly ips: readonly Omit<CniIpConfig, 'interface'>[];
  readonly routes: readonly CniRoute[];
}

const DEFAULT_DST: Record<Family, string> = { 4: '0.0.0.0/0', 6: '::/0' };

function familyOfText(text: string): Family {
  return text.includes(':') ? 6 : 4;
}

function attachmentOf(conf: BridgeConf, inv: Invocation): AttachmentId {
  return { network: conf.name, containerId: inv.containerId, ifName: inv.ifName };
}

/** The gateway of one address: IPAM's, or with isGateway the subnet's first host when IPAM gave none. */
function gatewayOf(conf: BridgeConf, a: IpamAddress): IpAddr | undefined {
  if (a.gateway !== undefined) return a.gateway;
  if (!conf.isGateway) return undefined;
  return offsetIp(networkOf({ ip: a.ip, prefix: a.prefix }), 1n);
}

/** Decide every change ADD makes (pure). */
export function planBridgeAdd(input: {
  conf: BridgeConf;
  inv: Invocation;
  ipam: IpamResult;
  hostMac: string;
  containerMac: string;
  /**
   * The host netns as iproute2's `netns` names it from inside the pod: the plugin's own PID, alive
   * while `ip` runs (were the plugin killed meanwhile, its PID is not handed out again before the
   * PID space wraps, so the host end cannot land in another namespace).
   */
  hostNetns: string;
}): AddPlan {
  const { conf, inv, ipam } = input;
  const hostVeth = hostVethName(conf.name, inv.containerId, inv.ifName);
  const ips = ipam.addresses.map((a) => {
    const gw = gatewayOf(conf, a);
    return { address: `${formatIp(a.ip)}/${a.prefix}`, ...(gw === undefined ? {} : { gateway: formatIp(gw) }) };
  });
  const gatewayByFamily = new Map<Family, string>();
  for (const ip of ips) if (ip.gateway !== undefined && !gatewayByFamily.has(familyOfText(ip.address))) gatewayByFamily.set(familyOfText(ip.address), ip.gateway);

  const bridgeAddrs: { family: Family; cidr: string }[] = [];
  if (conf.isGateway) {
    for (const a of ipam.addresses) {
      const gw = gatewayOf(conf, a)!;
      const cidr = `${formatIp(gw)}/${a.prefix}`;
      if (!bridgeAddrs.some((b) => b.cidr === cidr)) bridgeAddrs.push({ family: a.ip.family, cidr });
    }
  }

  const routes: CniRoute[] = ipam.routes.map((r) => ({ ...r }));
  if (conf.isDefaultGateway) {
    for (const [family, gw] of gatewayByFamily) {
      const existing = routes.find((r) => r.dst === DEFAULT_DST[family]);
      if (existing === undefined) routes.push({ dst: DEFAULT_DST[family], gw });
      else if (existing.gw !== undefined && existing.gw !== gw) {
        throw new CniError('invalidConfig', `invalid network config: isDefaultGateway conflicts with the IPAM default route via ${existing.gw}`);
      }
    }
  }

  const hostOps: IpOp[] = [
    { op: 'add-bridge', name: conf.bridge, ...(conf.mtu === undefined ? {} : { mtu: conf.mtu }), mac: bridgeMac(conf.bridge) },
    { op: 'set-up', name: conf.bridge, promisc: conf.promiscMode },
    ...bridgeAddrs.map((b): IpOp => ({ op: 'add-addr', dev: conf.bridge, cidr: b.cidr, nodad: b.family === 6 })),
    { op: 'attach', name: hostVeth, master: conf.bridge, alias: attachmentAlias(conf.name, inv.containerId, inv.ifName) },
    ...(conf.hairpinMode ? [{ op: 'set-hairpin', name: hostVeth } as const] : []),
    { op: 'show-addr', dev: conf.bridge },
  ];

  const containerOps: IpOp[] = [
    // The veth pair is made from inside the pod, its host end sent to the host netns, so this batch
    // runs first and the host batch (bridge, attach) after it, both in one `ip` process. Being first
    // in a batch that stops at a failure, it guards the rest: a CNI_IFNAME already in the netns
    // fails it with exists, and nothing below touches an interface this ADD did not create.
    {
      op: 'add-veth',
      name: inv.ifName,
      mac: input.containerMac,
      ...(conf.mtu === undefined ? {} : { mtu: conf.mtu }),
      peerName: hostVeth,
      peerMac: input.hostMac,
      peerNetns: input.hostNetns,
    },
    ...ips.map((ip): IpOp => ({ op: 'add-addr', dev: inv.ifName, cidr: ip.address, nodad: familyOfText(ip.address) === 6 && !conf.enableDad })),
    { op: 'set-up', name: inv.ifName },
    ...routes.map((r): IpOp => {
      const gw = r.gw ?? gatewayByFamily.get(familyOfText(r.dst));
      return { op: 'add-route', dst: r.dst, ...(gw === undefined ? {} : { gw }), dev: inv.ifName };
    }),
  ];

  const masq: MasqTarget[] = conf.ipMasq
    ? ipam.addresses.map((a) => {
      const alsoExempt = conf.nonMasqueradeCidrs.filter((n) => n.ip.family === a.ip.family).map(formatCidr);
      return { family: a.ip.family, source: hostNet(a.ip), subnet: formatCidr(canonicalNet({ ip: a.ip, prefix: a.prefix })), ...(alsoExempt.length > 0 ? { alsoExempt } : {}) };
    })
    : [];
  const forwarding = conf.isGateway ? [...new Set(ipam.addresses.map((a) => a.ip.family))] : [];
  return { hostVeth, hostMac: input.hostMac, containerMac: input.containerMac, bridgeAddrs, hostOps, containerOps, masq, forwarding, ips, routes };
}

function bridgeJson(results: readonly IpOpResult[]): IpLinkJson | undefined {
  const show = results.find((r) => r.op.op === 'show-addr' && r.ok);
  const list = show?.json as IpLinkJson[] | undefined;
  return list?.[0];
}

/** Addresses on the bridge that differ from the gateway addresses we want there. */
export function conflictingBridgeAddrs(link: IpLinkJson, wanted: readonly { family: Family; cidr: string }[]): string[] {
  const out: string[] = [];
  for (const a of link.addr_info ?? []) {
    const family: Family = a.family === 'inet6' ? 6 : 4;
    const cidr = `${a.local}/${a.prefixlen}`;
    const mine = wanted.filter((w) => w.family === family);
    if (mine.length === 0 || mine.some((w) => w.cidr === cidr)) continue;
    if (family === 4) out.push(cidr);
    else {
      // IPv6: only addresses overlapping our subnet conflict (link-local ones never do)
      const net = parseCidr(cidr);
      if (net !== undefined && mine.some((w) => { const m = parseCidr(w.cidr)!; const p = Math.min(m.prefix, net.prefix); return networkOf({ ip: m.ip, prefix: p }).value === networkOf({ ip: net.ip, prefix: p }).value; })) out.push(cidr);
    }
  }
  return out;
}

/**
 * ADD. Steps:
 *  1 reserve addresses (IPAM)                                     undo: release them
 *  2 plan every change (pure)
 *  3 the ip batches, in one `ip` process when CNI_NETNS is named: inside the netns the veth pair
 *    (host end sent to the host netns; stops here if CNI_IFNAME exists), addresses, up, routes;
 *    then on the host the bridge, gateway address, attach to the bridge, hairpin
 *                                                                 undo: delete the host veth
 *  4 check the outcome: the bridge is a bridge, the pod batch applied, the host batch applied,
 *    no conflicting address on the bridge (forceAddress replaces it)
 *  5 forwarding and accept_ra through /proc/sys
 *  6 the one iptables-restore for masquerade, started after step 2 and run alongside 3-5
 *                                                                 undo: remove the rules
 *  7 the result, merged after prevResult when chained
 */
export async function addBridge(input: BridgeInput, deps: BridgeDeps): Promise<CniResult> {
  const { conf, inv, ipam } = input;
  const log = deps.log;
  const undo = new UndoStack(log);
  const started = msSinceStart();
  const lap = (step: string): void => {
    if (log.level !== 'debug') return;
    const cpu = process.cpuUsage();
    log.debug({ step, atMs: elapsedMs(started), cpuMs: Math.round((cpu.user + cpu.system) / 100) / 10 }, 'add step done');
  };
  const attachment = attachmentOf(conf, inv);
  let masq: Promise<PromiseSettledResult<void>> | undefined;
  let plan: AddPlan | undefined;
  /** Wait for the masquerade transaction if one is in flight, and register its undo if it applied. */
  const settleMasq = async (): Promise<void> => {
    if (masq === undefined || plan === undefined) return;
    const outcome = await masq;
    masq = undefined;
    const targets = plan.masq;
    if (outcome.status === 'fulfilled') undo.push('remove masquerade', () => deps.firewall.removeMasq(attachment, families(targets), targets));
    else throw outcome.reason;
  };
  const requestedMac = conf.mac ?? inv.args.get('MAC');
  if (requestedMac !== undefined && !isUnicastMac(requestedMac)) {
    throw new CniError('invalidEnvironment', `read CNI_ARGS: MAC=${JSON.stringify(requestedMac)} is not a unicast MAC address`);
  }
  try {
    // step 1
    const lease = await ipam.add();
    undo.push('release addresses', () => ipam.del(lease.addresses.map((a) => a.ip)));
    lap('reserve addresses');
    // step 2
    const random = deps.random ?? Math.random;
    plan = planBridgeAdd({ conf, inv, ipam: lease, hostMac: randomMac(random), containerMac: requestedMac ?? randomMac(random), hostNetns: String(process.pid) });
    log.info({ hostVeth: plan.hostVeth, ips: plan.ips.map((i) => i.address), bridge: conf.bridge, masq: plan.masq.length > 0 }, 'add plan');
    // The masquerade rules need only the addresses: their transaction runs alongside steps 3-5.
    if (plan.masq.length > 0) {
      masq = deps.firewall.ensureMasq(attachment, plan.masq).then(
        (): PromiseSettledResult<void> => ({ status: 'fulfilled', value: undefined }),
        (reason: unknown): PromiseSettledResult<void> => ({ status: 'rejected', reason }),
      );
    }

    // step 3
    const { pod, host } = await deps.ip.runPair({ netnsPath: inv.netnsPath, ops: plan.containerOps }, plan.hostOps, { log });
    lap('ip batches');
    const veth = pod.find((r) => r.op.op === 'add-veth');
    const hostVeth = plan.hostVeth;
    if (veth?.ok) undo.push('remove host veth', () => removeLink(deps, hostVeth, log));
    const added = host.filter((r) => r.op.op === 'add-addr' && r.ok).map((r) => (r.op as { cidr: string }).cidr);

    // step 4: a failed pod batch explains a failed attach on the host, so it is reported first
    const link = bridgeJson(host);
    if (link !== undefined && link.linkinfo?.info_kind !== 'bridge') {
      throw new CniError('linkFailed', `ensure bridge ${conf.bridge}: link exists and is ${link.linkinfo?.info_kind ?? 'a plain device'}, not a bridge`);
    }
    const podFailure = firstIpFailure(pod);
    if (podFailure !== undefined) throw ipFailureError(podFailure, `in netns ${inv.netnsPath}`);
    const hostFailure = firstIpFailure(host, (r) => r.kind === 'exists' && (r.op.op === 'add-bridge' || r.op.op === 'add-addr'));
    if (hostFailure !== undefined) throw ipFailureError(hostFailure);
    if (link === undefined) throw new CniError('linkFailed', `show bridge ${conf.bridge}: no output`);
    const conflicts = conflictingBridgeAddrs(link, plan.bridgeAddrs);
    if (conflicts.length > 0) {
      if (!conf.forceAddress) {
        for (const cidr of added) undo.push(`remove gateway ${cidr}`, () => deps.ip.run([{ op: 'del-addr', dev: conf.bridge, cidr }], { log }));
        throw new CniError('addressConflict', `ensure gateway ${plan.bridgeAddrs.map((b) => b.cidr).join(', ')} on bridge ${conf.bridge}: bridge already has ${conflicts.join(', ')} (set forceAddress to replace it)`);
      }
      log.warn({ bridge: conf.bridge, removed: conflicts }, 'forceAddress: replacing bridge addresses');
      const del = await deps.ip.run(conflicts.map((cidr) => ({ op: 'del-addr', dev: conf.bridge, cidr })), { log });
      const f = firstIpFailure(del, (r) => r.kind === 'notFound');
      if (f !== undefined) throw ipFailureError(f);
    }

    // step 5
    for (const family of plan.forwarding) deps.sysctl.ensure(forwardingKey(family), '1');
    if (plan.bridgeAddrs.some((b) => b.family === 6)) deps.sysctl.ensure(acceptRaKey(conf.bridge), '0');

    // step 6
    await settleMasq();
    lap('masquerade');

    // step 7
    const result = buildAddResult(conf, inv, plan, link, lease);
    undo.clear();
    return result;
  } catch (err) {
    try {
      await settleMasq();
    } catch (masqErr) {
      log.debug({ err: masqErr }, 'masquerade also failed');
    }
    const failures = await undo.run();
    if (failures.length > 0) log.error({ failures: failures.map((f) => f.what) }, 'add failed and could not undo everything');
    throw err;
  }
}

function families(targets: readonly MasqTarget[]): Family[] {
  return [...new Set(targets.map((t) => t.family))];
}

function buildAddResult(conf: BridgeConf, inv: Invocation, plan: AddPlan, link: IpLinkJson, lease: IpamResult): CniResult {
  const prev = conf.prevResult;
  const offset = prev?.interfaces.length ?? 0;
  const mtu = conf.mtu === undefined ? {} : { mtu: conf.mtu };
  const interfaces: CniInterface[] = [
    ...(prev?.interfaces ?? []),
    { name: conf.bridge, ...(link.address === undefined ? {} : { mac: link.address }), ...(link.mtu === undefined ? {} : { mtu: link.mtu }) },
    { name: plan.hostVeth, mac: plan.hostMac, ...mtu },
    { name: inv.ifName, mac: plan.containerMac, ...mtu, sandbox: inv.netnsPath },
  ];
  const ips: CniIpConfig[] = [...(prev?.ips ?? []), ...plan.ips.map((ip) => ({ ...ip, interface: offset + 2 }))];
  const routes: CniRoute[] = [...(prev?.routes ?? []), ...plan.routes];
  const ownDns = Object.keys(conf.dns).length > 0 ? conf.dns : lease.dns;
  const dns = Object.keys(ownDns).length > 0 ? ownDns : (prev?.dns ?? {});
  return { interfaces, ips, routes, dns };
}

async function removeLink(deps: BridgeDeps, name: string, log: CniLogger): Promise<void> {
  const [r] = await deps.ip.run([{ op: 'del-link', name }], { log });
  if (r !== undefined && !r.ok && r.kind !== 'notFound') throw ipFailureError(r);
}

/** The addresses prevResult lists for our interface (all of them when it names no interfaces). */
export function prevAddresses(result: CniResult | undefined, ifName: string): IpAddr[] {
  if (result === undefined) return [];
  const idx = result.interfaces.findIndex((i) => i.name === ifName && i.sandbox !== undefined);
  return result.ips
    .filter((ip) => idx < 0 || ip.interface === undefined || ip.interface === idx)
    .map((ip) => parseCidr(ip.address)?.ip)
    .filter((ip): ip is IpAddr => ip !== undefined);
}

/**
 * DEL: succeeds on any partial state and when repeated. Steps:
 *  1 the attachment's addresses: prevResult's, else the IPAM store's (a scan)
 *  2 in parallel: delete the host veth (its peer in the netns goes with it; a missing one is fine)
 *    and remove the masquerade chain and jumps found by name and comment
 *  3 release the addresses (IPAM) - last, so no new container gets an address still in use;
 *    skipped when the veth could not be removed
 */
export async function delBridge(input: BridgeInput, deps: BridgeDeps): Promise<void> {
  const { conf, inv, ipam } = input;
  const log = deps.log;
  // step 1
  const known = ipam.held(prevAddresses(conf.prevResult, inv.ifName));
  const hostVeth = hostVethName(conf.name, inv.containerId, inv.ifName);
  log.info({ hostVeth, ips: known.map(formatIp) }, 'del plan');
  // step 2
  const attachment = attachmentOf(conf, inv);
  const targets: MasqTarget[] = known.map((ip) => ({ family: ip.family, source: hostNet(ip), subnet: '' }));
  const fams: readonly Family[] = ipam.families ?? (known.length > 0 ? families(targets) : [4, 6]);
  const [link, masq] = await Promise.allSettled([
    removeLink(deps, hostVeth, log),
    conf.ipMasq ? deps.firewall.removeMasq(attachment, fams, targets) : Promise.resolve(),
  ]);
  // step 3: an address whose veth could not be removed stays reserved (the runtime retries DEL)
  const released = link.status === 'fulfilled' ? await Promise.allSettled([ipam.del(known)]) : [];
  const failed = [link, masq, ...released].filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed.length > 0) {
    for (const f of failed.slice(1)) log.error({ err: f.reason }, 'del step failed');
    throw failed[0]!.reason;
  }
}

function routeMatches(entry: IpRouteJson, want: { dst: string; gw?: string }, ifName: string): boolean {
  if (entry.table !== undefined && entry.table !== 'main') return false;
  const wantNet = parseCidr(want.dst);
  if (wantNet === undefined) return false;
  if (wantNet.prefix === 0) {
    if (entry.dst !== 'default') return false;
  } else {
    const dst = entry.dst.includes('/') ? entry.dst : `${entry.dst}/${wantNet.ip.family === 4 ? 32 : 128}`;
    const got = parseCidr(dst);
    if (got === undefined || formatCidr(canonicalNet(got)) !== formatCidr(canonicalNet(wantNet))) return false;
  }
  if (want.gw !== undefined) return entry.gateway !== undefined && parseIp(entry.gateway) !== undefined && formatIp(parseIp(entry.gateway)!) === formatIp(parseIp(want.gw)!);
  return entry.dev === ifName || entry.gateway !== undefined;
}

/**
 * CHECK: verify what prevResult lists and we created, plus untracked state. Steps (in parallel):
 * host links (bridge, host veth on it), the container interface (MAC, addresses, routes),
 * masquerade rules, IPAM reservations. Every problem found is reported in one error.
 */
export async function checkBridge(input: BridgeInput, deps: BridgeDeps): Promise<void> {
  const { conf, inv, ipam } = input;
  const log = deps.log;
  const prev = conf.prevResult;
  if (prev === undefined) throw new CniError('invalidConfig', 'invalid network config: CHECK needs prevResult');
  const idx = prev.interfaces.findIndex((i) => i.name === inv.ifName && i.sandbox !== undefined);
  if (idx < 0) throw new CniError('checkFailed', `check ${inv.ifName}: prevResult lists no interface ${inv.ifName} in a sandbox`);
  const iface = prev.interfaces[idx]!;
  if (iface.sandbox !== inv.netnsPath) throw new CniError('checkFailed', `check ${inv.ifName}: prevResult places it in ${iface.sandbox}, not ${inv.netnsPath}`);
  const ips = prev.ips.filter((ip) => ip.interface === idx);
  const addrs = ips.map((ip) => parseCidr(ip.address)!.ip);
  const hostVeth = hostVethName(conf.name, inv.containerId, inv.ifName);
  const fams = [...new Set(addrs.map((a) => a.family))];
  const wantMasq: MasqTarget[] = conf.ipMasq ? addrs.map((a) => ({ family: a.family, source: hostNet(a), subnet: '' })) : [];
  const problems: string[] = [];

  const [host, inside, saved, ipamProblems] = await Promise.all([
    deps.ip.run([{ op: 'show-addr', dev: conf.bridge }, { op: 'show-addr', dev: hostVeth }], { log }),
    deps.ip.run([{ op: 'show-addr', dev: inv.ifName }, { op: 'show-routes' }], { netnsPath: inv.netnsPath, log }),
    Promise.all(wantMasq.length > 0 ? fams.map((f) => deps.firewall.saveNat(f)) : []),
    ipam.check(addrs),
  ]);

  const [brRes, vethRes] = host;
  const br = (brRes?.json as IpLinkJson[] | undefined)?.[0];
  if (!brRes?.ok || br === undefined) problems.push(`bridge ${conf.bridge} is missing`);
  else {
    if (br.linkinfo?.info_kind !== 'bridge') problems.push(`${conf.bridge} is not a bridge`);
    if (conf.promiscMode && !(br.promiscuity !== undefined && br.promiscuity > 0)) problems.push(`bridge ${conf.bridge} is not promiscuous`);
  }
  const veth = (vethRes?.json as IpLinkJson[] | undefined)?.[0];
  if (!vethRes?.ok || veth === undefined) problems.push(`host veth ${hostVeth} is missing`);
  else {
    if (veth.master !== conf.bridge) problems.push(`host veth ${hostVeth} is attached to ${veth.master ?? 'nothing'}, not ${conf.bridge}`);
    if (conf.hairpinMode && veth.linkinfo?.info_slave_data?.hairpin !== true) problems.push(`host veth ${hostVeth} has hairpin mode off`);
  }

  const [ifRes, routeRes] = inside;
  const link = (ifRes?.json as IpLinkJson[] | undefined)?.[0];
  if (!ifRes?.ok || link === undefined) problems.push(`interface ${inv.ifName} is missing in netns ${inv.netnsPath}`);
  else {
    if (link.linkinfo?.info_kind !== 'veth') problems.push(`interface ${inv.ifName} is not a veth`);
    if (iface.mac !== undefined && link.address?.toLowerCase() !== iface.mac.toLowerCase()) problems.push(`interface ${inv.ifName} has MAC ${link.address}, not ${iface.mac}`);
    if (conf.mtu !== undefined && link.mtu !== conf.mtu) problems.push(`interface ${inv.ifName} has MTU ${link.mtu}, not ${conf.mtu}`);
    for (const ip of ips) {
      const want = parseCidr(ip.address)!;
      const found = (link.addr_info ?? []).some((a) => {
        const got = parseIp(a.local);
        return got !== undefined && got.value === want.ip.value && got.family === want.ip.family && a.prefixlen === want.prefix;
      });
      if (!found) problems.push(`interface ${inv.ifName} lacks address ${ip.address}`);
    }
    const routes = (routeRes?.json as IpRouteJson[] | undefined) ?? [];
    for (const r of prev.routes) {
      if (!fams.includes(familyOfText(r.dst))) continue;
      if (!routes.some((e) => routeMatches(e, r, inv.ifName))) problems.push(`route to ${r.dst}${r.gw === undefined ? '' : ` via ${r.gw}`} is missing in netns ${inv.netnsPath}`);
    }
  }

  saved.forEach((s, i) => problems.push(...findMasqProblems(s, attachmentOf(conf, inv), wantMasq.filter((t) => t.family === fams[i]))));
  problems.push(...ipamProblems);
  if (problems.length > 0) throw new CniError('checkFailed', `check ${inv.ifName} in ${inv.netnsPath}: ${[...new Set(problems)].join('; ')}`);
}

/**
 * GC: remove what belongs to attachments of this network that are not in valid-attachments.
 * Steps (each runs even when another failed; failures are reported together at the end):
 *  1 IPAM reservations   2 host veths found by their alias   3 masquerade rules found by comment
 */
export async function gcBridge(input: BridgeInput, deps: BridgeDeps): Promise<void> {
  const { conf, ipam } = input;
  const log = deps.log;
  if (conf.validAttachments === undefined) throw new CniError('invalidConfig', 'invalid network config: GC needs cni.dev/valid-attachments');
  const valid = new Set(conf.validAttachments.map((a) => `${a.containerId}\n${a.ifName}`));
  const keep = (containerId: string, ifName: string): boolean => valid.has(`${containerId}\n${ifName}`) || (ifName === '' && [...valid].some((v) => v.startsWith(`${containerId}\n`)));
  const errors: string[] = [];
  // step 1
  try {
    const released = await ipam.gc(keep);
    if (released.length > 0) log.info({ released }, 'gc released addresses');
  } catch (err) {
    errors.push(`ipam: ${(err as Error).message}`);
  }
  // step 2
  try {
    const [list] = await deps.ip.run([{ op: 'show-veths' }], { log });
    if (list !== undefined && !list.ok) throw ipFailureError(list);
    const stale = ((list?.json as IpLinkJson[] | undefined) ?? [])
      .filter((l) => {
        const a = l.ifalias === undefined ? undefined : parseAttachmentAlias(l.ifalias);
        return a !== undefined && a.network === conf.name && !keep(a.containerId, a.ifName);
      })
      .map((l) => l.ifname);
    if (stale.length > 0) {
      const res = await deps.ip.run(stale.map((name) => ({ op: 'del-link', name })), { log });
      for (const r of res) if (!r.ok && r.kind !== 'notFound') errors.push(`${formatIpOp(r.op)}: ${r.message}`);
      log.info({ removed: stale }, 'gc removed host veths');
    }
  } catch (err) {
    errors.push(`links: ${(err as Error).message}`);
  }
  // step 3
  const fams: readonly Family[] = ipam.families ?? [4, 6];
  for (const family of fams) {
    try {
      const saved = await deps.firewall.saveNat(family);
      const script = buildMasqPurgeScript(saved, (id) => id.network === conf.name && !keep(id.containerId, id.ifName));
      if (script !== undefined) {
        await deps.firewall.restore(family, script);
        log.info({ family }, 'gc removed masquerade rules');
      }
    } catch (err) {
      errors.push(`ipv${family} nat: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) throw new CniError('gcIncomplete', `gc network ${conf.name}: ${errors.join('; ')}`);
}

/** STATUS: can ADD be served? Code 50 when not (IPAM unwritable or exhausted, tools missing). */
export async function statusBridge(input: BridgeInput, deps: BridgeDeps, which: (cmd: string) => boolean): Promise<void> {
  const { conf, ipam } = input;
  const tools = ['ip', 'nsenter', ...(conf.ipMasq ? ['iptables-restore', 'iptables-save'] : [])];
  const missing = tools.filter((t) => !which(t));
  if (missing.length > 0) throw new CniError('notAvailable', `moor-bridge cannot serve ADD: ${missing.join(', ')} not found in PATH`);
  const reason = await ipam.status();
  if (reason !== undefined) throw new CniError('notAvailable', `moor-bridge cannot serve ADD: ${reason}`);
  deps.log.debug({}, 'status ok');
}
