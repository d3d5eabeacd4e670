// The iproute2 boundary: the only module that spells `ip` command lines. Callers describe operations
// as data (IpOp); runIpOps() sends them all through one `ip -batch -` process (inside a netns when
// asked), with -force so every line runs and each line's outcome is reported on its own: stderr's
// "Command failed -:N" markers tell which lines failed and with what message, mapped to
// exists / notFound / other. Show operations print JSON (-json -details) returned in op order.

import { CommandError } from '../../common/errors.ts';
import { CniError } from '../errors.ts';
import type { CniLogger } from '../log.ts';
import { runCommand } from './exec.ts';
import { ipInNetns } from './netns.ts';

export type IpOp =
  | { readonly op: 'add-bridge'; readonly name: string; readonly mtu?: number; readonly mac?: string }
  | { readonly op: 'set-up'; readonly name: string; readonly promisc?: boolean }
  | { readonly op: 'add-addr'; readonly dev: string; readonly cidr: string; readonly nodad?: boolean }
  | { readonly op: 'del-addr'; readonly dev: string; readonly cidr: string }
  | {
      readonly op: 'add-veth';
      readonly name: string;
      readonly mac: string;
      readonly mtu?: number;
      readonly peerName: string;
      readonly peerMac: string;
      readonly peerNetns: string;
    }
  | { readonly op: 'attach'; readonly name: string; readonly master: string; readonly alias: string }
  | { readonly op: 'set-hairpin'; readonly name: string }
  | { readonly op: 'add-route'; readonly dst: string; readonly gw?: string; readonly dev: string }
  | { readonly op: 'del-link'; readonly name: string }
  | { readonly op: 'show-addr'; readonly dev: string }
  | { readonly op: 'show-veths' }
  | { readonly op: 'show-routes' };

export type IpFailureKind = 'exists' | 'notFound' | 'other';

export interface IpOpResult {
  readonly op: IpOp;
  readonly ok: boolean;
  readonly kind?: IpFailureKind;
  readonly message?: string;
  /** Parsed JSON of a successful show operation. */
  readonly json?: unknown;
}

/** One `ip` address entry as `ip -json -details addr show` prints it (the fields we read). */
export interface IpLinkJson {
  readonly ifname: string;
  readonly ifindex: number;
  readonly address?: string;
  readonly mtu?: number;
  readonly flags?: readonly string[];
  readonly master?: string;
  readonly ifalias?: string;
  readonly promiscuity?: number;
  readonly linkinfo?: { readonly info_kind?: string; readonly info_slave_kind?: string; readonly info_slave_data?: { readonly hairpin?: boolean } };
  readonly addr_info?: readonly { readonly family: string; readonly local: string; readonly prefixlen: number }[];
}

export interface IpRouteJson {
  readonly dst: string;
  readonly table?: string;
  readonly gateway?: string;
  readonly dev?: string;
}

