// The iptables boundary: the only module that spells iptables-restore / iptables-save command lines.
// Masquerade state per attachment is one nat chain MOOR-<hash(network, container, ifname)> plus one
// POSTROUTING jump per container address, every rule tagged with the comment
// `moor-bridge net=<network> id=<container> if=<ifname>`, so DEL and GC find exactly our rules
// without any stored state. Each change is one `iptables-restore --noflush -w` transaction (the
// reference plugin runs 6-9 iptables processes). Only address families in use are ever touched.

import { CommandError } from '../../common/errors.ts';
import type { Family } from '../addr.ts';
import { CniError } from '../errors.ts';
import type { CniLogger } from '../log.ts';
import { sha256Hex } from '../hash.ts';
import { attachmentAlias, parseAttachmentAlias } from '../names.ts';
import { runCommand } from './exec.ts';

export interface AttachmentId {
  readonly network: string;
  readonly containerId: string;
  readonly ifName: string;
}

/** One container address to masquerade, with the pod subnet it may reach unmasqueraded. */
export interface MasqTarget {
  readonly family: Family;
  /** host address, e.g. 10.22.0.5/32 */
  readonly source: string;
  /** canonical pod subnet, e.g. 10.22.0.0/24 */
  readonly subnet: string;
  /** more destinations left unmasqueraded, e.g. the cluster CIDR 10.22.0.0/16 (same family) */
  readonly alsoExempt?: readonly string[];
}

const MULTICAST: Record<Family, string> = { 4: '224.0.0.0/4', 6: 'ff00::/8' };

export function masqChainName(id: AttachmentId): string {
  // iptables chain names are at most 28 characters: MOOR- plus 22 hex digits (88 bits).
  return `MOOR-${sha256Hex(`${id.network}\n${id.containerId}\n${id.ifName}`).slice(0, 22).toUpperCase()}`;
}

/** The rule comment: the attachment, in the same form as the host veth's alias. */
export function masqComment(id: AttachmentId): string {
  return attachmentAlias(id.network, id.containerId, id.ifName);
}

export function parseMasqComment(comment: string): AttachmentId | undefined {
  return parseAttachmentAlias(comment);
}

