// Kernel settings of the netns this process runs in, read and written through /proc/sys directly
// (no `sysctl` process): /proc/sys/net resolves to the opener's network namespace.

import { readFileSync, writeFileSync } from 'node:fs';
import type { Family } from '../addr.ts';
import { CniError } from '../errors.ts';

export interface Sysctl {
  /** Set `key` (dotted, e.g. net.ipv4.ip_forward) to `value` unless it already has it. */
  ensure(key: string, value: string): void;
}

export const procSysctl: Sysctl = {
  ensure(key, value) {
    // sysctl's convention: dots separate levels, a slash stands for a dot inside a name
    const path = `/proc/sys/${key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'))}`;
    try {
      if (readFileSync(path, 'utf8').trim() === value) return;
      writeFileSync(path, value);
    } catch (err) {
      throw new CniError('linkFailed', `set ${key}=${value}: ${(err as Error).message}`);
    }
  },
};

export function forwardingKey(family: Family): string {
  return family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding';
}

/** Interface names may hold dots, which sysctl keys use as separators: go through the path form. */
export function acceptRaKey(ifName: string): string {
  return `net.ipv6.conf.${ifName.replace(/\./g, '/')}.accept_ra`;
}