function quote(value: string): string {
  // Batch lines are split on blanks; our values never hold quotes (names are validated upstream).
  return /[\s#]/.test(value) ? `"${value}"` : value;
}

/** The batch line for one operation (pure). */
export function formatIpOp(op: IpOp): string {
  switch (op.op) {
    case 'add-bridge':
      return `link add ${op.name}${op.mtu === undefined ? '' : ` mtu ${op.mtu}`}${op.mac === undefined ? '' : ` address ${op.mac}`} type bridge`;
    case 'set-up':
      return `link set dev ${op.name}${op.promisc ? ' promisc on' : ''} up`;
    case 'add-addr':
      return `addr add ${op.cidr} dev ${op.dev}${op.nodad ? ' nodad' : ''}`;
    case 'del-addr':
      return `addr del ${op.cidr} dev ${op.dev}`;
    case 'add-veth': {
      const mtu = op.mtu === undefined ? '' : ` mtu ${op.mtu}`;
      return `link add ${op.name}${mtu} address ${op.mac} type veth peer name ${op.peerName}${mtu} address ${op.peerMac} netns ${op.peerNetns}`;
    }
    case 'attach':
      return `link set dev ${op.name} master ${op.master} alias ${quote(op.alias)} up`;
    case 'set-hairpin':
      return `link set dev ${op.name} type bridge_slave hairpin on`;
    case 'add-route':
      return `route add ${op.dst}${op.gw === undefined ? '' : ` via ${op.gw}`} dev ${op.dev}`;
    case 'del-link':
      return `link del dev ${op.name}`;
    case 'show-addr':
      return `addr show dev ${op.dev}`;
    case 'show-veths':
      return 'link show type veth';
    case 'show-routes':
      // both families, every table; callers keep the main table's entries (no "table" field)
      return 'route show table all';
    default: {
      const never: never = op;
      throw new Error(`unknown ip op ${JSON.stringify(never)}`);
    }
  }
}

function isShow(op: IpOp): boolean {
  return op.op === 'show-addr' || op.op === 'show-veths' || op.op === 'show-routes';
}

export function classifyIpError(message: string): IpFailureKind {
  if (/File exists|already exists|already assigned/i.test(message)) return 'exists';
  if (/Cannot find device|No such device|does not exist|not found|Cannot assign requested address|No such process/i.test(message)) return 'notFound';
  return 'other';
}

/**
 * Split batch output into per-line results (pure). stderr holds each failing line's messages
 * followed by "Command failed -:N"; stdout holds one JSON document per successful show line.
 */
export function parseBatchOutput(ops: readonly IpOp[], stdout: string, stderr: string): IpOpResult[] {
  const failures = new Map<number, string>();
  let pending: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)$/.exec(line.trim());
    if (m !== null) {
      failures.set(Number(m[1]), pending.join('; '));
      pending = [];
    } else if (line.trim() !== '') {
      pending.push(line.trim());
    }
  }
  const docs = splitJsonDocuments(stdout);
  let next = 0;
  return ops.map((op, i) => {
    const failure = failures.get(i + 1);
    if (failure !== undefined) return { op, ok: false, kind: classifyIpError(failure), message: failure };
    if (isShow(op)) return { op, ok: true, json: docs[next++] ?? [] };
    return { op, ok: true };
  });
}

/** `ip -json` prints one array per show command; split the concatenation. */
function splitJsonDocuments(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(JSON.parse(text.slice(start, i + 1)));
        start = -1;
      }
    }
  }
  return out;
}

export interface IpRunOptions {
  /** Run inside this netns (a path); the current one when absent. */
  readonly netnsPath?: string;
  readonly log: CniLogger;
  readonly timeoutMs?: number;
}

/** An executor of IpOps; the real one runs `ip`, tests may substitute a failing one. */
export interface IpRunner {
  run(ops: readonly IpOp[], opts: IpRunOptions): Promise<IpOpResult[]>;
}

export const realIpRunner: IpRunner = {
  async run(ops, opts) {
    if (ops.length === 0) return [];
    // -details for linkinfo (kind, bridge port data); note: a `link show` before an `addr show` in
    // one batch makes iproute2 6.1 print the second as a link show, so we only use addr show.
    const argv = ipInNetns(opts.netnsPath, ['-json', '-details', '-force', '-batch', '-']);
    const input = ops.map(formatIpOp).join('\n') + '\n';
    let res;
    try {
      res = await runCommand(argv, { input, timeoutMs: opts.timeoutMs ?? 20_000, log: opts.log });
    } catch (err) {
      if (err instanceof CommandError && err.code === 'command-timeout') throw new CniError('commandTimeout', err.message, { cause: err });
      throw err;
    }
    const results = parseBatchOutput(ops, res.stdout, res.stderr);
    if (res.exitCode !== 0 && results.every((r) => r.ok)) {
      // ip (or nsenter) failed before running any line: no per-line markers to go by.
      const where = opts.netnsPath === undefined ? '' : ` in netns ${opts.netnsPath}`;
      throw new CniError('linkFailed', `run ip batch${where}: ${res.stderr.trim() || `exit status ${res.exitCode}`}`);
    }
    return results;
  },
};

/** The first failed result not allowed by `tolerate`, as an error naming the operation. */
export function firstIpFailure(results: readonly IpOpResult[], tolerate: (r: IpOpResult) => boolean = () => false): IpOpResult | undefined {
  return results.find((r) => !r.ok && !tolerate(r));
}

export function ipFailureError(r: IpOpResult, where?: string): CniError {
  const kind = r.op.op === 'add-veth' && r.kind === 'exists' ? 'interfaceExists' : 'linkFailed';
  return new CniError(kind, `${formatIpOp(r.op)}${where === undefined ? '' : ` ${where}`}: ${r.message ?? 'failed'}`);
}
