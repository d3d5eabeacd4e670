import t from 'tap';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { runExec, runHandler, runHttpGet, runTcp, resolvePort } from '../../../../agent/probe/runners.ts';
import { CriError, GrpcCode } from '../../../../agent/cri/errors.ts';
import type { ExecSyncResult } from '../../../../agent/cri/types.ts';

const out = (exitCode: number): ExecSyncResult => ({ stdout: Buffer.from('x'), stderr: Buffer.alloc(0), exitCode });
const ctx = (execSync: (id: string, cmd: readonly string[], s: number) => Promise<ExecSyncResult>) => ({ cri: { execSync }, containerId: 'c', podIp: '127.0.0.1', timeoutSeconds: 1 });

t.test('exec', async (t) => {
  t.equal((await runExec(ctx(async () => out(0)), ['true'])).result, 'success');
  t.equal((await runExec(ctx(async () => out(2)), ['false'])).result, 'failure');
  const deadline = await runExec(ctx(async () => { throw new CriError({ method: 'ExecSync', grpcCode: GrpcCode.DEADLINE_EXCEEDED, details: 'timeout' }); }), ['sleep']);
  t.same(deadline, { result: 'failure', message: 'command "sleep" timed out after 1s' });
  const down = await runExec(ctx(async () => { throw new CriError({ method: 'ExecSync', grpcCode: GrpcCode.UNAVAILABLE, details: 'down' }); }), ['x']);
  t.equal(down.result, 'unknown');
});

t.test('http and tcp against loopback servers', async (t) => {
  const http = createHttpServer((req, res) => {
    const code = req.url === '/ok' ? 200 : req.url === '/redirect' ? 302 : req.url === '/slow' ? 0 : 500;
    if (code === 0) return; // never answers
    res.writeHead(code, { 'X-Seen-Header': String(req.headers['x-probe'] ?? '') });
    res.end(req.headers['user-agent']);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  t.teardown(() => { http.closeAllConnections(); http.close(); });
  const port = (http.address() as AddressInfo).port;
  const c = ctx(async () => out(0));
  t.equal((await runHttpGet(c, { path: '/ok', port, scheme: 'HTTP', httpHeaders: [{ name: 'X-Probe', value: '1' }] })).result, 'success');
  t.equal((await runHttpGet(c, { path: 'redirect', port, scheme: 'HTTP' })).result, 'success', '3xx counts as success');
  t.same(await runHttpGet(c, { path: '/bad', port, scheme: 'HTTP' }), { result: 'failure', message: 'HTTP probe failed with statuscode: 500' });
  const started = Date.now();
  const slow = await runHttpGet(c, { path: '/slow', port, scheme: 'HTTP' });
  t.equal(slow.result, 'failure');
  t.ok(Date.now() - started < 3000, 'bounded by timeoutSeconds');
  t.equal((await runHttpGet({ ...c, podIp: '' }, { path: '/', port, scheme: 'HTTP' })).result, 'failure');

  const tcp = createTcpServer((s) => s.end());
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  t.teardown(() => tcp.close());
  const tport = (tcp.address() as AddressInfo).port;
  t.equal((await runTcp(c, { port: tport })).result, 'success');
  tcp.close();
  await new Promise((r) => setTimeout(r, 20));
  t.equal((await runTcp(c, { port: tport })).result, 'failure');
  t.equal((await runHandler({ tcpSocket: { port: 'web' } }, { ...c, container: { name: 'a', image: 'i', imagePullPolicy: 'Always', terminationMessagePath: '', terminationMessagePolicy: 'File', ports: [{ name: 'web', containerPort: port, protocol: 'TCP' }] } })).result, 'success', 'named port');
});

t.test('resolvePort', async (t) => {
  t.equal(resolvePort(80), 80);
  t.equal(resolvePort('8080'), 8080);
  t.throws(() => resolvePort('web'), /no container port of that name/);
});
