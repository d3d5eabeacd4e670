// Names derived from identities, so DEL and GC find what ADD made without stored state (pure).
// Host veth: veth + 11 hex of sha256(network, containerId, ifName). Its alias carries the attachment in the
// same form as the nat rules' comment, which GC reads back. MACs: locally administered unicast.

import { sha256Hex } from './hash.ts';

/** The network is part of the name: one container may attach to two networks with the same ifname. */
export function hostVethName(network: string, containerId: string, ifName: string): string {
  return `veth${sha256Hex(`${network}\n${containerId}\n${ifName}`).slice(0, 11)}`;
}

export function attachmentAlias(network: string, containerId: string, ifName: string): string {
  return `moor-bridge net=${network} id=${containerId} if=${ifName}`;
}

export function parseAttachmentAlias(alias: string): { network: string; containerId: string; ifName: string } | undefined {
  const m = /^moor-bridge net=(\S+) id=(\S+) if=(\S+)$/.exec(alias);
  if (m === null) return undefined;
  return { network: m[1]!, containerId: m[2]!, ifName: m[3]! };
}

function formatMac(bytes: readonly number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** A random locally administered unicast MAC (02:xx:...). `random` is injectable for tests. */
export function randomMac(random: () => number = Math.random): string {
  const bytes = [0x02];
  for (let i = 0; i < 5; i++) bytes.push(Math.floor(random() * 256) & 0xff);
  return formatMac(bytes);
}

/**
 * A stable MAC for a bridge we create: without one, a Linux bridge takes the lowest MAC of its
 * ports and changes it as containers come and go.
 */
export function bridgeMac(bridge: string): string {
  const h = sha256Hex(`bridge\n${bridge}`);
  const bytes = [0x02];
  for (let i = 0; i < 5; i++) bytes.push(parseInt(h.slice(i * 2, i * 2 + 2), 16));
  return formatMac(bytes);
}

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function isUnicastMac(mac: string): boolean {
  return MAC_RE.test(mac) && (parseInt(mac.slice(0, 2), 16) & 1) === 0 && mac !== '00:00:00:00:00:00';
}
