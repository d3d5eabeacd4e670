// IP address arithmetic for the plugin: parse, format (Go's net.IP.String() forms, so reservation file
// names match host-local's), networks and ranges. Addresses are bigints so IPv4 and IPv6 share code.
// Pure: no I/O. Does not handle zones (fe80::1%eth0) or IPv4-mapped IPv6 forms.

export type Family = 4 | 6;

export interface IpAddr {
  readonly family: Family;
  readonly value: bigint;
}

/** An address with a prefix length, host bits kept (10.22.0.5/24). */
export interface IpNet {
  readonly ip: IpAddr;
  readonly prefix: number;
}

export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

export function parseIp(text: string): IpAddr | undefined {
  if (text.includes(':')) return parseIp6(text);
  return parseIp4(text);
}

function parseIp4(text: string): IpAddr | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255 || (part.length > 1 && part[0] === '0')) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return { family: 4, value };
}

function parseIp6(text: string): IpAddr | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const groups = s.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIp4(g);
        if (v4 === undefined) return undefined;
        out.push(Number(v4.value >> 16n), Number(v4.value & 0xffffn));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return { family: 6, value };
}

export function formatIp(ip: IpAddr): string {
  if (ip.family === 4) {
    const v = ip.value;
    return `${(v >> 24n) & 255n}.${(v >> 16n) & 255n}.${(v >> 8n) & 255n}.${v & 255n}`;
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run of two or more zero groups (the first one on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (g: number[]): string => g.map((n) => n.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function parseCidr(text: string): IpNet | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bitsOf(ip.family)) return undefined;
  return { ip, prefix };
}

export function formatCidr(net: IpNet): string {
  return `${formatIp(net.ip)}/${net.prefix}`;
}

function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(bitsOf(family) - prefix)) - 1n;
}

/** The network address of `net` (host bits cleared). */
export function networkOf(net: IpNet): IpAddr {
  return { family: net.ip.family, value: net.ip.value & ~hostMask(net.ip.family, net.prefix) };
}

/** The last address of `net` (the IPv4 broadcast address). */
export function lastOf(net: IpNet): IpAddr {
  return { family: net.ip.family, value: net.ip.value | hostMask(net.ip.family, net.prefix) };
}

/** The network with host bits cleared: 10.22.0.5/24 -> 10.22.0.0/24. */
export function canonicalNet(net: IpNet): IpNet {
  return { ip: networkOf(net), prefix: net.prefix };
}

export function netContains(net: IpNet, ip: IpAddr): boolean {
  return ip.family === net.ip.family && networkOf({ ip, prefix: net.prefix }).value === networkOf(net).value;
}

export function netsOverlap(a: IpNet, b: IpNet): boolean {
  if (a.ip.family !== b.ip.family) return false;
  const prefix = Math.min(a.prefix, b.prefix);
  return networkOf({ ip: a.ip, prefix }).value === networkOf({ ip: b.ip, prefix }).value;
}

export function ipEqual(a: IpAddr, b: IpAddr): boolean {
  return a.family === b.family && a.value === b.value;
}

export function offsetIp(ip: IpAddr, delta: bigint): IpAddr {
  return { family: ip.family, value: ip.value + delta };
}

/** The full-length host network of one address: 10.22.0.5/32, fd00::5/128. */
export function hostNet(ip: IpAddr): string {
  return `${formatIp(ip)}/${bitsOf(ip.family)}`;
}
