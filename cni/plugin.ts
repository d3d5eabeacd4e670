// The plugin behind the executable: environment + stdin -> command -> result JSON on stdout, or the
// spec's error object with a non-zero exit; the only place that prints errors. runPlugin() takes its
// I/O and boundaries as arguments so tests run the whole plugin in-process; main.ts only calls it.
// Kept free of heavy imports: start-up time is most of the plugin's latency (bench/cni/README.md).

import { addBridge, checkBridge, delBridge, gcBridge, statusBridge, type BridgeDeps } from './bridge.ts';
import { msSinceStart } from './clock.ts';
import { decodeConfig, parseBridgeConf, DEFAULT_LOG_FILE, type BridgeConf } from './config.ts';
import { CniError, formatCniError, toCniError } from './errors.ts';
import { createIpam } from './ipam/ipam.ts';
import { type CniLogger, createCniLogger, isLogLevel } from './log.ts';
import { isInPath } from './net/exec.ts';
import { realIpRunner } from './net/ip.ts';
import { IptablesFirewall } from './net/iptables.ts';
import { requireNetns } from './net/netns.ts';
import { procSysctl } from './net/sysctl.ts';
import { formatResult } from './result.ts';
import { type Invocation, type PluginIo, parseEnvironment } from './skel.ts';
import { atLeast, LATEST_VERSION, SUPPORTED_VERSIONS } from './version.ts';

export interface PluginOverrides {
  /** replace boundaries (tests inject failing ones); built from the config when absent */
  readonly deps?: (log: CniLogger) => Partial<BridgeDeps>;
  readonly log?: CniLogger;
  /** replaces the check that CNI_NETNS is a network namespace (unit tests run without one) */
  readonly requireNetns?: (path: string) => void;
}

function versionAnswer(stdin: string): string {
  let requested = LATEST_VERSION;
  if (stdin.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdin);
    } catch (err) {
      throw new CniError('decodingFailure', `decode version request: ${(err as Error).message}`);
    }
    const v = (parsed as { cniVersion?: unknown } | null)?.cniVersion;
    if (typeof v === 'string' && v !== '') requested = v;
  }
  return JSON.stringify({ cniVersion: requested, supportedVersions: SUPPORTED_VERSIONS });
}

function requireVersion(conf: BridgeConf, command: string, minimum: string): void {
  if (!atLeast(conf.cniVersion, minimum)) {
    throw new CniError('incompatibleVersion', `config version ${conf.cniVersion} does not allow ${command} (needs ${minimum} or later)`);
  }
}

function earlyLogger(env: PluginIo['env']): CniLogger {
  const level = env.MOOR_LOG_LEVEL;
  return createCniLogger({ file: env.MOOR_CNI_LOG_FILE || DEFAULT_LOG_FILE, level: isLogLevel(level) ? level : 'info' });
}

/** Run one plugin invocation; returns the exit status. */
export async function runPlugin(io: PluginIo, overrides: PluginOverrides = {}): Promise<number> {
  // counted from the process's start: this is Node's start-up plus module loading
  const started = msSinceStart();
  const startCpu = process.cpuUsage();
  let cniVersion: string | undefined;
  let log: CniLogger | undefined = overrides.log;
  let inv: Invocation | undefined;
  try {
    inv = parseEnvironment(io.env);
    const stdin = io.readStdin();
    if (inv.command === 'VERSION') {
      io.writeStdout(versionAnswer(stdin) + '\n');
      return 0;
    }
    const raw = decodeConfig(stdin);
    if (typeof raw.cniVersion === 'string') cniVersion = raw.cniVersion;
    const conf = parseBridgeConf(raw, io.env);
    log ??= createCniLogger({ file: conf.logFile, level: conf.logLevel });
    if (conf.logLevel === 'debug') log.debug({ startCpuMs: Math.round((startCpu.user + startCpu.system) / 100) / 10, startupMs: Math.round(started) }, 'started');
    log = log.child({ cmd: inv.command, network: conf.name, ...(inv.containerId === '' ? {} : { containerId: inv.containerId, ifName: inv.ifName }) });
    const realLog = log;
    const custom = overrides.deps?.(realLog) ?? {};
    const deps: BridgeDeps = {
      ip: custom.ip ?? realIpRunner,
      firewall: custom.firewall ?? new IptablesFirewall(realLog),
      sysctl: custom.sysctl ?? procSysctl,
      log: realLog,
      ...(custom.random === undefined ? {} : { random: custom.random }),
    };
    const input = { conf, inv, ipam: createIpam({ conf, inv, stdin, env: io.env, log: realLog }) };
    switch (inv.command) {
      case 'ADD': {
        (overrides.requireNetns ?? requireNetns)(inv.netnsPath);
        const result = await addBridge(input, deps);
        io.writeStdout(JSON.stringify(formatResult(result, conf.cniVersion)) + '\n');
        break;
      }
      case 'DEL':
        await delBridge(input, deps);
        break;
      case 'CHECK':
        requireVersion(conf, 'CHECK', '0.4.0');
        (overrides.requireNetns ?? requireNetns)(inv.netnsPath);
        await checkBridge(input, deps);
        break;
      case 'GC':
        requireVersion(conf, 'GC', '1.1.0');
        await gcBridge(input, deps);
        break;
      case 'STATUS':
        requireVersion(conf, 'STATUS', '1.1.0');
        await statusBridge(input, deps, isInPath);
        break;
      default: {
        const never: never = inv.command;
        throw new Error(`unhandled command ${String(never)}`);
      }
    }
    const cpu = process.cpuUsage();
    log.info({ durationMs: Math.round(msSinceStart() - started), startupMs: Math.round(started), cpuMs: Math.round((cpu.user + cpu.system) / 1000) }, `${inv.command} done`);
    return 0;
  } catch (err) {
    const e = toCniError(err);
    log ??= earlyLogger(io.env);
    log.error({ code: e.cniCode, err: e.message, details: e.details || undefined, durationMs: Math.round(msSinceStart() - started) }, `${inv?.command ?? 'command'} failed`);
    io.writeStdout(formatCniError(e, cniVersion) + '\n');
    return 1;
  }
}
