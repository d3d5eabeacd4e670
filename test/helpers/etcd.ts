// A real single-member etcd for tests: loopback only, random free ports, its own temporary data
// directory. startEtcd() waits for /health; stop() ends exactly the process it started and removes
// the directory; restart() stops and starts the same member on the same ports and data. With `tls`,
// clients must use https and present a certificate signed by the given CA.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../common/wait.ts';

export interface EtcdServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly dataDir: string;
  readonly pid: number | undefined;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const ETCD = 'etcd';

/** The reason etcd tests cannot run here, or undefined when they can. */
export function etcdMissing(): string | undefined {
  const res = spawnSync(ETCD, ['--version'], { encoding: 'utf8' });
  if (res.error !== undefined || res.status !== 0) return 'needs etcd (Debian package etcd-server)';
  return undefined;
}

/** PEM files: etcd's serving certificate (valid for 127.0.0.1) and the CA that signs client certificates. */
export interface EtcdTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

export async function startEtcd(opts: { tls?: EtcdTls } = {}): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'moor-etcd-'));
  let lastError: unknown;
  // A port picked free can be taken before etcd binds it: try a few times with fresh ports.
  for (let attempt = 0; attempt < 3; attempt++) {
    const [clientPort, peerPort, metricsPort] = await freePorts(3);
    const member = new Member(dir, clientPort, peerPort, metricsPort, opts.tls);
    try {
      await member.start();
      return {
        endpoint: member.endpoint,
        dataDir: dir,
        get pid() {
          return member.pid;
        },
        restart: async () => {
          await member.stop();
          await member.start();
        },
        stop: async () => {
          await member.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err;
      await member.stop();
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

class Member {
  readonly endpoint: string;
  readonly healthBase: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly metricsPort: number,
    readonly tls: EtcdTls | undefined,
  ) {
    this.endpoint = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${clientPort}`;
    this.healthBase = `http://127.0.0.1:${metricsPort}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const argv = [
      '--name', 'moor-test',
      '--data-dir', join(this.dir, 'data'),
      // /health is also served on a plain loopback listener, so the wait needs no client certificate.
      '--listen-client-urls', this.endpoint,
      '--listen-metrics-urls', this.healthBase,
      '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `moor-test=${peer}`,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-level', 'warn',
      ...(this.tls === undefined
        ? []
        : ['--cert-file', this.tls.certFile, '--key-file', this.tls.keyFile, '--trusted-ca-file', this.tls.caFile, '--client-cert-auth']),
    ];
    const logPath = join(this.dir, 'etcd.log');
    const logFd = openSync(logPath, 'a');
    const child = spawn(ETCD, argv, { stdio: ['ignore', logFd, logFd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    closeSync(logFd);
    this.#child = child;
    let exitCode: number | null | undefined;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        exitCode = code;
        resolve();
      });
      child.once('error', () => resolve());
    });
    const healthUrl = `${this.healthBase}/health`;
    await waitFor(
      async () => {
        if (exitCode !== undefined) throw new Error(`etcd exited with ${exitCode}: ${tail(logPath)}`);
        const res = await fetch(healthUrl, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        return body.health === 'true';
      },
      { timeoutMs: 20_000, intervalMs: 100, what: `etcd health at ${healthUrl}` },
    ).catch((err: unknown) => {
      throw new Error(`start etcd on ${this.endpoint}: ${err instanceof Error ? err.message : String(err)}; log: ${tail(logPath)}`);
    });
  }

  /** SIGTERM the process we started, SIGKILL it after 5 s; resolves once it has exited. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(killer);
    }
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-2000);
  } catch {
    return '(no log)';
  }
}

/** Ports free on 127.0.0.1 right now, distinct. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve(srv));
    })),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('listen on 127.0.0.1:0: no port');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
