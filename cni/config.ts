// The network configuration moor-bridge accepts: decode stdin, validate every key we read, apply
// defaults, and return a frozen BridgeConf (pure). Keys match the reference bridge plugin and, for the
// built-in IPAM, host-local. Unknown keys are ignored as the spec requires; wrong types or values are
// errors naming the key and the value (code 7), and reference options we do not implement set to a
// non-default value are "unsupported field" (code 2).

import {
  type Family, type IpAddr, type IpNet, bitsOf, canonicalNet, formatCidr, formatIp, lastOf, netContains,
  networkOf, offsetIp, parseCidr, parseIp,
} from './addr.ts';
import { CniError } from './errors.ts';
import { type LogLevel, isLogLevel } from './log.ts';
import { type CniDns, type CniResult, parseResult } from './result.ts';
import { isSupportedVersion, SUPPORTED_VERSIONS } from './version.ts';
import { validateIfName } from './skel.ts';
import { isUnicastMac } from './names.ts';

export interface IpRange {
  readonly subnet: IpNet; // canonical (host bits cleared)
  readonly start: IpAddr;
  readonly end: IpAddr;
  readonly gateway: IpAddr;
}

export type RangeSet = readonly IpRange[];

export interface IpamRoute {
  readonly dst: string;
  readonly gw?: string;
}

export type IpamConf =
  | { readonly kind: 'none' }
  | { readonly kind: 'delegate'; readonly type: string }
  | {
      readonly kind: 'builtin';
      readonly rangeSets: readonly RangeSet[];
      readonly routes: readonly IpamRoute[];
      readonly dataDir: string;
      readonly resolvConf?: string;
    };

export interface Attachment {
  readonly containerId: string;
  readonly ifName: string;
}

export interface BridgeConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  readonly bridge: string;
  readonly isGateway: boolean;
  readonly isDefaultGateway: boolean;
  readonly forceAddress: boolean;
  readonly ipMasq: boolean;
  /**
   * Destinations ipMasq leaves alone besides the pod's own subnet (ip-masq-agent's nonMasqueradeCIDRs),
   * canonical: the cluster CIDR, so pod -> pod traffic across nodes keeps the pod's source IP.
   */
  readonly nonMasqueradeCidrs: readonly IpNet[];
  readonly mtu?: number;
  readonly hairpinMode: boolean;
  readonly promiscMode: boolean;
  readonly enableDad: boolean;
  readonly ipam: IpamConf;
  readonly dns: CniDns;
  readonly prevResult?: CniResult;
  /** MAC asked for through runtimeConfig.mac or args.cni.mac */
  readonly mac?: string;
  /** addresses asked for through runtimeConfig.ips or args.cni.ips */
  readonly requestedIps: readonly IpAddr[];
  readonly logFile: string;
  readonly logLevel: LogLevel;
  /** GC: attachments to keep (cni.dev/valid-attachments) */
  readonly validAttachments?: readonly Attachment[];
  /** the decoded object as received, passed to a delegated IPAM plugin */
  readonly raw: Readonly<Record<string, unknown>>;
}

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';
export const DEFAULT_LOG_FILE = '/var/log/moor/moor-bridge.log';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function invalid(message: string): CniError {
  return new CniError('invalidConfig', `invalid network config: ${message}`);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optBool(o: Obj, key: string, path: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw invalid(`${path}${key} must be a boolean, got ${show(v)}`);
  return v;
}

function optString(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`${path}${key} must be a string, got ${show(v)}`);
  return v;
}

function reqString(o: Obj, key: string, path: string): string {
  const v = optString(o, key, path);
  if (v === undefined || v === '') throw invalid(`${path}${key} is missing`);
  return v;
}

function parseIpField(o: Obj, key: string, path: string): IpAddr | undefined {
  const s = optString(o, key, path);
  if (s === undefined || s === '') return undefined;
  const ip = parseIp(s);
  if (ip === undefined) throw invalid(`${path}${key}: invalid IP address ${show(s)}`);
  return ip;
}

/** Decode stdin as a JSON object: code 6 on malformed JSON. */
export function decodeConfig(stdin: string): Obj {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin);
  } catch (err) {
    const excerpt = stdin.length > 60 ? `${stdin.slice(0, 60)}...` : stdin;
    throw new CniError('decodingFailure', `decode network config: ${(err as Error).message} in ${show(excerpt)}`);
  }
  if (!isObj(parsed)) throw new CniError('decodingFailure', `decode network config: want a JSON object, got ${show(parsed)}`);
  return parsed;
}

