// Runs one subprocess for the plugin's boundary modules (ip.ts, iptables.ts, the IPAM delegate):
// stdin in, stdout/stderr out, a deadline, and a debug line with argv and duration. A non-zero exit
// is returned, not thrown: the caller owns the meaning of each tool's stderr.
//
// Speed matters here (bench/cni/README.md): loading node:child_process costs ~4 ms and its pipe
// streams ~1 ms per child, a quarter of our whole budget over Node's start. So the fast path spawns
// through Node's process_wrap binding (the handle child_process itself is built on) with stdio on
// unlinked temporary files in /dev/shm: input written before the start, output read after the exit,
// no streams. If that binding is unavailable or behaves differently (another Node version), the
// plugin falls back to child_process for the rest of the process. execa is not used: its import
// alone costs more than an ADD.

import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { CommandError } from '../../common/errors.ts';
import { elapsedMs, msSinceStart } from '../clock.ts';
import type { CniLogger } from '../log.ts';

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

export interface ExecOptions {
  readonly input?: string;
  /** Content the child can read from its fd 3 (e.g. as /dev/fd/3), for a second input. */
  readonly extraInput?: string;
  readonly timeoutMs: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly log: CniLogger;
}

/** Directories searched after the caller's PATH: runtimes often start plugins with a short PATH. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
let childEnv: Record<string, string | undefined> | undefined;

function defaultEnv(): Record<string, string | undefined> {
  if (childEnv === undefined) {
    const path = process.env.PATH;
    // LC_ALL=C: the tools' stderr is matched in English (and they skip loading locale files)
    childEnv = { ...process.env, PATH: path === undefined || path === '' ? SYSTEM_PATH : `${path}:${SYSTEM_PATH}`, LC_ALL: 'C' };
  }
  return childEnv;
}

/** Resolve a bare command name against PATH (libuv's own lookup would use our PATH, not the child's). */
function resolveCommand(cmd: string, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (cmd.includes('/')) return cmd;
  for (const dir of (env.PATH ?? SYSTEM_PATH).split(':')) {
    // existsSync first: accessSync throws for every directory without the command, and building
    // those exceptions is most of the cost of a lookup
    if (dir === '' || !existsSync(`${dir}/${cmd}`)) continue;
    try {
      accessSync(`${dir}/${cmd}`, constants.X_OK);
      return `${dir}/${cmd}`;
    } catch {
      continue; // not in this directory: try the next one
    }
  }
  return undefined;
}

/** Is `cmd` an executable in PATH (or the system directories)? For STATUS. */
export function isInPath(cmd: string): boolean {
  return resolveCommand(cmd, defaultEnv()) !== undefined;
}

let defaultEnvPairs: string[] | undefined;

/** The environment as process_wrap takes it; built once for the default environment. */
function envPairsOf(env: Readonly<Record<string, string | undefined>>): string[] {
  const isDefault = env === childEnv;
  if (isDefault && defaultEnvPairs !== undefined) return defaultEnvPairs;
  const pairs = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  if (isDefault) defaultEnvPairs = pairs;
  return pairs;
}

interface ProcessHandle {
  onexit: (exitCode: number, signal: string | number | null) => void;
  spawn(options: object): number;
  kill(signal: number): number;
  close(): void;
}

type ProcessCtor = new () => ProcessHandle;

let processCtor: ProcessCtor | null | undefined;
let scratchDir: string | undefined;

function fastProcess(): ProcessCtor | null {
  if (processCtor !== undefined) return processCtor;
  processCtor = null;
  if (process.env.MOOR_CNI_EXEC === 'child_process') return null;
  try {
    const binding = (process as unknown as { binding(name: string): { Process?: unknown } }).binding('process_wrap');
    if (typeof binding.Process === 'function') processCtor = binding.Process as ProcessCtor;
  } catch {
    processCtor = null; // not available in this Node: child_process it is
  }
  return processCtor;
}

function tempDir(): string {
  if (scratchDir === undefined) {
    try {
      accessSync('/dev/shm', constants.W_OK);
      scratchDir = '/dev/shm';
    } catch {
      scratchDir = process.env.TMPDIR || '/tmp';
    }
  }
  return scratchDir;
}

