// The agent's HTTPS serving certificate when none is configured: a self-signed one in
// <root-dir>/pki (agent.crt, agent.key), made once with `openssl` (the only place the agent runs
// it) and reused while it is valid for the node's name and IP. The API server does not verify node
// serving certificates; clients that care pass --tls-cert-file/--tls-private-key-file instead.

import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { CommandError } from '../../common/errors.ts';

export interface ServingCert {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Whether a PEM certificate names the node (DNS) and IP, and is valid for at least a day more. Pure. */
export function isUsableServingCert(pem: string, opts: { nodeName: string; nodeIp: string; nowMs: number }): boolean {
  try {
    const cert = new X509Certificate(pem);
    const san = cert.subjectAltName ?? '';
    return san.includes(`DNS:${opts.nodeName}`) && san.includes(`IP Address:${opts.nodeIp}`) && Date.parse(cert.validTo) > opts.nowMs + 86_400_000;
  } catch {
    return false; // unreadable: make a new one
  }
}

export async function ensureSelfSignedCert(dir: string, opts: { nodeName: string; nodeIp: string }): Promise<ServingCert> {
  const certFile = join(dir, 'agent.crt');
  const keyFile = join(dir, 'agent.key');
  const existing = await readFile(certFile, 'utf8').catch(() => '');
  if (existing !== '' && isUsableServingCert(existing, { ...opts, nowMs: Date.now() })) return { certFile, keyFile };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const argv = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '365',
    '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${opts.nodeName}@${Math.floor(Date.now() / 1000)}`,
    '-addext', `subjectAltName=DNS:${opts.nodeName},IP:${opts.nodeIp}`,
  ];
  try {
    await execa('openssl', argv, { timeout: 20_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new CommandError({ code: 'agent-serving-cert', message: `make serving certificate in ${dir}: ${stderr.trim().split('\n').pop() ?? 'openssl failed'}`, argv: ['openssl', ...argv], stderr, cause: err });
  }
  return { certFile, keyFile };
}