/** The restore script creating the chain and jumps for one family (pure). */
export function buildMasqAddScript(id: AttachmentId, targets: readonly MasqTarget[], family: Family): string {
  const chain = masqChainName(id);
  const c = `-m comment --comment "${masqComment(id)}"`;
  const mine = targets.filter((t) => t.family === family);
  const subnets = [...new Set(mine.flatMap((t) => [t.subnet, ...(t.alsoExempt ?? [])]))].filter((s) => s !== '');
  const lines = ['*nat', `:${chain} - [0:0]`];
  for (const subnet of subnets) lines.push(`-A ${chain} -d ${subnet} ${c} -j ACCEPT`);
  lines.push(`-A ${chain} ! -d ${MULTICAST[family]} ${c} -j MASQUERADE`);
  for (const t of mine) lines.push(`-A POSTROUTING -s ${t.source} ${c} -j ${chain}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The restore script removing the jumps for known sources and the chain (pure; fails if a jump is absent). */
export function buildMasqDelScript(id: AttachmentId, sources: readonly string[]): string {
  const chain = masqChainName(id);
  const c = `-m comment --comment "${masqComment(id)}"`;
  const lines = ['*nat'];
  for (const s of sources) lines.push(`-D POSTROUTING -s ${s} ${c} -j ${chain}`);
  // Declaring the chain creates or flushes it, so -X works whether or not it existed.
  lines.push(`:${chain} - [0:0]`, `-X ${chain}`, 'COMMIT', '');
  return lines.join('\n');
}

export interface SavedRule {
  readonly chain: string;
  /** the rule after "-A <chain> ", as iptables-save prints it */
  readonly spec: string;
  readonly comment?: string;
  readonly target?: string;
  readonly source?: string;
}

export interface SavedNat {
  readonly chains: ReadonlySet<string>;
  readonly rules: readonly SavedRule[];
}

/** Parse `iptables-save -t nat` output (pure). */
export function parseNatSave(text: string): SavedNat {
  const chains = new Set<string>();
  const rules: SavedRule[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) {
      chains.add(line.slice(1).split(' ')[0]!);
      continue;
    }
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (m === null) continue;
    const spec = m[2]!;
    const comment = /--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(spec);
    const target = /(?:^| )-j (\S+)/.exec(spec);
    const source = /(?:^| )-s (\S+)/.exec(spec);
    rules.push({
      chain: m[1]!,
      spec,
      comment: comment === null ? undefined : (comment[1] ?? comment[2])!.replace(/\\(.)/g, '$1'),
      target: target?.[1],
      source: source?.[1],
    });
  }
  return { chains, rules };
}

/** The script removing every rule and chain of the given attachments found in `saved` (pure). */
export function buildMasqPurgeScript(saved: SavedNat, doomed: (id: AttachmentId) => boolean): string | undefined {
  const deletes: string[] = [];
  const chains = new Set<string>();
  for (const r of saved.rules) {
    const id = r.comment === undefined ? undefined : parseMasqComment(r.comment);
    if (id === undefined || !doomed(id)) continue;
    const chain = masqChainName(id);
    if (r.chain === 'POSTROUTING') deletes.push(`-D POSTROUTING ${r.spec}`);
    if (saved.chains.has(chain)) chains.add(chain);
  }
  if (deletes.length === 0 && chains.size === 0) return undefined;
  const lines = ['*nat', ...deletes];
  for (const chain of chains) lines.push(`:${chain} - [0:0]`, `-X ${chain}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Attachments owning at least one rule in `saved` for `network`. */
export function listMasqAttachments(saved: SavedNat, network: string): AttachmentId[] {
  const seen = new Map<string, AttachmentId>();
  for (const r of saved.rules) {
    const id = r.comment === undefined ? undefined : parseMasqComment(r.comment);
    if (id !== undefined && id.network === network) seen.set(`${id.containerId}\n${id.ifName}`, id);
  }
  return [...seen.values()];
}

/** What is missing from `saved` for the attachment's masquerade (pure; empty when all is there). */
export function findMasqProblems(saved: SavedNat, id: AttachmentId, targets: readonly MasqTarget[]): string[] {
  const chain = masqChainName(id);
  const comment = masqComment(id);
  const problems: string[] = [];
  if (!saved.chains.has(chain)) problems.push(`nat chain ${chain} is missing`);
  else if (!saved.rules.some((r) => r.chain === chain && r.target === 'MASQUERADE')) problems.push(`nat chain ${chain} has no MASQUERADE rule`);
  for (const t of targets) {
    const found = saved.rules.some((r) => r.chain === 'POSTROUTING' && r.comment === comment && r.target === chain && r.source === t.source);
    if (!found) problems.push(`POSTROUTING jump from ${t.source} to ${chain} is missing`);
  }
  return problems;
}

/** The firewall operations bridge.ts needs; the real one runs iptables, tests may inject failures. */
export interface Firewall {
  ensureMasq(id: AttachmentId, targets: readonly MasqTarget[]): Promise<void>;
  /** Remove the attachment's rules; `knownSources` allows the one-transaction fast path. */
  removeMasq(id: AttachmentId, families: readonly Family[], knownSources: readonly MasqTarget[]): Promise<void>;
  saveNat(family: Family): Promise<SavedNat>;
  restore(family: Family, script: string): Promise<void>;
}

export class IptablesFirewall implements Firewall {
  readonly #log: CniLogger;
  readonly #timeoutMs: number;

  constructor(log: CniLogger, timeoutMs = 30_000) {
    this.#log = log;
    this.#timeoutMs = timeoutMs;
  }

  async ensureMasq(id: AttachmentId, targets: readonly MasqTarget[]): Promise<void> {
    const families = [...new Set(targets.map((t) => t.family))];
    await Promise.all(families.map((f) => this.restore(f, buildMasqAddScript(id, targets, f))));
  }

  async removeMasq(id: AttachmentId, families: readonly Family[], knownSources: readonly MasqTarget[]): Promise<void> {
    await Promise.all(families.map(async (family) => {
      const sources = knownSources.filter((t) => t.family === family).map((t) => t.source);
      if (sources.length > 0) {
        // Fast path: one transaction; it fails as a whole when a jump is already gone.
        const ok = await this.#tryRestore(family, buildMasqDelScript(id, sources));
        if (ok) return;
      }
      const saved = await this.saveNat(family);
      const chain = masqChainName(id);
      const comment = masqComment(id);
      const script = buildMasqPurgeScript(saved, (other) => masqComment(other) === comment || masqChainName(other) === chain);
      if (script !== undefined) await this.restore(family, script);
    }));
  }

  async saveNat(family: Family): Promise<SavedNat> {
    const argv = [family === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'nat'];
    const res = await this.#run(argv);
    if (res.exitCode !== 0) {
      // A table that was never created is empty, not an error (and must not be created by us).
      if (/does not exist|Table does not exist/i.test(res.stderr)) return { chains: new Set(), rules: [] };
      throw new CniError('firewallFailed', `${argv.join(' ')}: ${res.stderr.trim() || `exit status ${res.exitCode}`}`);
    }
    return parseNatSave(res.stdout);
  }

  async restore(family: Family, script: string): Promise<void> {
    const res = await this.#runRestore(family, script);
    if (res.exitCode !== 0) {
      const stderr = res.stderr.trim();
      const kind = /xtables lock|Resource temporarily unavailable/i.test(stderr) ? 'tryAgainLater' : 'firewallFailed';
      throw new CniError(kind, `apply nat rules with ${family === 4 ? 'iptables' : 'ip6tables'}-restore: ${stderr || `exit status ${res.exitCode}`}`, { details: script });
    }
  }

  async #tryRestore(family: Family, script: string): Promise<boolean> {
    const res = await this.#runRestore(family, script);
    if (res.exitCode !== 0) this.#log.debug({ stderr: res.stderr.trim() }, 'fast masquerade removal did not apply, looking rules up');
    return res.exitCode === 0;
  }

  #runRestore(family: Family, script: string) {
    return this.#run([family === 4 ? 'iptables-restore' : 'ip6tables-restore', '-w', '10', '--noflush'], script);
  }

  async #run(argv: string[], input?: string) {
    try {
      return await runCommand(argv, { input, timeoutMs: this.#timeoutMs, log: this.#log });
    } catch (err) {
      if (err instanceof CommandError && err.code === 'command-timeout') throw new CniError('commandTimeout', err.message, { cause: err });
      throw new CniError('firewallFailed', `run ${argv[0]}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}
