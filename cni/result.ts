// CNI results: our internal shape (the 1.1.0 one), parsing a prevResult of any supported version and
// printing a result in the requested version's format. Pure.
//   0.3.0 / 0.3.1 / 0.4.0: ips[].version "4"/"6" required
//   1.0.0: no ips[].version
//   1.1.0: adds interfaces[].mtu (and route extras, passed through when present)

import { parseCidr, parseIp } from './addr.ts';
import { CniError } from './errors.ts';
import { atLeast } from './version.ts';

export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  readonly mtu?: number;
  readonly sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR with host bits: 10.22.0.5/24 */
  readonly address: string;
  readonly gateway?: string;
  /** index into interfaces */
  readonly interface?: number;
}

export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
  readonly [extra: string]: unknown;
}

export interface CniDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

export interface CniResult {
  readonly interfaces: readonly CniInterface[];
  readonly ips: readonly CniIpConfig[];
  readonly routes: readonly CniRoute[];
  readonly dns: CniDns;
}

export function emptyResult(): CniResult {
  return { interfaces: [], ips: [], routes: [], dns: {} };
}

function bad(what: string, value: unknown): CniError {
  return new CniError('invalidConfig', `invalid prevResult: ${what}, got ${JSON.stringify(value)}`);
}

function stringArray(value: unknown, what: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw bad(`${what} must be a list of strings`, value);
  return value as string[];
}

/** Parse a result object (prevResult, or an IPAM plugin's output) of any supported version. */
export function parseResult(raw: unknown, what = 'prevResult'): CniResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CniError('invalidConfig', `invalid ${what}: must be an object, got ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  const interfaces: CniInterface[] = [];
  if (r.interfaces !== undefined && r.interfaces !== null) {
    if (!Array.isArray(r.interfaces)) throw bad('interfaces must be a list', r.interfaces);
    for (const i of r.interfaces as unknown[]) {
      if (typeof i !== 'object' || i === null || typeof (i as { name?: unknown }).name !== 'string') throw bad('each interface needs a name', i);
      const x = i as Record<string, unknown>;
      interfaces.push({
        name: x.name as string,
        ...(typeof x.mac === 'string' && x.mac !== '' ? { mac: x.mac } : {}),
        ...(typeof x.mtu === 'number' ? { mtu: x.mtu } : {}),
        ...(typeof x.sandbox === 'string' && x.sandbox !== '' ? { sandbox: x.sandbox } : {}),
      });
    }
  }
  const ips: CniIpConfig[] = [];
  if (r.ips !== undefined && r.ips !== null) {
    if (!Array.isArray(r.ips)) throw bad('ips must be a list', r.ips);
    for (const ip of r.ips as unknown[]) {
      const x = ip as Record<string, unknown>;
      if (typeof x !== 'object' || x === null || typeof x.address !== 'string' || parseCidr(x.address) === undefined) throw bad('each ips entry needs a CIDR address', ip);
      if (x.gateway !== undefined && (typeof x.gateway !== 'string' || parseIp(x.gateway) === undefined)) throw bad('ips gateway must be an IP address', x.gateway);
      if (x.interface !== undefined && (typeof x.interface !== 'number' || !Number.isInteger(x.interface) || x.interface < 0)) throw bad('ips interface must be an index', x.interface);
      ips.push({
        address: x.address,
        ...(typeof x.gateway === 'string' ? { gateway: x.gateway } : {}),
        ...(typeof x.interface === 'number' ? { interface: x.interface } : {}),
      });
    }
  }
  const routes: CniRoute[] = [];
  if (r.routes !== undefined && r.routes !== null) {
    if (!Array.isArray(r.routes)) throw bad('routes must be a list', r.routes);
    for (const route of r.routes as unknown[]) {
      const x = route as Record<string, unknown>;
      if (typeof x !== 'object' || x === null || typeof x.dst !== 'string' || parseCidr(x.dst) === undefined) throw bad('each route needs a CIDR dst', route);
      if (x.gw !== undefined && (typeof x.gw !== 'string' || parseIp(x.gw) === undefined)) throw bad('route gw must be an IP address', x.gw);
      routes.push({ ...x, dst: x.dst } as CniRoute);
    }
  }
  let dns: CniDns = {};
  if (r.dns !== undefined && r.dns !== null) {
    const d = r.dns as Record<string, unknown>;
    if (typeof d !== 'object') throw bad('dns must be an object', r.dns);
    dns = {
      ...(stringArray(d.nameservers, 'dns.nameservers') ? { nameservers: d.nameservers as string[] } : {}),
      ...(typeof d.domain === 'string' && d.domain !== '' ? { domain: d.domain } : {}),
      ...(stringArray(d.search, 'dns.search') ? { search: d.search as string[] } : {}),
      ...(stringArray(d.options, 'dns.options') ? { options: d.options as string[] } : {}),
    };
  }
  return { interfaces, ips, routes, dns };
}

/** The result object for `cniVersion`'s format. */
export function formatResult(result: CniResult, cniVersion: string): Record<string, unknown> {
  const withVersion = !atLeast(cniVersion, '1.0.0');
  const withMtu = atLeast(cniVersion, '1.1.0');
  const out: Record<string, unknown> = { cniVersion };
  if (result.interfaces.length > 0) {
    out.interfaces = result.interfaces.map((i) => {
      const o: Record<string, unknown> = { name: i.name };
      if (i.mac !== undefined) o.mac = i.mac;
      if (withMtu && i.mtu !== undefined) o.mtu = i.mtu;
      if (i.sandbox !== undefined) o.sandbox = i.sandbox;
      return o;
    });
  }
  if (result.ips.length > 0) {
    out.ips = result.ips.map((ip) => {
      const o: Record<string, unknown> = {};
      if (withVersion) o.version = ip.address.includes(':') ? '6' : '4';
      o.address = ip.address;
      if (ip.gateway !== undefined) o.gateway = ip.gateway;
      if (ip.interface !== undefined) o.interface = ip.interface;
      return o;
    });
  }
  if (result.routes.length > 0) {
    out.routes = result.routes.map((r) => {
      if (withMtu) return { ...r };
      const o: Record<string, unknown> = { dst: r.dst };
      if (r.gw !== undefined) o.gw = r.gw;
      return o;
    });
  }
  out.dns = { ...result.dns };
  return out;
}
