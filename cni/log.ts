// The plugin's logger: pino's JSON line format (level numbers, time, pid, hostname, name, msg), written
// with one synchronous append per line to a file, never to stdout (stdout belongs to the protocol).
// Not pino itself: loading pino costs more than the whole rest of an ADD (see bench/cni/README.md),
// and one process writes a handful of lines. Lines from concurrent plugins interleave whole (O_APPEND).

import { openSync, readFileSync, writeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity };

export interface CniLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: object): CniLogger;
  readonly level: LogLevel;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(LEVELS, value);
}

interface Sink {
  write(line: string): void;
}

class LineLogger implements CniLogger {
  readonly #sink: Sink;
  readonly #min: number;
  readonly #prefix: string;
  readonly level: LogLevel;

  constructor(sink: Sink, level: LogLevel, prefix: string) {
    this.#sink = sink;
    this.level = level;
    this.#min = LEVELS[level];
    this.#prefix = prefix;
  }

  #log(level: number, obj: object, msg: string): void {
    if (level < this.#min) return;
    let body = JSON.stringify({ ...obj, msg }, replacer);
    body = body.length > 2 ? ',' + body.slice(1) : '}';
    this.#sink.write(`{"level":${level},"time":${Date.now()}${this.#prefix}${body}\n`);
  }

  debug(obj: object, msg: string): void { this.#log(20, obj, msg); }
  info(obj: object, msg: string): void { this.#log(30, obj, msg); }
  warn(obj: object, msg: string): void { this.#log(40, obj, msg); }
  error(obj: object, msg: string): void { this.#log(50, obj, msg); }

  child(bindings: object): CniLogger {
    const extra = JSON.stringify(bindings, replacer);
    return new LineLogger(this.#sink, this.level, extra.length > 2 ? this.#prefix + ',' + extra.slice(1, -1) : this.#prefix);
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** A file sink opened on first write; if the file cannot be opened, one line on stderr says so. */
function fileSink(path: string): Sink {
  let fd: number | undefined;
  let failed = false;
  return {
    write(line) {
      if (failed) return;
      try {
        if (fd === undefined) {
          mkdirSync(dirname(path), { recursive: true });
          fd = openSync(path, 'a', 0o640);
        }
        writeSync(fd, line);
      } catch (err) {
        // The log must never break the protocol: report once on stderr and stop logging.
        failed = true;
        process.stderr.write(`moor-bridge: open log file ${path}: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    },
  };
}

/**
 * The host name as os.hostname() gives it (the UTS namespace's), read from procfs: loading node:os
 * only for this costs a few tenths of a millisecond at every plugin start.
 */
function hostname(): string {
  try {
    return readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
  } catch {
    return ''; // no procfs: log lines go without a host name rather than not at all
  }
}

export function createCniLogger(opts: { file?: string; level: LogLevel; sink?: Sink }): CniLogger {
  const sink = opts.sink ?? (opts.file !== undefined && opts.level !== 'silent' ? fileSink(opts.file) : { write() {} });
  const prefix = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())},"name":"moor-bridge"`;
  return new LineLogger(sink, opts.level, prefix);
}

export function silentCniLogger(): CniLogger {
  return createCniLogger({ level: 'silent' });
}

/** A logger collecting lines in memory, for tests. */
export function memoryCniLogger(level: LogLevel = 'debug'): { log: CniLogger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const log = createCniLogger({ level, sink: { write: (line) => raw.push(line) } });
  return { log, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
