// Which address to try next, host-local style (pure): round-robin through a range set, starting after
// the last address handed out (last_reserved_ip.<n>), wrapping once around every range of the set.
// Never yields a range's gateway, the subnet's network address or an IPv4 broadcast address, so those
// are not handed out even when rangeStart/rangeEnd include them.

import { type IpAddr, ipEqual, lastOf, netContains, networkOf } from '../addr.ts';
import type { IpRange, RangeSet } from '../config.ts';

function isUsable(r: IpRange, ip: IpAddr): boolean {
  if (ipEqual(ip, r.gateway)) return false;
  if (ip.value === networkOf(r.subnet).value) return false;
  if (ip.family === 4 && ip.value === lastOf(r.subnet).value) return false;
  return true;
}

/** Candidate addresses of `set` in allocation order, each at most once. */
export function* candidateAddresses(set: RangeSet, lastReserved?: IpAddr): Generator<IpAddr> {
  if (set.length === 0) return;
  let rangeIdx = 0;
  let next: bigint = set[0]!.start.value;
  if (lastReserved !== undefined) {
    const found = set.findIndex((r) => r.start.family === lastReserved.family && lastReserved.value >= r.start.value && lastReserved.value <= r.end.value);
    if (found >= 0) {
      rangeIdx = found;
      next = lastReserved.value + 1n;
      if (next > set[found]!.end.value) {
        rangeIdx = (found + 1) % set.length;
        next = set[rangeIdx]!.start.value;
      }
    }
  }
  const startIdx = rangeIdx;
  const startValue = next;
  for (;;) {
    const r = set[rangeIdx]!;
    const ip: IpAddr = { family: r.start.family, value: next };
    if (isUsable(r, ip)) yield ip;
    next += 1n;
    if (next > r.end.value) {
      rangeIdx = (rangeIdx + 1) % set.length;
      next = set[rangeIdx]!.start.value;
    }
    if (rangeIdx === startIdx && next === startValue) return;
  }
}

/** The range of `set` holding `ip` when that address may be handed out, else undefined. */
export function rangeForRequested(set: RangeSet, ip: IpAddr): IpRange | undefined {
  const r = set.find((x) => netContains(x.subnet, ip) && ip.value >= x.start.value && ip.value <= x.end.value);
  return r !== undefined && isUsable(r, ip) ? r : undefined;
}

/** How many addresses `set` can hand out in all (gateway, network and broadcast excluded). */
export function usableCount(set: RangeSet): bigint {
  let total = 0n;
  for (const r of set) {
    let n = r.end.value - r.start.value + 1n;
    const excluded = [r.gateway.value, networkOf(r.subnet).value, ...(r.start.family === 4 ? [lastOf(r.subnet).value] : [])];
    for (const v of new Set(excluded)) if (v >= r.start.value && v <= r.end.value) n -= 1n;
    total += n;
  }
  return total;
}