/** An open, already unlinked scratch file. */
function scratchFile(): number {
  for (let attempt = 0; ; attempt++) {
    const path = `${tempDir()}/.moor-bridge-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      const fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
      return fd;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 5) throw err;
    }
  }
}

/** A scratch file holding `text`, positioned at its start. */
function inputFile(text: string): number {
  const fd = scratchFile();
  if (text !== '') writeSync(fd, text, 0, 'utf8'); // pwrite: offset stays 0
  return fd;
}

function readAll(fd: number): string {
  const size = fstatSync(fd).size;
  if (size === 0) return '';
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.toString('utf8', 0, off);
}

const ERRNO_NAMES: Record<number, string> = { [-2]: 'ENOENT', [-13]: 'EACCES', [-8]: 'ENOEXEC', [-12]: 'ENOMEM', [-11]: 'EAGAIN' };

function runFast(Ctor: ProcessCtor, argv: readonly string[], opts: ExecOptions): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const env = opts.env ?? defaultEnv();
    const file = resolveCommand(argv[0]!, env);
    if (file === undefined) {
      reject(new CommandError({ message: `run ${argv[0]}: not found in PATH`, argv }));
      return;
    }
    const fds = [scratchFile(), scratchFile(), scratchFile()];
    if (opts.extraInput !== undefined) fds.push(inputFile(opts.extraInput));
    const closeAll = (): void => {
      for (const fd of fds) closeSync(fd);
    };
    if (opts.input !== undefined && opts.input !== '') writeSync(fds[0]!, opts.input, 0, 'utf8'); // pwrite: offset stays 0
    const child = new Ctor();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill(9);
    }, opts.timeoutMs);
    child.onexit = (exitCode, signal) => {
      clearTimeout(timer);
      child.close();
      try {
        const stdout = readAll(fds[1]!);
        const stderr = readAll(fds[2]!);
        resolve({ exitCode: signal ? 128 : exitCode, stdout, stderr, timedOut });
      } catch (err) {
        reject(err);
      } finally {
        closeAll();
      }
    };
    const envPairs = envPairsOf(env);
    let rc: number;
    try {
      rc = child.spawn({
        file,
        args: [...argv],
        envPairs,
        stdio: fds.map((fd) => ({ type: 'fd', fd })),
        detached: false,
        windowsHide: false,
        windowsVerbatimArguments: false,
      });
    } catch (err) {
      // The binding's contract changed under us: use child_process from now on.
      clearTimeout(timer);
      closeAll();
      processCtor = null;
      opts.log.warn({ err }, 'process_wrap spawn failed, falling back to child_process');
      runWithChildProcess(argv, opts).then(resolve, reject);
      return;
    }
    if (rc !== 0) {
      clearTimeout(timer);
      child.close();
      closeAll();
      reject(new CommandError({ message: `run ${argv[0]}: ${ERRNO_NAMES[rc] ?? `error ${rc}`}`, argv }));
    }
  });
}

async function runWithChildProcess(argv: readonly string[], opts: ExecOptions): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean }> {
  const { spawn } = await import('node:child_process');
  const extra = opts.extraInput === undefined ? undefined : inputFile(opts.extraInput);
  return new Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean }>((resolve, reject) => {
    const stdio: ('pipe' | number)[] = ['pipe', 'pipe', 'pipe', ...(extra === undefined ? [] : [extra])];
    const child = spawn(argv[0]!, argv.slice(1), { stdio, env: opts.env ?? defaultEnv() });
    // the first three are pipes (above), so these streams exist
    const [stdin, stdout, stderr] = [child.stdin!, child.stdout!, child.stderr!];
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    stdout.on('data', (d: Buffer) => out.push(d));
    stderr.on('data', (d: Buffer) => err.push(d));
    // EPIPE when the child exits without reading stdin is not our failure; its exit status tells.
    stdin.on('error', () => undefined);
    child.on('error', (cause) => {
      clearTimeout(timer);
      reject(new CommandError({ message: `run ${argv[0]}: ${cause.message}`, argv, cause }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? 128, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    stdin.end(opts.input ?? '');
  }).finally(() => {
    if (extra !== undefined) closeSync(extra);
  });
}

export async function runCommand(argv: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const started = msSinceStart();
  const Ctor = fastProcess();
  const res = Ctor === null ? await runWithChildProcess(argv, opts) : await runFast(Ctor, argv, opts);
  const durationMs = elapsedMs(started);
  opts.log.debug({ argv, exitCode: res.exitCode, durationMs }, 'command finished');
  if (res.timedOut) {
    throw new CommandError({ code: 'command-timeout', message: `run ${argv.join(' ')}: timed out after ${opts.timeoutMs} ms`, argv, stderr: res.stderr });
  }
  return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr, durationMs };
}
