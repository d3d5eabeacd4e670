// Certificates and kubeconfigs for `moor server`: a self-signed CA, a serving certificate whose
// subjectAltNames name this host (kubectl refuses CN-only certificates), and kubeconfig files that
// embed the CA and a bearer token. The only module that runs `openssl`; keys never leave the data dir.

import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { CommandError, errorMessage } from '../common/errors.ts';

export interface PkiPaths {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly sans: string;
  /** Client certificate the API server presents to node agents (pods/log): CN moor-apiserver-kubelet-client, O system:masters. */
  readonly kubeletClientCert: string;
  readonly kubeletClientKey: string;
}

export const KUBELET_CLIENT_CN = 'moor-apiserver-kubelet-client';

export function pkiPaths(dataDir: string): PkiPaths {
  const dir = join(dataDir, 'pki');
  return {
    dir, caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key'), sans: join(dir, 'server.sans'),
    kubeletClientCert: join(dir, 'apiserver-kubelet-client.crt'), kubeletClientKey: join(dir, 'apiserver-kubelet-client.key'),
  };
}

/** Issue a certificate signed by the CA: `ext` is the openssl extension text. */
async function issue(p: PkiPaths, opts: { key: string; cert: string; subject: string; ext: string; log: Logger }): Promise<void> {
  const work = join(tmpdir(), `moor-pki-${randomBytes(6).toString('hex')}`);
  mkdirSync(work, { mode: 0o700 });
  try {
    const csr = join(work, 'req.csr');
    const ext = join(work, 'ext.cnf');
    writeFileSync(ext, opts.ext);
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', opts.key, '-out', csr, '-subj', opts.subject], opts.log);
    await openssl(['x509', '-req', '-in', csr, '-CA', p.caCert, '-CAkey', p.caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-out', opts.cert, '-days', '825', '-extfile', ext], opts.log);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function openssl(args: readonly string[], log: Logger): Promise<void> {
  const started = Date.now();
  try {
    await execa('openssl', args, { timeout: 30_000, stdin: 'ignore' });
    log.debug({ argv: ['openssl', ...args.filter((a) => !a.startsWith('pass:'))], ms: Date.now() - started }, 'openssl');
  } catch (err) {
    const e = err as { exitCode?: number; stderr?: string };
    throw new CommandError({ code: 'pki-openssl-failed', message: `run openssl ${args[0]}: ${(e.stderr ?? errorMessage(err)).trim().split('\n')[0]}`, argv: ['openssl', ...args], exitCode: e.exitCode, stderr: e.stderr, cause: err });
  }
}

/** Names and addresses the serving certificate must cover: this host, loopback, every interface address, extras. */
export function defaultSans(extra: readonly string[] = []): string[] {
  const names = new Set<string>(['localhost', hostname(), 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', '127.0.0.1', '::1', '10.96.0.1']);
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.address.startsWith('fe80')) names.add(a.address);
  }
  for (const e of extra) if (e !== '') names.add(e);
  return [...names].sort();
}

function sanText(sans: readonly string[]): string {
  return sans.map((s) => (isIP(s) === 0 ? `DNS:${s}` : `IP:${s}`)).join(',');
}

/**
 * Ensure the CA and the serving certificate exist; the serving certificate is re-issued (same CA) when
 * the wanted SANs changed. Returns the paths.
 */
export async function ensurePki(opts: { dataDir: string; sans: readonly string[]; log: Logger }): Promise<PkiPaths> {
  const p = pkiPaths(opts.dataDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  if (!existsSync(p.caCert) || !existsSync(p.caKey)) {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p.caKey, '-out', p.caCert,
      '-days', '3650', '-subj', '/CN=moor-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], opts.log);
    rmSync(p.serverCert, { force: true });
    rmSync(p.kubeletClientCert, { force: true });
    opts.log.info({ path: p.caCert }, 'created certificate authority');
  }
  const wanted = sanText(opts.sans);
  const have = existsSync(p.sans) ? readFileSync(p.sans, 'utf8') : '';
  if (!existsSync(p.serverCert) || !existsSync(p.serverKey) || have !== wanted) {
    await issue(p, { key: p.serverKey, cert: p.serverCert, subject: '/CN=moor-apiserver', log: opts.log,
      ext: `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${wanted}\n` });
    writeFileSync(p.sans, wanted);
    opts.log.info({ sans: opts.sans }, 'issued serving certificate');
  }
  if (!existsSync(p.kubeletClientCert) || !existsSync(p.kubeletClientKey)) {
    await issue(p, { key: p.kubeletClientKey, cert: p.kubeletClientCert, subject: `/O=system:masters/CN=${KUBELET_CLIENT_CN}`, log: opts.log,
      ext: 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' });
    opts.log.info({ path: p.kubeletClientCert }, 'issued node client certificate');
  }
  return p;
}

/** A kubeconfig for one user with a bearer token and the CA embedded: works with kubectl as is. */
export function buildKubeconfig(opts: { server: string; caPem: string; token: string; user: string; cluster?: string }): string {
  const cluster = opts.cluster ?? 'moor';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: opts.server, 'certificate-authority-data': Buffer.from(opts.caPem).toString('base64') } }],
    users: [{ name: opts.user, user: { token: opts.token } }],
    contexts: [{ name: `${opts.user}@${cluster}`, context: { cluster, user: opts.user } }],
    'current-context': `${opts.user}@${cluster}`,
    preferences: {},
  });
}

export function writeKubeconfig(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

/** `https://host:port` for clients of a server bound to `bindAddress`. */
export function serverUrl(bindAddress: string, port: number): string {
  const host = bindAddress === '0.0.0.0' || bindAddress === '::' || bindAddress === '' ? '127.0.0.1' : bindAddress;
  return isIP(host) === 6 ? `https://[${host}]:${port}` : `https://${host}:${port}`;
}
