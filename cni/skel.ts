// The plugin's side of the invocation protocol: the CNI_* environment variables declared in one table
// (which command needs which, how each is validated), CNI_ARGS parsing, and the I/O seam (env, stdin,
// stdout, stderr) so the whole plugin runs in-process in tests. Pure except readStdin in nodeIo.

import { readSync, writeSync } from 'node:fs';
import { CniError } from './errors.ts';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'] as const;
export type CniCommand = (typeof COMMANDS)[number];

export interface Invocation {
  readonly command: CniCommand;
  readonly containerId: string;
  readonly netnsPath: string;
  readonly ifName: string;
  readonly args: ReadonlyMap<string, string>;
  readonly cniPath: readonly string[];
}

type Validator = (value: string) => string | undefined;

interface EnvSpec {
  readonly name: string;
  readonly field: 'containerId' | 'netnsPath' | 'ifName' | 'args' | 'cniPath';
  readonly requiredFor: readonly CniCommand[];
  readonly validate?: Validator;
}

const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Linux interface name rules, plus the characters our batch lines and rule comments cannot carry. */
export function validateIfName(name: string): string | undefined {
  if (name.length > 15) return `interface name ${JSON.stringify(name)} is longer than 15 characters`;
  if (name === '.' || name === '..') return `interface name ${JSON.stringify(name)} is not allowed`;
  const bad = /[^A-Za-z0-9_.@+-]/.exec(name);
  if (bad !== null) return `interface name ${JSON.stringify(name)} contains ${JSON.stringify(bad[0])}`;
  return undefined;
}

export const ENV_TABLE: readonly EnvSpec[] = [
  {
    name: 'CNI_CONTAINERID',
    field: 'containerId',
    requiredFor: ['ADD', 'DEL', 'CHECK'],
    validate: (v) => (v.length > 160 ? `container id is longer than 160 characters` : CONTAINER_ID_RE.test(v) ? undefined : `container id ${JSON.stringify(v)} has invalid characters`),
  },
  {
    name: 'CNI_NETNS',
    field: 'netnsPath',
    requiredFor: ['ADD', 'CHECK'],
    validate: (v) => (v.startsWith('/') && !/[\s"'#\\]/.test(v) ? undefined : `netns path ${JSON.stringify(v)} must be an absolute path without blanks or quotes`),
  },
  { name: 'CNI_IFNAME', field: 'ifName', requiredFor: ['ADD', 'DEL', 'CHECK'], validate: validateIfName },
  { name: 'CNI_ARGS', field: 'args', requiredFor: [] },
  { name: 'CNI_PATH', field: 'cniPath', requiredFor: [] },
];

/** CNI_ARGS: "K=V;K2=V2". Keys are kept as given. */
export function parseCniArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  if (text === '') return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CniError('invalidEnvironment', `CNI_ARGS: invalid pair ${JSON.stringify(pair)}, want KEY=VALUE`);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/** Read and validate the environment; errors are the spec's code 4 naming the variable. */
export function parseEnvironment(env: Readonly<Record<string, string | undefined>>): Invocation {
  const command = env.CNI_COMMAND;
  if (command === undefined || command === '') throw new CniError('invalidEnvironment', 'read CNI_COMMAND: missing');
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError('invalidEnvironment', `read CNI_COMMAND: unknown command ${JSON.stringify(command)}, want one of ${COMMANDS.join(', ')}`);
  }
  const cmd = command as CniCommand;
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const spec of ENV_TABLE) {
    const value = env[spec.name] ?? '';
    if (value === '') {
      if (spec.requiredFor.includes(cmd)) missing.push(spec.name);
      continue;
    }
    if (spec.requiredFor.includes(cmd) || spec.field === 'args' || spec.field === 'cniPath') {
      const problem = spec.validate?.(value);
      if (problem !== undefined) throw new CniError('invalidEnvironment', `read ${spec.name}: ${problem}`);
    }
    values[spec.field] = value;
  }
  if (missing.length > 0) throw new CniError('invalidEnvironment', `read environment: ${missing.join(', ')} missing for ${cmd}`);
  return {
    command: cmd,
    containerId: values.containerId ?? '',
    netnsPath: values.netnsPath ?? '',
    ifName: values.ifName ?? '',
    args: parseCniArgs(values.args ?? ''),
    cniPath: (values.cniPath ?? '').split(':').filter((p) => p !== ''),
  };
}

/** Everything the plugin reads and writes from the outside, injectable for in-process tests. */
export interface PluginIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readStdin(): string;
  writeStdout(text: string): void;
}

/** Read all of fd 0; a non-blocking stdin (EAGAIN) is waited on in short sleeps. */
function readStdinSync(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
        continue;
      }
      if (code === 'EOF' || code === 'EBADF') break; // no stdin at all reads as empty
      throw new CniError('ioFailure', `read stdin: ${(err as Error).message}`);
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** fd 1 written directly: process.stdout would build a stream (~1 ms) for one line. */
function writeStdoutSync(text: string): void {
  const data = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(1, data, off, data.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}

export function nodeIo(): PluginIo {
  return { env: process.env, readStdin: readStdinSync, writeStdout: writeStdoutSync };
}
