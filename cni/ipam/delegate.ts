// Delegated IPAM: run the plugin named by ipam.type, found in CNI_PATH, with our environment (the
// command as given) and the full network config on stdin, as the spec describes. Its success result
// is parsed with our result parser; its error object is passed on with its own code.

import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CommandError } from '../../common/errors.ts';
import { CniError } from '../errors.ts';
import type { CniLogger } from '../log.ts';
import { runCommand } from '../net/exec.ts';
import { type CniResult, parseResult } from '../result.ts';
import type { CniCommand } from '../skel.ts';

export interface DelegateOptions {
  readonly type: string;
  readonly command: CniCommand;
  readonly cniPath: readonly string[];
  /** the network config exactly as we received it */
  readonly stdin: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: CniLogger;
  readonly timeoutMs?: number;
}

export function findPlugin(type: string, cniPath: readonly string[]): string {
  if (cniPath.length === 0) throw new CniError('invalidEnvironment', `find IPAM plugin ${type}: CNI_PATH is empty`);
  for (const dir of cniPath) {
    const path = join(dir, type);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory (or not executable): try the next one
      continue;
    }
  }
  throw new CniError('invalidConfig', `find IPAM plugin ${type}: not found in CNI_PATH ${cniPath.join(':')}`);
}

/** Run the delegate; returns its parsed result for ADD, undefined for commands without output. */
export async function runDelegate(opts: DelegateOptions): Promise<CniResult | undefined> {
  const path = findPlugin(opts.type, opts.cniPath);
  const env: Record<string, string | undefined> = { ...opts.env, CNI_COMMAND: opts.command };
  let res;
  try {
    res = await runCommand([path], { input: opts.stdin, env, timeoutMs: opts.timeoutMs ?? 60_000, log: opts.log });
  } catch (err) {
    if (err instanceof CommandError && err.code === 'command-timeout') throw new CniError('commandTimeout', `IPAM plugin ${opts.type} ${opts.command}: ${err.message}`);
    throw new CniError('delegateFailed', `run IPAM plugin ${path}: ${(err as Error).message}`);
  }
  if (res.exitCode !== 0) {
    let parsed: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
    try {
      parsed = JSON.parse(res.stdout) as typeof parsed;
    } catch {
      parsed = undefined; // not an error object: report the raw output below
    }
    if (parsed !== undefined && typeof parsed.code === 'number') {
      const msg = `IPAM plugin ${opts.type} ${opts.command}: ${typeof parsed.msg === 'string' ? parsed.msg : 'failed'}`;
      throw CniError.fromDelegate(parsed.code, msg, typeof parsed.details === 'string' ? parsed.details : undefined);
    }
    throw new CniError('delegateFailed', `IPAM plugin ${opts.type} ${opts.command}: exit status ${res.exitCode}: ${(res.stderr || res.stdout).trim()}`);
  }
  if (opts.command !== 'ADD') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(res.stdout);
  } catch (err) {
    throw new CniError('decodingFailure', `decode IPAM plugin ${opts.type} result: ${(err as Error).message}`);
  }
  return parseResult(json, `result of IPAM plugin ${opts.type}`);
}
