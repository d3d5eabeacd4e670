// Probe and hook execution: exec through CRI ExecSync, httpGet and tcpSocket from the agent's own
// network namespace to the pod IP (or the handler's host). Results carry a short message, never
// the command's output (it may hold secrets): only its length.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { VERSION } from '../../common/version.ts';
import { errorMessage } from '../../common/errors.ts';
import { isDeadline, isUnavailable } from '../cri/errors.ts';
import type { CriRuntime } from '../cri/types.ts';
import type { Container, HttpGetAction, LifecycleHandler } from '../pod/types.ts';

/** 'unknown': the probe could not run (runtime unreachable); it counts neither way. */
export type ProbeOutcomeResult = 'success' | 'failure' | 'unknown';

export interface ProbeOutcome {
  readonly result: ProbeOutcomeResult;
  readonly message: string;
}

export interface HandlerContext {
  readonly cri: Pick<CriRuntime, 'execSync'>;
  readonly containerId: string;
  /** Where httpGet and tcpSocket go when the handler names no host. */
  readonly podIp: string;
  /** For named ports. */
  readonly container?: Container;
  readonly timeoutSeconds: number;
}

/** A port number, or a named port of the container. */
export function resolvePort(port: number | string, container?: Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const found = container?.ports?.find((p) => p.name === port);
  if (found === undefined) throw new Error(`resolve port ${JSON.stringify(port)}: no container port of that name`);
  return found.containerPort;
}

export async function runExec(ctx: HandlerContext, command: readonly string[]): Promise<ProbeOutcome> {
  try {
    const r = await ctx.cri.execSync(ctx.containerId, command, ctx.timeoutSeconds);
    const outBytes = r.stdout.length + r.stderr.length;
    if (r.exitCode === 0) return { result: 'success', message: `exit 0 (${outBytes} bytes of output)` };
    return { result: 'failure', message: `command ${JSON.stringify(command[0] ?? '')} exited ${r.exitCode} (${outBytes} bytes of output)` };
  } catch (err) {
    if (isDeadline(err)) return { result: 'failure', message: `command ${JSON.stringify(command[0] ?? '')} timed out after ${ctx.timeoutSeconds}s` };
    if (isUnavailable(err)) return { result: 'unknown', message: `runtime unavailable: ${errorMessage(err)}` };
    return { result: 'failure', message: errorMessage(err) };
  }
}

export function buildProbeUrl(action: HttpGetAction, host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  const path = action.path.startsWith('/') ? action.path : `/${action.path}`;
  return `${action.scheme.toLowerCase()}://${h}:${port}${path}`;
}

export async function runHttpGet(ctx: HandlerContext, action: HttpGetAction): Promise<ProbeOutcome> {
  let url: string;
  try {
    url = buildProbeUrl(action, action.host ?? ctx.podIp, resolvePort(action.port, ctx.container));
  } catch (err) {
    return { result: 'failure', message: errorMessage(err) };
  }
  if ((action.host ?? ctx.podIp) === '') return { result: 'failure', message: 'http probe: the pod has no IP' };
  const timeoutMs = ctx.timeoutSeconds * 1000;
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'User-Agent': `moor-probe/${VERSION}`, Accept: '*/*', Connection: 'close' };
    for (const h of action.httpHeaders ?? []) headers[h.name] = h.value;
    const requestFn = action.scheme === 'HTTPS' ? httpsRequest : httpRequest;
    const req = requestFn(url, { method: 'GET', headers, timeout: timeoutMs, agent: false, ...(action.scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}) }, (res) => {
      const code = res.statusCode ?? 0;
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 10 * 1024) res.destroy();
      });
      const done = (): void => resolve(code >= 200 && code < 400 ? { result: 'success', message: `HTTP ${code}` } : { result: 'failure', message: `HTTP probe failed with statuscode: ${code}` });
      res.on('end', done);
      res.on('close', done);
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => resolve({ result: 'failure', message: `GET ${url}: ${err.message}` }));
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}

export async function runTcp(ctx: HandlerContext, action: { port: number | string; host?: string }): Promise<ProbeOutcome> {
  let port: number;
  try {
    port = resolvePort(action.port, ctx.container);
  } catch (err) {
    return { result: 'failure', message: errorMessage(err) };
  }
  const host = action.host ?? ctx.podIp;
  if (host === '') return { result: 'failure', message: 'tcp probe: the pod has no IP' };
  const timeoutMs = ctx.timeoutSeconds * 1000;
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const finish = (o: ProbeOutcome): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ result: 'failure', message: `dial tcp ${host}:${port}: timed out after ${timeoutMs} ms` }), timeoutMs);
    sock.once('connect', () => finish({ result: 'success', message: `connected to ${host}:${port}` }));
    sock.once('error', (err) => finish({ result: 'failure', message: `dial tcp ${host}:${port}: ${err.message}` }));
  });
}

/** Run a probe or hook handler: exactly one of exec, httpGet, tcpSocket (validation guarantees it). */
export async function runHandler(handler: LifecycleHandler, ctx: HandlerContext): Promise<ProbeOutcome> {
  if (handler.exec !== undefined) return runExec(ctx, handler.exec.command);
  if (handler.httpGet !== undefined) return runHttpGet(ctx, handler.httpGet);
  if (handler.tcpSocket !== undefined) return runTcp(ctx, handler.tcpSocket);
  return { result: 'failure', message: 'handler has no action' };
}