/** cniVersion checked on its own first, so even a broken config gets the right "incompatible" code. */
export function readCniVersion(raw: Obj): string {
  const v = raw.cniVersion;
  if (v === undefined || v === null || v === '') throw invalid('cniVersion is missing');
  if (typeof v !== 'string') throw invalid(`cniVersion must be a string, got ${show(v)}`);
  if (!isSupportedVersion(v)) {
    throw new CniError('incompatibleVersion', `incompatible CNI version ${show(v)}: moor-bridge supports ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return v;
}

function unsupported(key: string, value: unknown): CniError {
  return new CniError('unsupportedField', `unsupported field ${key}=${show(value)}: moor-bridge does not implement it`);
}

function checkUnsupported(raw: Obj): void {
  const nonDefault: [string, (v: unknown) => boolean][] = [
    ['vlan', (v) => v !== 0],
    ['vlanTrunk', (v) => !(Array.isArray(v) && v.length === 0)],
    ['macspoofchk', (v) => v !== false],
    ['disableContainerInterface', (v) => v !== false],
    ['portIsolation', (v) => v !== false],
    ['ipMasqBackend', (v) => v !== 'iptables' && v !== ''],
  ];
  for (const [key, isSet] of nonDefault) {
    const v = raw[key];
    if (v !== undefined && v !== null && isSet(v)) throw unsupported(key, v);
  }
}

function parseRange(o: unknown, path: string): IpRange {
  if (!isObj(o)) throw invalid(`${path} must be an object, got ${show(o)}`);
  const subnetText = optString(o, 'subnet', `${path}.`);
  if (subnetText === undefined || subnetText === '') throw invalid(`${path}.subnet is missing`);
  const parsed = parseCidr(subnetText);
  if (parsed === undefined) throw invalid(`${path}.subnet: invalid CIDR ${show(subnetText)}`);
  const subnet = canonicalNet(parsed);
  const family = subnet.ip.family;
  if (subnet.prefix > bitsOf(family) - 2) throw invalid(`${path}.subnet: network ${formatCidr(subnet)} is too small to allocate from`);
  const first = offsetIp(networkOf(subnet), 1n);
  const last = family === 4 ? offsetIp(lastOf(subnet), -1n) : lastOf(subnet);
  const inside = (key: string): IpAddr | undefined => {
    const ip = parseIpField(o, key, `${path}.`);
    if (ip !== undefined && !netContains(subnet, ip)) throw invalid(`${path}.${key} ${formatIp(ip)} is not in subnet ${formatCidr(subnet)}`);
    return ip;
  };
  const start = inside('rangeStart') ?? first;
  const end = inside('rangeEnd') ?? last;
  if (start.value > end.value) throw invalid(`${path}: rangeStart ${formatIp(start)} is after rangeEnd ${formatIp(end)}`);
  const gateway = parseIpField(o, 'gateway', `${path}.`) ?? first;
  if (gateway.family !== family) throw invalid(`${path}.gateway ${formatIp(gateway)} is not of the subnet's family`);
  return { subnet, start, end, gateway };
}

function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.subnet.ip.family === b.subnet.ip.family && a.start.value <= b.end.value && b.start.value <= a.end.value;
}

function parseIpam(raw: Obj): IpamConf {
  const ipam = raw.ipam;
  if (ipam === undefined || ipam === null) return { kind: 'none' };
  if (!isObj(ipam)) throw invalid(`ipam must be an object, got ${show(ipam)}`);
  const type = optString(ipam, 'type', 'ipam.');
  if (type !== undefined && type !== '') {
    if (!NAME_RE.test(type)) throw invalid(`ipam.type ${show(type)} is not a plugin name`);
    return { kind: 'delegate', type };
  }
  if (Object.keys(ipam).filter((k) => k !== 'type').length === 0) return { kind: 'none' };

  let rangeSets: RangeSet[];
  if (ipam.ranges !== undefined && ipam.ranges !== null) {
    if (!Array.isArray(ipam.ranges) || ipam.ranges.length === 0) throw invalid(`ipam.ranges must be a non-empty list of range sets, got ${show(ipam.ranges)}`);
    rangeSets = ipam.ranges.map((set: unknown, i: number) => {
      if (!Array.isArray(set) || set.length === 0) throw invalid(`ipam.ranges[${i}] must be a non-empty list of ranges, got ${show(set)}`);
      return set.map((r: unknown, j: number) => parseRange(r, `ipam.ranges[${i}][${j}]`));
    });
  } else if (ipam.subnet !== undefined) {
    rangeSets = [[parseRange({ subnet: ipam.subnet, rangeStart: ipam.rangeStart, rangeEnd: ipam.rangeEnd, gateway: ipam.gateway }, 'ipam')]];
  } else {
    throw invalid('ipam: built-in IPAM needs ranges or subnet (or set ipam.type to use an IPAM plugin)');
  }
  const all: { r: IpRange; where: string }[] = [];
  rangeSets.forEach((set, i) => {
    const family: Family = set[0]!.subnet.ip.family;
    set.forEach((r, j) => {
      if (r.subnet.ip.family !== family) throw invalid(`ipam.ranges[${i}] mixes IPv4 and IPv6 ranges`);
      for (const other of all) {
        if (rangesOverlap(r, other.r)) throw invalid(`ipam.ranges[${i}][${j}] ${formatCidr(r.subnet)} overlaps ${other.where}`);
      }
      all.push({ r, where: `ipam.ranges[${i}][${j}] ${formatCidr(r.subnet)}` });
    });
  });

  const routes: IpamRoute[] = [];
  if (ipam.routes !== undefined && ipam.routes !== null) {
    if (!Array.isArray(ipam.routes)) throw invalid(`ipam.routes must be a list, got ${show(ipam.routes)}`);
    ipam.routes.forEach((r: unknown, i: number) => {
      if (!isObj(r)) throw invalid(`ipam.routes[${i}] must be an object, got ${show(r)}`);
      const dst = reqString(r, 'dst', `ipam.routes[${i}].`);
      const net = parseCidr(dst);
      if (net === undefined) throw invalid(`ipam.routes[${i}].dst: invalid CIDR ${show(dst)}`);
      const gw = parseIpField(r, 'gw', `ipam.routes[${i}].`);
      routes.push({ dst: formatCidr(canonicalNet(net)), ...(gw === undefined ? {} : { gw: formatIp(gw) }) });
    });
  }
  const dataDir = optString(ipam, 'dataDir', 'ipam.') || DEFAULT_DATA_DIR;
  if (!dataDir.startsWith('/')) throw invalid(`ipam.dataDir ${show(dataDir)} must be an absolute path`);
  const resolvConf = optString(ipam, 'resolvConf', 'ipam.') || undefined;
  return { kind: 'builtin', rangeSets, routes, dataDir, ...(resolvConf === undefined ? {} : { resolvConf }) };
}

function parseDns(raw: Obj): CniDns {
  const d = raw.dns;
  if (d === undefined || d === null) return {};
  if (!isObj(d)) throw invalid(`dns must be an object, got ${show(d)}`);
  const list = (key: string): string[] | undefined => {
    const v = d[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(`dns.${key} must be a list of strings, got ${show(v)}`);
    return v as string[];
  };
  const nameservers = list('nameservers');
  const search = list('search');
  const options = list('options');
  const domain = optString(d, 'domain', 'dns.');
  return {
    ...(nameservers && nameservers.length > 0 ? { nameservers } : {}),
    ...(domain ? { domain } : {}),
    ...(search && search.length > 0 ? { search } : {}),
    ...(options && options.length > 0 ? { options } : {}),
  };
}

function parseRequestedIps(value: unknown, where: string): IpAddr[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`${where} must be a list of addresses, got ${show(value)}`);
  return value.map((v) => {
    const text = typeof v === 'string' ? v : '';
    const ip = parseIp(text) ?? parseCidr(text)?.ip;
    if (ip === undefined) throw invalid(`${where}: invalid IP address ${show(v)}`);
    return ip;
  });
}

function parseValidAttachments(raw: Obj): Attachment[] | undefined {
  const v = raw['cni.dev/valid-attachments'];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalid(`cni.dev/valid-attachments must be a list, got ${show(v)}`);
  return v.map((a: unknown, i: number) => {
    if (!isObj(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
      throw invalid(`cni.dev/valid-attachments[${i}] needs containerID and ifname strings, got ${show(a)}`);
    }
    return { containerId: a.containerID, ifName: a.ifname };
  });
}

function parseNonMasqueradeCidrs(raw: Obj): IpNet[] {
  const v = raw.nonMasqueradeCIDRs;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(`nonMasqueradeCIDRs must be a list of CIDRs, got ${show(v)}`);
  return v.map((c: unknown, i: number) => {
    const parsed = typeof c === 'string' ? parseCidr(c) : undefined;
    if (parsed === undefined) throw invalid(`nonMasqueradeCIDRs[${i}]: invalid CIDR ${show(c)}`);
    return canonicalNet(parsed);
  });
}

/** Validate the decoded config (pure). `env` supplies logging defaults only. */
export function parseBridgeConf(raw: Obj, env: Readonly<Record<string, string | undefined>> = {}): BridgeConf {
  const cniVersion = readCniVersion(raw);
  const name = reqString(raw, 'name', '');
  if (!NAME_RE.test(name) || name.length > 128) throw invalid(`name ${show(name)} must start with a letter or digit, use only [A-Za-z0-9_.-] and be at most 128 characters`);
  const type = reqString(raw, 'type', '');
  checkUnsupported(raw);

  const bridge = optString(raw, 'bridge', '') || 'br0';
  const ifProblem = validateIfName(bridge);
  if (ifProblem !== undefined) throw invalid(`bridge: ${ifProblem}`);
  const isDefaultGateway = optBool(raw, 'isDefaultGateway', '');
  const isGateway = optBool(raw, 'isGateway', '') || isDefaultGateway;
  const hairpinMode = optBool(raw, 'hairpinMode', '');
  const promiscMode = optBool(raw, 'promiscMode', '');
  if (hairpinMode && promiscMode) throw invalid('hairpinMode and promiscMode cannot both be true');
  let mtu: number | undefined;
  if (raw.mtu !== undefined && raw.mtu !== null && raw.mtu !== 0) {
    if (typeof raw.mtu !== 'number' || !Number.isInteger(raw.mtu) || raw.mtu < 68 || raw.mtu > 65535) throw invalid(`mtu must be an integer from 68 to 65535, got ${show(raw.mtu)}`);
    mtu = raw.mtu;
  }

  const runtimeConfig = isObj(raw.runtimeConfig) ? raw.runtimeConfig : {};
  const argsCni = isObj(raw.args) && isObj(raw.args.cni) ? raw.args.cni : {};
  const mac = optString(runtimeConfig, 'mac', 'runtimeConfig.') || optString(argsCni, 'mac', 'args.cni.') || undefined;
  if (mac !== undefined && !isUnicastMac(mac)) throw invalid(`mac: invalid unicast MAC address ${show(mac)}`);
  const requestedIps = [...parseRequestedIps(runtimeConfig.ips, 'runtimeConfig.ips'), ...parseRequestedIps(argsCni.ips, 'args.cni.ips')];

  const logLevelRaw = raw.logLevel ?? env.MOOR_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevelRaw)) throw invalid(`logLevel must be one of debug, info, warn, error, silent, got ${show(logLevelRaw)}`);
  const logFile = optString(raw, 'logFile', '') || env.MOOR_CNI_LOG_FILE || DEFAULT_LOG_FILE;

  const prevResult = raw.prevResult === undefined || raw.prevResult === null ? undefined : parseResult(raw.prevResult);
  const validAttachments = parseValidAttachments(raw);

  return Object.freeze({
    cniVersion,
    name,
    type,
    bridge,
    isGateway,
    isDefaultGateway,
    forceAddress: optBool(raw, 'forceAddress', ''),
    ipMasq: optBool(raw, 'ipMasq', ''),
    nonMasqueradeCidrs: parseNonMasqueradeCidrs(raw),
    ...(mtu === undefined ? {} : { mtu }),
    hairpinMode,
    promiscMode,
    enableDad: optBool(raw, 'enabledad', ''),
    ipam: parseIpam(raw),
    dns: parseDns(raw),
    ...(prevResult === undefined ? {} : { prevResult }),
    ...(mac === undefined ? {} : { mac }),
    requestedIps,
    logFile,
    logLevel: logLevelRaw,
    ...(validAttachments === undefined ? {} : { validAttachments }),
    raw,
  });
}

/** Does any range set hold `ip`? */
export function rangeSetIndexOf(rangeSets: readonly RangeSet[], ip: IpAddr): number {
  return rangeSets.findIndex((set) => set.some((r) => netContains(r.subnet, ip)));
}

export function familiesOf(rangeSets: readonly RangeSet[]): Family[] {
  return [...new Set(rangeSets.map((s) => s[0]!.subnet.ip.family))];
}

