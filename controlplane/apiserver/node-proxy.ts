// The hop from the API server to a node agent, for `pods/log` (contract §11): GET
// https://<node address>:<kubeletEndpoint.Port>/containerLogs/<ns>/<pod>/<container>?<same query>,
// streamed back to the client chunk by chunk (follow included) and aborted when the client leaves.
// The API server authenticates with a client certificate signed by the cluster CA (pki.ts:
// CN moor-apiserver-kubelet-client, O system:masters); the agent should require it. Node serving
// certificates are not verified (as upstream without --kubelet-certificate-authority).

import { request, type RequestOptions } from 'node:https';
import type { ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { NodeProxy } from './server.ts';
import { ApiError } from './errors.ts';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Address types in the order we try them: the agent publishes a reachable InternalIP. */
const ADDRESS_ORDER = ['InternalIP', 'ExternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS'];
/** Query parameters the log endpoint understands, passed on as they came. */
const LOG_PARAMS = ['follow', 'previous', 'timestamps', 'tailLines', 'sinceSeconds', 'sinceTime', 'limitBytes'];

/** Where the node agent listens, from the Node object; undefined when it does not say. */
export function nodeEndpoint(node: Obj): { host: string; port: number } | undefined {
  const status = isObj(node.status) ? node.status : {};
  const addresses = Array.isArray(status.addresses) ? status.addresses.filter(isObj) : [];
  let host: string | undefined;
  for (const type of ADDRESS_ORDER) {
    const a = addresses.find((x) => x.type === type && typeof x.address === 'string' && x.address !== '');
    if (a !== undefined) { host = String(a.address); break; }
  }
  const endpoints = isObj(status.daemonEndpoints) ? status.daemonEndpoints : {};
  const kubelet = isObj(endpoints.kubeletEndpoint) ? endpoints.kubeletEndpoint : {};
  const port = typeof kubelet.Port === 'number' ? kubelet.Port : undefined;
  if (host === undefined || port === undefined || port <= 0) return undefined;
  return { host, port };
}

export function containerLogsPath(namespace: string, pod: string, container: string, query: URLSearchParams): string {
  const q = new URLSearchParams();
  for (const k of LOG_PARAMS) {
    const v = query.get(k);
    if (v !== null) q.set(k, v);
  }
  const qs = q.toString();
  return `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}/${encodeURIComponent(container)}${qs === '' ? '' : `?${qs}`}`;
}

export function createNodeProxy(opts: { clientCert: Buffer; clientKey: Buffer; log: Logger; connectTimeoutMs?: number }): NodeProxy {
  return {
    containerLogs: ({ node, namespace, pod, container, query, res }) => new Promise<void>((resolve, reject) => {
      const nodeName = isObj(node.metadata) ? String(node.metadata.name) : '';
      const ep = nodeEndpoint(node);
      if (ep === undefined) {
        reject(new ApiError({ httpCode: 503, reason: 'ServiceUnavailable', message: `get logs of pod ${namespace}/${pod}: node ${nodeName} publishes no address and agent port (status.addresses, status.daemonEndpoints.kubeletEndpoint.Port)` }));
        return;
      }
      const path = containerLogsPath(namespace, pod, container, query);
      const options: RequestOptions = {
        host: ep.host, port: ep.port, path, method: 'GET', cert: opts.clientCert, key: opts.clientKey, rejectUnauthorized: false,
        servername: isIP(ep.host) === 0 ? ep.host : undefined, timeout: opts.connectTimeoutMs ?? 10_000,
      };
      const started = Date.now();
      const upstream = request(options, (nodeRes) => {
        opts.log.debug({ node: nodeName, path, code: nodeRes.statusCode, ms: Date.now() - started }, 'node log proxy');
        upstream.setTimeout(0);
        const code = nodeRes.statusCode ?? 502;
        if (code !== 200) {
          const chunks: Buffer[] = [];
          nodeRes.on('data', (c: Buffer) => chunks.push(c));
          nodeRes.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8').trim();
            let message = text;
            try {
              const parsed = JSON.parse(text) as { message?: unknown };
              if (typeof parsed.message === 'string') message = parsed.message;
            } catch { /* plain text from the agent: relay it as the message */ }
            reject(new ApiError({ httpCode: code >= 400 && code < 600 ? code : 502, reason: code === 404 ? 'NotFound' : code === 400 ? 'BadRequest' : 'InternalError', message: message === '' ? `node ${nodeName} answered ${code}` : message }));
          });
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
        res.flushHeaders();
        nodeRes.on('data', (c: Buffer) => { res.write(c); });
        nodeRes.on('end', () => { res.end(); resolve(); });
        nodeRes.on('error', () => { res.destroy(); resolve(); });
      });
      upstream.on('timeout', () => upstream.destroy(new Error(`connect to node ${nodeName} at ${ep.host}:${ep.port} timed out`)));
      upstream.on('error', (err) => {
        if (res.headersSent) { res.destroy(); resolve(); return; }
        reject(new ApiError({ httpCode: 503, reason: 'ServiceUnavailable', message: `get logs of pod ${namespace}/${pod} from node ${nodeName} at ${ep.host}:${ep.port}: ${err.message}` }));
      });
      // The client left (kubectl logs -f interrupted): stop reading from the node.
      res.on('close', () => { upstream.destroy(); resolve(); });
      upstream.end();
    }),
  };
}
