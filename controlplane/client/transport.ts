// The HTTPS boundary of the API client: the only importer of node:https here. Requests over a
// keep-alive pool with a deadline each; streams (watches) on their own sockets so they never starve
// the pool. Owns transport retries: idempotent GETs are retried on connection failures, writes only
// when the request provably never reached the server (refused, or a reused idle socket that was
// reset). Every call is logged at debug with method, path, status and duration.

import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage, ClientRequest, IncomingHttpHeaders } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import { ApiClientError } from './errors.ts';
import type { ClientConfig } from './kubeconfig.ts';

export interface HttpRequest {
  readonly method: string;
  /** Path and query: `/api/v1/pods?limit=500`. */
  readonly path: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly accept?: string;
  readonly timeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export interface HttpStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Newline-delimited lines of the body, as they arrive; ends when the server ends the response. */
  readonly lines: AsyncIterable<string>;
  /** Abort the stream; the iterator then ends. */
  close(): void;
}

/** What the client needs from a transport; tests may pass their own. */
export interface Transport {
  request(req: HttpRequest): Promise<HttpResponse>;
  stream(req: HttpRequest): Promise<HttpStream>;
  close(): void;
}

export interface HttpsTransportOptions {
  readonly log?: Logger;
  /** Default deadline per request (not streams); default 30 s. */
  readonly timeoutMs?: number;
  /** Pool size for ordinary requests; default 32. */
  readonly maxSockets?: number;
  readonly userAgent?: string;
  /** Retries of a failed idempotent request; default 3. */
  readonly retries?: number;
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

function errCode(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
}

export class HttpsTransport implements Transport {
  readonly #url: URL;
  readonly #config: ClientConfig;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #userAgent: string;
  readonly #pool: Agent;
  readonly #streams: Agent;
  readonly #open = new Set<ClientRequest>();
  #closed = false;

  constructor(config: ClientConfig, opts: HttpsTransportOptions = {}) {
    this.#url = new URL(config.server);
    if (this.#url.protocol !== 'https:') throw new ApiClientError({ kind: 'badRequest', status: 0, message: `connect to ${config.server}: the API server is reached over https only (bearer tokens are never sent in clear)` });
    this.#config = config;
    this.#log = opts.log ?? silentLogger();
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retries = opts.retries ?? 3;
    this.#userAgent = opts.userAgent ?? 'moor';
    const tls = { ca: config.caPem, rejectUnauthorized: config.insecureSkipTlsVerify !== true, servername: config.tlsServerName };
    this.#pool = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 32, ...tls });
    this.#streams = new Agent({ keepAlive: false, ...tls });
  }

  #options(req: HttpRequest, agent: Agent): RequestOptions {
    const headers: Record<string, string> = { 'User-Agent': this.#userAgent, Accept: req.accept ?? 'application/json' };
    if (this.#config.token !== undefined) headers.Authorization = `Bearer ${this.#config.token}`;
    if (req.body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(req.body));
    }
    const host = this.#url.hostname.replace(/^\[|\]$/g, '');
    return {
      host, port: this.#url.port === '' ? 443 : Number(this.#url.port), path: req.path, method: req.method, headers, agent,
      servername: this.#config.tlsServerName ?? (/^[\d.]+$|:/.test(host) ? undefined : host),
    };
  }

  /** One attempt; resolves with the whole body. */
  #once(req: HttpRequest): Promise<HttpResponse & { reused: boolean }> {
    return new Promise((resolve, reject) => {
      let reused = false;
      const r = httpsRequest(this.#options(req, this.#pool), (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          this.#open.delete(r);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), reused });
        });
        res.on('error', (err) => { this.#open.delete(r); reject(Object.assign(err, { reused })); });
      });
      this.#open.add(r);
      r.on('socket', () => { reused = r.reusedSocket; });
      r.on('error', (err) => { this.#open.delete(r); reject(Object.assign(err, { reused })); });
      const timeoutMs = req.timeoutMs ?? this.#timeoutMs;
      r.setTimeout(timeoutMs, () => r.destroy(Object.assign(new Error(`no reply within ${timeoutMs} ms`), { code: 'MOOR_TIMEOUT' })));
      r.end(req.body);
    });
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.method === 'GET' || req.method === 'HEAD';
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new ApiClientError({ kind: 'unavailable', status: 0, message: `${req.method.toLowerCase()} ${req.path}: client closed` });
      const started = performance.now();
      try {
        const res = await this.#once(req);
        this.#log.debug({ method: req.method, path: req.path, status: res.status, ms: Math.round(performance.now() - started) }, 'api call');
        return res;
      } catch (err) {
        const code = errCode(err);
        const reused = (err as { reused?: boolean }).reused === true;
        const neverSent = code === 'ECONNREFUSED' || (reused && code === 'ECONNRESET');
        const retry = !this.#closed && attempt < this.#retries && code !== 'MOOR_TIMEOUT' && (neverSent || (idempotent && code !== undefined && TRANSIENT_CODES.has(code)));
        this.#log.debug({ method: req.method, path: req.path, err: (err as Error).message, code, attempt, retry }, 'api call failed');
        if (retry) {
          await sleep(100 * 2 ** attempt);
          continue;
        }
        if (code === 'MOOR_TIMEOUT') throw new ApiClientError({ kind: 'timeout', status: 0, message: `${req.method.toLowerCase()} ${req.path}: ${(err as Error).message}`, cause: err });
        throw new ApiClientError({ kind: 'unavailable', status: 0, message: `${req.method.toLowerCase()} ${req.path}: ${(err as Error).message}`, cause: err });
      }
    }
  }

