// Kubeconfig files: the client's connection settings (server URL, CA, bearer token) read from the
// file kubectl uses, current context first. Handles inline data (`certificate-authority-data`) and
// file references relative to the kubeconfig; client certificates are not supported (Moor uses tokens).

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { NodeError } from '../../common/errors.ts';

export interface ClientConfig {
  /** `https://host:port`. */
  readonly server: string;
  /** PEM of the CA that signed the server's certificate; undefined = system roots. */
  readonly caPem?: string;
  readonly token?: string;
  readonly insecureSkipTlsVerify?: boolean;
  /** TLS server name when it differs from the URL's host. */
  readonly tlsServerName?: string;
}

type Named<T> = { name?: unknown } & T;

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function findNamed(list: unknown, name: unknown, field: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const hit = (list as Named<Record<string, unknown>>[]).find((e) => isObj(e) && e.name === name);
  return hit !== undefined && isObj(hit[field]) ? hit[field] as Record<string, unknown> : undefined;
}

/** Parse kubeconfig text; `baseDir` resolves relative file references. Pure but for referenced files. */
export function parseKubeconfig(text: string, opts: { path?: string; context?: string } = {}): ClientConfig {
  const where = opts.path ?? 'kubeconfig';
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new NodeError('kubeconfig-invalid', `parse kubeconfig ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!isObj(doc)) throw new NodeError('kubeconfig-invalid', `parse kubeconfig ${where}: not a mapping`);
  const contextName = opts.context ?? doc['current-context'];
  let context = findNamed(doc.contexts, contextName, 'context');
  if (context === undefined && opts.context === undefined && Array.isArray(doc.contexts) && doc.contexts.length === 1 && isObj(doc.contexts[0]) && isObj(doc.contexts[0].context)) {
    context = doc.contexts[0].context as Record<string, unknown>;
  }
  if (context === undefined) throw new NodeError('kubeconfig-invalid', `parse kubeconfig ${where}: context ${JSON.stringify(contextName ?? '')} not found`);
  const cluster = findNamed(doc.clusters, context.cluster, 'cluster');
  if (cluster === undefined || typeof cluster.server !== 'string') {
    throw new NodeError('kubeconfig-invalid', `parse kubeconfig ${where}: cluster ${JSON.stringify(context.cluster ?? '')} not found or has no server`);
  }
  const user = findNamed(doc.users, context.user, 'user') ?? {};
  const baseDir = opts.path === undefined ? process.cwd() : dirname(opts.path);
  const readRef = (file: unknown): string | undefined => {
    if (typeof file !== 'string' || file === '') return undefined;
    return readFileSync(isAbsolute(file) ? file : join(baseDir, file), 'utf8');
  };
  let caPem: string | undefined;
  if (typeof cluster['certificate-authority-data'] === 'string') caPem = Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8');
  else caPem = readRef(cluster['certificate-authority']);
  let token: string | undefined;
  if (typeof user.token === 'string' && user.token !== '') token = user.token;
  else {
    const file = readRef(user.tokenFile);
    if (file !== undefined) token = file.trim();
  }
  return {
    server: cluster.server.replace(/\/+$/, ''),
    caPem,
    token,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
  };
}

export function loadKubeconfig(path: string, opts: { context?: string } = {}): ClientConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new NodeError('kubeconfig-unreadable', `read kubeconfig ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return parseKubeconfig(text, { path, context: opts.context });
}
