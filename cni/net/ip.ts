// The iproute2 boundary: the only module that spells `ip` command lines. Callers describe operations
// as data (IpOp); run() sends them all through one `ip -batch -` process (inside a netns when
// asked), with -force so every line runs and each line's outcome is reported on its own: stderr's
// "Command failed -:N" markers tell which lines failed and with what message, mapped to
// exists / notFound / other. Show operations print JSON (-json -details) returned in op order.
// runPair() does a batch inside a pod netns and then a host batch, in one `ip` process when the
// netns has a name: each process the plugin forks costs it about a millisecond of CPU.

import { CommandError } from '../../common/errors.ts';
import { CniError } from '../errors.ts';
import type { CniLogger } from '../log.ts';
import { runCommand } from './exec.ts';
import { ipInNetns, namedNetns } from './netns.ts';

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

/** 'skipped': not run, because an earlier operation of a batch that stops at a failure failed */
export type IpFailureKind = 'exists' | 'notFound' | 'other' | 'skipped';

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
 * The failed lines of a batch by source (`-` for stdin, the file name for `-batch FILE`): stderr
 * holds each failing line's messages followed by "Command failed <source>:<line>".
 */
function failureMarkers(stderr: string): Map<string, Map<number, string>> {
  const bySource = new Map<string, Map<number, string>>();
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    const m = /^Command failed (.+):(\d+)$/.exec(line);
    if (m !== null) {
      let lines = bySource.get(m[1]!);
      if (lines === undefined) bySource.set(m[1]!, (lines = new Map()));
      lines.set(Number(m[2]), pending.join('; '));
      pending = [];
    } else if (line !== '') {
      pending.push(line);
    }
  }
  return bySource;
}

/**
 * Per-line results from failure markers and the JSON documents of show lines (taken from `docs` in
 * order). With `stops`, the batch ran without -force: the lines after the first failure did not run.
 */
function resultsOf(ops: readonly IpOp[], failures: ReadonlyMap<number, string> | undefined, docs: unknown[], stops: boolean): IpOpResult[] {
  let stopped = false;
  return ops.map((op, i): IpOpResult => {
    if (stopped) return { op, ok: false, kind: 'skipped', message: 'not run: an earlier operation failed' };
    const failure = failures?.get(i + 1);
    if (failure !== undefined) {
      stopped = stops;
      return { op, ok: false, kind: classifyIpError(failure), message: failure };
    }
    if (isShow(op)) return { op, ok: true, json: docs.shift() ?? [] };
    return { op, ok: true };
  });
}

/**
 * Split -force batch output into per-line results (pure). stderr holds each failing line's messages
 * followed by "Command failed -:N"; stdout holds one JSON document per successful show line.
 */
export function parseBatchOutput(ops: readonly IpOp[], stdout: string, stderr: string): IpOpResult[] {
  return resultsOf(ops, failureMarkers(stderr).get('-'), splitJsonDocuments(stdout), false);
}

/** Where the pod batch of a nested run reads its lines (fd 3 of the `ip` process, inherited). */
export const NESTED_BATCH_FILE = '/dev/fd/3';

/**
 * The output of one `ip -force -batch -` whose first line, `netns exec NAME ip -batch FILE`, ran
 * the pod batch without -force, followed by the host lines (pure). The pod lines' markers name
 * FILE, the host lines' `-` (numbered from 2); a failure of the netns exec line with no pod marker
 * means the pod batch never started (e.g. no such netns): its first operation carries that message.
 * The pod batch ran first, so its JSON documents come first.
 */
export function parseNestedOutput(podOps: readonly IpOp[], hostOps: readonly IpOp[], stdout: string, stderr: string): IpPairResult {
  const markers = failureMarkers(stderr);
  const docs = splitJsonDocuments(stdout);
  const outer = markers.get('-') ?? new Map<number, string>();
  const execFailure = outer.get(1);
  let podFailures = markers.get(NESTED_BATCH_FILE);
  if (podFailures === undefined && execFailure !== undefined) podFailures = new Map([[1, execFailure || 'the pod batch did not run']]);
  const pod = resultsOf(podOps, podFailures, docs, true);
  const hostFailures = new Map([...outer].filter(([line]) => line > 1).map(([line, message]) => [line - 1, message]));
  return { pod, host: resultsOf(hostOps, hostFailures, docs, false) };
}