  stream(req: HttpRequest): Promise<HttpStream> {
    return new Promise((resolve, reject) => {
      if (this.#closed) { reject(new ApiClientError({ kind: 'unavailable', status: 0, message: `${req.method.toLowerCase()} ${req.path}: client closed` })); return; }
      const r = httpsRequest(this.#options(req, this.#streams), (res: IncomingMessage) => {
        const decoder = new StringDecoder('utf8');
        const close = (): void => { r.destroy(); };
        async function* lines(): AsyncGenerator<string> {
          let buf = '';
          try {
            for await (const chunk of res) {
              buf += decoder.write(chunk as Buffer);
              let nl: number;
              while ((nl = buf.indexOf('\n')) >= 0) {
                const line = buf.slice(0, nl);
                buf = buf.slice(nl + 1);
                if (line.trim() !== '') yield line;
              }
            }
          } catch (err) {
            // A stream we closed, or the server going away, both end the iteration; callers resume.
            if (!r.destroyed) throw err;
          }
          buf += decoder.end();
          if (buf.trim() !== '') yield buf;
        }
        res.on('close', () => this.#open.delete(r));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, lines: lines(), close });
      });
      this.#open.add(r);
      // A peer that vanished without a FIN (a node losing its network) is found by keepalive probes.
      r.on('socket', (socket) => socket.setKeepAlive(true, 15_000));
      r.on('error', (err) => {
        this.#open.delete(r);
        reject(new ApiClientError({ kind: 'unavailable', status: 0, message: `${req.method.toLowerCase()} ${req.path}: ${err.message}`, cause: err }));
      });
      // Headers come at once on a healthy server; a silent one is a dead connection.
      r.setTimeout(req.timeoutMs ?? this.#timeoutMs, () => r.destroy(Object.assign(new Error('no response headers'), { code: 'MOOR_TIMEOUT' })));
      r.on('response', () => r.setTimeout(0));
      r.end(req.body);
    });
  }

  /** Abort everything in flight and free the sockets. */
  close(): void {
    this.#closed = true;
    for (const r of this.#open) r.destroy();
    this.#open.clear();
    this.#pool.destroy();
    this.#streams.destroy();
  }
}
