import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeconfig, parseKubeconfig } from '../../../../controlplane/client/kubeconfig.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

const doc = (extra: { cluster?: Record<string, unknown>; user?: Record<string, unknown>; current?: string } = {}) => `apiVersion: v1
kind: Config
clusters:
- name: moor
  cluster: ${JSON.stringify({ server: 'https://127.0.0.1:6443/', 'certificate-authority-data': Buffer.from(CA).toString('base64'), ...extra.cluster })}
- name: other
  cluster: {server: "https://10.0.0.1:6443"}
users:
- name: admin
  user: ${JSON.stringify({ token: 'secret', ...extra.user })}
contexts:
- name: admin@moor
  context: {cluster: moor, user: admin}
- name: other
  context: {cluster: other, user: admin}
current-context: ${extra.current ?? 'admin@moor'}
`;

t.test('current context: server, inline CA, token', async (t) => {
  const c = parseKubeconfig(doc());
  t.equal(c.server, 'https://127.0.0.1:6443', 'trailing slash dropped');
  t.equal(c.caPem, CA);
  t.equal(c.token, 'secret');
  t.equal(c.insecureSkipTlsVerify, false);
  t.equal(parseKubeconfig(doc(), { context: 'other' }).server, 'https://10.0.0.1:6443');
});

t.test('file references resolve next to the kubeconfig', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moor-kubeconfig-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.crt'), CA);
  writeFileSync(join(dir, 'token'), 'from-file\n');
  const path = join(dir, 'config');
  writeFileSync(path, doc({ cluster: { 'certificate-authority-data': undefined, 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': true }, user: { token: undefined, tokenFile: join(dir, 'token') } }));
  const c = loadKubeconfig(path);
  t.equal(c.caPem, CA);
  t.equal(c.token, 'from-file');
  t.equal(c.insecureSkipTlsVerify, true);
});

t.test('errors name the file and what is missing', async (t) => {
  t.throws(() => parseKubeconfig(doc({ current: 'nope' }), { path: '/x/config' }), { code: 'kubeconfig-invalid', message: 'parse kubeconfig /x/config: context "nope" not found' });
  t.throws(() => parseKubeconfig('[1, 2'), { code: 'kubeconfig-invalid' });
  t.throws(() => loadKubeconfig('/nonexistent/moor/config'), { code: 'kubeconfig-unreadable', message: /^read kubeconfig \/nonexistent\/moor\/config: / });
});
