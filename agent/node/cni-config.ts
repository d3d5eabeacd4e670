// The node's pod network config from the pod CIDR the server gave the node (node.spec.podCIDR,
// allocated by the node IPAM controller): <cni-conf-dir>/10-moor.conflist with moor-bridge
// (gateway, default route, masquerade, hairpin, IPAM on the pod CIDR) followed by portmap, the
// same document scripts/install-cni.sh writes. Written atomically, and only when it changes.
// With nonMasqueradeCidrs (the cluster CIDR) masquerade leaves traffic to other nodes' pods alone, so
// pod -> pod across nodes keeps the pod's source IP; without, only the node's own pod CIDR is exempt.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CONFLIST_FILE = '10-moor.conflist';

export interface BridgeConflistOptions {
  readonly podCidr: string;
  readonly name?: string;
  readonly bridge?: string;
  /** Destinations left unmasqueraded besides the pod CIDR, e.g. the cluster CIDR (none when empty). */
  readonly nonMasqueradeCidrs?: readonly string[];
}

/** The conflist text for a pod CIDR. Pure. */
export function buildBridgeConflist(opts: BridgeConflistOptions): string {
  const doc = {
    cniVersion: '1.0.0',
    name: opts.name ?? 'moor',
    plugins: [
      {
        type: 'moor-bridge',
        bridge: opts.bridge ?? 'moor0',
        isGateway: true,
        isDefaultGateway: true,
        ipMasq: true,
        ...(opts.nonMasqueradeCidrs !== undefined && opts.nonMasqueradeCidrs.length > 0 ? { nonMasqueradeCIDRs: [...opts.nonMasqueradeCidrs] } : {}),
        hairpinMode: true,
        ipam: { ranges: [[{ subnet: opts.podCidr }]] },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Write the conflist for podCidr into confDir unless it already says that; returns whether it wrote. */
export async function ensureBridgeConflist(confDir: string, opts: BridgeConflistOptions): Promise<boolean> {
  const text = buildBridgeConflist(opts);
  const path = join(confDir, CONFLIST_FILE);
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === text) return false;
  await mkdir(confDir, { recursive: true });
  const tmp = join(confDir, `.${CONFLIST_FILE}.tmp`);
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
  return true;
}
