// pods/log through the API server to a node agent: a stand-in agent on 127.0.0.1 serves
// /containerLogs over HTTPS and requires the API server's client certificate (signed by the cluster
// CA); the API server finds it through the Node's InternalIP and kubeletEndpoint port.
import t from 'tap';
import { createServer, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { ServerProcess, pod } from './harness.ts';

t.test('pods/log is proxied to the node agent', async (t) => {
  const srv = new ServerProcess();
  t.teardown(() => srv.dispose());
  await srv.start();
  const pki = join(srv.dataDir, 'pki');
  const seen: { cn: string; path: string }[] = [];
  const agent = createServer({ key: readFileSync(join(pki, 'server.key')), cert: readFileSync(join(pki, 'server.crt')), ca: readFileSync(join(pki, 'ca.crt')), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const cn = String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
    seen.push({ cn, path: req.url ?? '' });
    const url = new URL(req.url ?? '/', 'https://agent');
    if (url.pathname !== '/containerLogs/default/lp/c') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end(`container not found: ${url.pathname}`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    if (url.searchParams.get('follow') === 'true') {
      res.write('line 1\n');
      setTimeout(() => res.end('line 2\n'), 300);
    } else {
      res.end('hello\nworld\n');
    }
  });
  await new Promise<void>((r) => agent.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => { agent.closeAllConnections(); agent.close(() => r()); }));
  const port = (agent.address() as { port: number }).port;

  await srv.request('/api/v1/nodes', { method: 'POST', body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n-log' }, status: { addresses: [{ type: 'Hostname', address: 'n-log' }, { type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } } });
  await srv.request('/api/v1/nodes', { method: 'POST', body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n-silent' } } });
  await srv.request('/api/v1/namespaces/default/pods', { method: 'POST', body: { ...pod('lp'), spec: { nodeName: 'n-log', containers: [{ name: 'c', image: 'busybox' }, { name: 'd', image: 'nope' }] } } });
  await srv.request('/api/v1/namespaces/default/pods/lp/status', { method: 'PATCH', contentType: 'application/merge-patch+json', body: { status: { phase: 'Running', containerStatuses: [
    { name: 'c', ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } },
    { name: 'd', ready: false, restartCount: 0, image: 'nope', imageID: '', state: { waiting: { reason: 'ImagePullBackOff' } } },
  ] } } });
  await srv.request('/api/v1/namespaces/default/pods', { method: 'POST', body: { ...pod('quiet'), spec: { nodeName: 'n-silent', containers: [{ name: 'c', image: 'busybox' }] } } });
  await srv.request('/api/v1/namespaces/default/pods/quiet/status', { method: 'PATCH', contentType: 'application/merge-patch+json', body: { status: { containerStatuses: [{ name: 'c', state: { running: {} } }] } } });

  const r = await srv.request('/api/v1/namespaces/default/pods/lp/log?container=c&tailLines=10&bogus=1');
  t.equal(r.status, 200);
  t.equal(r.text, 'hello\nworld\n');
  t.same(seen[0], { cn: 'moor-apiserver-kubelet-client', path: '/containerLogs/default/lp/c?tailLines=10' }, 'client certificate and query passed on');
  const waiting = await srv.request('/api/v1/namespaces/default/pods/lp/log?container=d');
  t.equal(waiting.status, 400);
  t.equal(waiting.body.message, 'container "d" in pod "lp" is waiting to start: ImagePullBackOff');
  const which = await srv.request('/api/v1/namespaces/default/pods/lp/log');
  t.equal(which.body.message, 'a container name must be specified for pod lp, choose one of: [c d]');
  const silent = await srv.request('/api/v1/namespaces/default/pods/quiet/log');
  t.equal(silent.status, 503);
  t.match(silent.body.message, /node n-silent publishes no address and agent port/);
  const nodeErr = await srv.request('/api/v1/namespaces/default/pods/lp/log?container=d&previous=true');
  t.equal(nodeErr.status, 404, 'the agent\'s answer is relayed');
  t.match(nodeErr.body.message, /container not found/);

  // follow: the first line arrives before the agent writes the second.
  const chunks: { at: number; text: string }[] = [];
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path: '/api/v1/namespaces/default/pods/lp/log?container=c&follow=true', ca: srv.ca, servername: 'localhost', headers: { Authorization: `Bearer ${srv.adminToken}` } }, (res) => {
      res.on('data', (c: Buffer) => chunks.push({ at: Date.now() - started, text: c.toString() }));
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(chunks.map((c) => c.text).join(''), 'line 1\nline 2\n');
  t.ok(chunks.length >= 2 && chunks[0].text === 'line 1\n' && chunks[chunks.length - 1].at - chunks[0].at >= 200, 'streamed as written');

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (kubectl.status === 0) {
    const out = await execa('kubectl', ['--cache-dir', join(srv.dataDir, 'kcache'), 'logs', 'lp', '-c', 'c'], { env: { KUBECONFIG: srv.kubeconfig }, reject: false, timeout: 30_000 });
    t.equal(out.stdout, 'hello\nworld', 'kubectl logs');
  }
});
