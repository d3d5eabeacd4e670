// Test harness for the API server: runs `moor server` as a child process on 127.0.0.1 with a free
// port and a temporary data dir, and talks to it over HTTPS with the admin (or any) token. stop()
// ends exactly the process it started; kill() SIGKILLs it (durability tests); restart() starts it
// again on the same data dir.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export const REPO = resolve(import.meta.dirname, '../../../..');
const CLI = join(REPO, 'cli/moor.ts');

export interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly body: any;
}

export interface RequestInit {
  readonly method?: string;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
  /** undefined = admin token; null = no Authorization header; a string = that token. */
  readonly token?: string | null;
  readonly raw?: Buffer;
}

export interface WatchStream {
  /** Events received so far. */
  readonly events: any[];
  /** Resolves with the status code once headers arrive. */
  readonly headers: Promise<number>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  next(count: number, timeoutMs?: number): Promise<any[]>;
  close(): void;
}

function bodyBytes(init: RequestInit): Buffer {
  if (init.raw !== undefined) return init.raw;
  return Buffer.from(typeof init.body === 'string' ? init.body : JSON.stringify(init.body));
}

export class ServerProcess {
  readonly dataDir: string;
  readonly #ownsDir: boolean;
  readonly #extraArgs: readonly string[];
  readonly #env: Record<string, string>;
  readonly #useDist: boolean;
  readonly #nodeArgs: readonly string[];
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';
  port = 0;
  ca = '';
  adminToken = '';

  /** `useDist`: run the built dist/moor.mjs (as users do) instead of the sources through tsx. */
  constructor(opts: { dataDir?: string; args?: readonly string[]; env?: Record<string, string>; useDist?: boolean; nodeArgs?: readonly string[] } = {}) {
    this.#nodeArgs = opts.nodeArgs ?? [];
    // `moor server` runs its scheduler and controllers by default. Tests of the API server itself
    // want nobody else changing their objects: they run it without them unless they say otherwise.
    this.#env = { MOOR_CONTROLPLANE_ARGS: '--disable-scheduler --disable-controller-manager', ...opts.env };
    this.#useDist = opts.useDist ?? false;
    this.#ownsDir = opts.dataDir === undefined;
    this.dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'moor-apiserver-'));
    this.#extraArgs = opts.args ?? [];
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get kubeconfig(): string {
    return join(this.dataDir, 'admin.kubeconfig');
  }

  get logs(): string {
    return this.#stderr;
  }

  async start(): Promise<void> {
    const entry = this.#useDist ? [join(REPO, 'dist/moor.mjs')] : ['--import', 'tsx', CLI];
    const child = spawn(process.execPath, [...this.#nodeArgs, ...entry, 'server', '--data-dir', this.dataDir, '--bind-address', '127.0.0.1', '--secure-port', '0', ...this.#extraArgs], {
      cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MOOR_LOG_LEVEL: process.env.MOOR_LOG_LEVEL ?? 'warn', ...this.#env },
    });
    this.#child = child;
    this.#stderr = '';
    child.stderr!.on('data', (d: Buffer) => { this.#stderr += d.toString(); });
    this.#exited = new Promise((res) => child.once('exit', () => res()));
    const line = await new Promise<string>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error(`moor server did not start in 30 s: ${this.#stderr.slice(-2000)}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) { clearTimeout(timer); res(out.slice(0, nl)); }
      });
      child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`moor server exited with ${code}: ${this.#stderr.slice(-2000)}`)); });
    });
    this.port = (JSON.parse(line) as { port: number }).port;
    const kc = parseYaml(readFileSync(this.kubeconfig, 'utf8')) as any;
    this.ca = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
    this.adminToken = kc.users[0].user.token;
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await this.#exited;
      clearTimeout(killer);
    }
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    child.kill('SIGKILL');
    await this.#exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stop and remove the temporary data dir (if we made it). */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.#ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** `moor server token create --node NAME` against this data dir. */
  createNodeToken(node: string): string {
    const res = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'server', 'token', 'create', '--node', node, '--data-dir', this.dataDir], { cwd: REPO, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`token create failed: ${res.stderr}`);
    return res.stdout.trim();
  }

  #options(path: string, init: RequestInit): RequestOptions {
    const headers: Record<string, string> = {};
    const token = init.token === undefined ? this.adminToken : init.token;
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    if (init.accept !== undefined) headers.Accept = init.accept;
    if (init.body !== undefined || init.raw !== undefined) {
      headers['Content-Type'] = init.contentType ?? 'application/json';
      headers['Content-Length'] = String(bodyBytes(init).length);
    }
    return { host: '127.0.0.1', port: this.port, path, method: init.method ?? 'GET', ca: this.ca, headers, servername: 'localhost' };
  }

  request(path: string, init: RequestInit = {}): Promise<Response> {
    return new Promise((res, rej) => {
      const req = httpsRequest(this.#options(path, init), (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try { body = JSON.parse(text); } catch { body = undefined; }
          res({ status: r.statusCode ?? 0, headers: r.headers, text, body });
        });
        r.on('error', rej);
      });
      req.on('error', rej);
      req.setTimeout(20_000, () => req.destroy(new Error(`request ${path} timed out`)));
      req.end(init.body === undefined && init.raw === undefined ? undefined : bodyBytes(init));
    });
  }

  watch(path: string, init: RequestInit = {}): WatchStream {
    const events: any[] = [];
    const waiters: (() => void)[] = [];
    let resolveHeaders!: (n: number) => void;
    let resolveEnded!: () => void;
    const headers = new Promise<number>((r) => { resolveHeaders = r; });
    const ended = new Promise<void>((r) => { resolveEnded = r; });
    const req = httpsRequest(this.#options(path, init), (r) => {
      resolveHeaders(r.statusCode ?? 0);
      let buf = '';
      r.on('data', (c: Buffer) => {
        buf += c.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim() !== '') events.push(JSON.parse(line));
        }
        for (const w of waiters.splice(0)) w();
      });
      r.on('end', () => { resolveEnded(); for (const w of waiters.splice(0)) w(); });
      r.on('error', () => resolveEnded());
    });
    req.on('error', () => { resolveHeaders(0); resolveEnded(); });
    req.end();
    let done = false;
    void ended.then(() => { done = true; });
    return {
      events, headers, ended,
      async next(count: number, timeoutMs = 5000) {
        const deadline = Date.now() + timeoutMs;
        while (events.length < count) {
          if (done) throw new Error(`watch ended after ${events.length} events, wanted ${count}: ${JSON.stringify(events.map((e) => e.type))}`);
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`timed out waiting for ${count} watch events, have ${events.length}: ${JSON.stringify(events.map((e) => e.type))}`);
          await new Promise<void>((r) => { const t = setTimeout(r, left); waiters.push(() => { clearTimeout(t); r(); }); });
        }
        return events.slice(0, count);
      },
      close() { req.destroy(); },
    };
  }
}

/** The stores every semantic test runs against: SQLite always, etcd when the binary is there. */
export interface StoreChoice {
  readonly name: 'sqlite' | 'etcd';
  readonly skip?: string;
}

export const pod = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] }, ...extra,
});

export const deployment = (name: string, replicas = 1): Record<string, unknown> => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } } },
});