/**
 * `ip -json` prints one array per show command, each on one line (strings inside are escaped):
 * parse line by line, and only if that fails scan for the documents' boundaries character by
 * character (slow in the interpreter, where the plugin's short life keeps every function).
 */
function splitJsonDocuments(text: string): unknown[] {
  try {
    return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
  } catch {
    return scanJsonDocuments(text); // not one document per line: find the boundaries the slow way
  }
}

function scanJsonDocuments(text: string): unknown[] {
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

export interface IpPairResult {
  readonly pod: IpOpResult[];
  readonly host: IpOpResult[];
}

/** An executor of IpOps; the real one runs `ip`, tests may substitute a failing one. */
export interface IpRunner {
  run(ops: readonly IpOp[], opts: IpRunOptions): Promise<IpOpResult[]>;
  /**
   * `pod.ops` inside the netns at `pod.netnsPath`, which stop at the first one that fails (the
   * later ones come back 'skipped', so a pod batch can guard itself with its first operation), then
   * `hostOps` in this netns as run() runs them (every line, whatever the pod batch did).
   */
  runPair(pod: { readonly netnsPath: string; readonly ops: readonly IpOp[] }, hostOps: readonly IpOp[], opts: IpRunOptions): Promise<IpPairResult>;
}

// -details for linkinfo (kind, bridge port data); note: a `link show` before an `addr show` in one
// batch makes iproute2 6.1 print the second as a link show, so we only use addr show.
const BATCH_FLAGS = ['-json', '-details', '-force', '-batch', '-'];

function batchText(ops: readonly IpOp[]): string {
  return ops.map(formatIpOp).join('\n') + '\n';
}

async function runIp(argv: readonly string[], input: string, opts: IpRunOptions, extraInput?: string) {
  try {
    return await runCommand(argv, { input, timeoutMs: opts.timeoutMs ?? 20_000, log: opts.log, ...(extraInput === undefined ? {} : { extraInput }) });
  } catch (err) {
    if (err instanceof CommandError && err.code === 'command-timeout') throw new CniError('commandTimeout', err.message, { cause: err });
    throw err;
  }
}

/** ip (or nsenter) failed before running any line: no per-line markers to go by. */
function batchDidNotRun(netnsPath: string | undefined, res: { exitCode: number; stderr: string }): CniError {
  const where = netnsPath === undefined ? '' : ` in netns ${netnsPath}`;
  return new CniError('linkFailed', `run ip batch${where}: ${res.stderr.trim() || `exit status ${res.exitCode}`}`);
}

export const realIpRunner: IpRunner = {
  async run(ops, opts) {
    if (ops.length === 0) return [];
    const res = await runIp(ipInNetns(opts.netnsPath, BATCH_FLAGS), batchText(ops), opts);
    const results = parseBatchOutput(ops, res.stdout, res.stderr);
    if (res.exitCode !== 0 && results.every((r) => r.ok)) throw batchDidNotRun(opts.netnsPath, res);
    return results;
  },

  async runPair(pod, hostOps, opts) {
    const name = namedNetns(pod.netnsPath);
    if (name === undefined || opts.netnsPath !== undefined || pod.ops.length === 0) {
      // `ip netns exec` reaches named namespaces only: two processes, the pod's through nsenter.
      let inPod: IpOpResult[] = [];
      if (pod.ops.length > 0) {
        const res = await runIp(ipInNetns(pod.netnsPath, ['-json', '-details', '-batch', '-']), batchText(pod.ops), opts);
        inPod = resultsOf(pod.ops, failureMarkers(res.stderr).get('-'), splitJsonDocuments(res.stdout), true);
        if (res.exitCode !== 0 && inPod.every((r) => r.ok)) throw batchDidNotRun(pod.netnsPath, res);
      }
      return { pod: inPod, host: await this.run(hostOps, opts) };
    }
    // One process: the host batch's first line forks the pod batch inside the netns, reading its
    // lines from fd 3 (iproute2 forks for `netns exec` in batch mode and waits for it).
    const nested = `netns exec ${name} ip -json -details -batch ${NESTED_BATCH_FILE}`;
    const res = await runIp(['ip', ...BATCH_FLAGS], nested + '\n' + batchText(hostOps), opts, batchText(pod.ops));
    const out = parseNestedOutput(pod.ops, hostOps, res.stdout, res.stderr);
    if (res.exitCode !== 0 && out.host.every((r) => r.ok) && out.pod.every((r) => r.ok)) throw batchDidNotRun(undefined, res);
    return out;
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
