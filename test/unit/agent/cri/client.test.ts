// The client's own mechanics against an in-process gRPC server on a unix socket (no root, no
// containerd): endpoint parsing, failing fast on a missing socket, status codes to kinds, deadlines,
// a debug line per call, and recovery when the server goes away and comes back on the same path.
import t from 'tap';
import { link, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { createCriClient, findProtoPath, loadCriDefinition, parseEndpoint } from '../../../../agent/cri/client.ts';
import { CriError, isDeadline, isNotFound, isUnavailable } from '../../../../agent/cri/errors.ts';

const dir = await mkdtemp(join(tmpdir(), 'moor-cri-client-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

type Handler = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

/** A RuntimeService with a few scripted methods, served on `socketPath`. */
async function startServer(socketPath: string, handlers: Record<string, Handler>): Promise<grpc.Server> {
  const pkg = grpc.loadPackageDefinition(loadCriDefinition()) as unknown as { runtime: { v1: { RuntimeService: { service: grpc.ServiceDefinition } } } };
  const server = new grpc.Server();
  const unimplemented: Handler = (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test server' });
  const impl: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(pkg.runtime.v1.RuntimeService.service)) impl[name] = handlers[name] ?? unimplemented;
  server.addService(pkg.runtime.v1.RuntimeService.service, impl);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return server;
}

const handlers: Record<string, Handler> = {
  Version: (_call, cb) => cb(null, { version: '0.1.0', runtimeName: 'test-runtime', runtimeVersion: '1.2.3', runtimeApiVersion: 'v1' }),
  ContainerStatus: (call, cb) => cb({ code: grpc.status.NOT_FOUND, details: `an error occurred when try to find container "${String(call.request.containerId)}": not found` }),
  ListContainers: (call, cb) => cb(null, { containers: [{ id: 'c1', state: 'CONTAINER_RUNNING', createdAt: '1795450233547969000', labels: call.request.filter ? (call.request.filter as { labelSelector: Record<string, string> }).labelSelector : {} }] }),
  // Answers only after 400 ms: longer than the deadlines the tests give it.
  ExecSync: (_call, cb) => setTimeout(() => cb(null, { stdout: Buffer.from('late'), exitCode: 0 }), 400),
};

t.test('parseEndpoint accepts unix endpoints and bare absolute paths only', async (t) => {
  const ok: [string, string][] = [
    ['unix:///run/containerd/containerd.sock', '/run/containerd/containerd.sock'],
    ['unix:/run/x.sock', '/run/x.sock'],
    ['/run/x.sock', '/run/x.sock'],
  ];
  for (const [endpoint, path] of ok) t.equal(parseEndpoint(endpoint), path, endpoint);
  for (const bad of ['tcp://127.0.0.1:1234', 'unix://relative.sock', 'run/x.sock', '']) {
    t.throws(() => parseEndpoint(bad), { name: 'CriError', kind: 'invalid' }, `rejects "${bad}"`);
  }
});

t.test('the proto is found next to the sources; an explicit path wins', async (t) => {
  t.ok(existsSync(findProtoPath()), findProtoPath());
  t.equal(findProtoPath('/elsewhere/api.proto'), '/elsewhere/api.proto');
});

t.test('a missing socket fails fast, naming the path', async (t) => {
  const socketPath = join(dir, 'absent.sock');
  const client = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 5000 });
  t.teardown(() => client.close());
  const started = Date.now();
  const err = await client.version().catch((e: unknown) => e);
  const elapsedMs = Date.now() - started;
  t.ok(err instanceof CriError && isUnavailable(err), 'kind unavailable');
  t.equal((err as CriError).message, `cri version: unavailable: connect ${socketPath}: socket does not exist`);
  t.ok(elapsedMs < 200, `failed in ${elapsedMs} ms, not at the 5000 ms deadline`);
});

t.test('a path that is not a socket fails fast too', async (t) => {
  const filePath = join(dir, 'plain-file.sock');
  await writeFile(filePath, '');
  const client = createCriClient({ endpoint: filePath, timeoutMs: 5000 });
  t.teardown(() => client.close());
  await t.rejects(client.listPodSandbox(), { kind: 'unavailable', message: `cri list pod sandbox: unavailable: connect ${filePath}: not a socket` });
});

t.test('against a server: answers decode, statuses map to kinds, deadlines apply, each call is logged', async (t) => {
  const socketPath = join(dir, 'runtime.sock');
  const server = await startServer(socketPath, handlers);
  t.teardown(() => server.forceShutdown());
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } });
  const client = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 150, log: pino({ level: 'debug' }, sink) });
  t.teardown(() => client.close());

  t.same(await client.version(), { version: '0.1.0', runtimeName: 'test-runtime', runtimeVersion: '1.2.3', runtimeApiVersion: 'v1' });
  const listed = await client.listContainers({ labelSelector: { app: 'web' } });
  t.same(listed.map((c) => [c.id, c.state, c.createdAtMs, c.labels]), [['c1', 'running', 1795450233547.969, { app: 'web' }]], 'filter sent, answer decoded');

  const notFound = await client.containerStatus('abc').catch((e: unknown) => e);
  t.ok(isNotFound(notFound), 'NOT_FOUND -> notFound');
  t.equal((notFound as CriError).message, 'cri container status abc: not found: an error occurred when try to find container "abc": not found');

  const slow = await client.execSync('abc', ['true'], 0).catch((e: unknown) => e);
  t.ok(isDeadline(slow), `a slow answer on a ready channel is a deadline: ${(slow as Error).message}`);

  const unimplemented = await client.reopenContainerLog('abc').catch((e: unknown) => e);
  t.equal((unimplemented as CriError).kind, 'unimplemented');

  const calls = lines.filter((l) => l.msg === 'cri call' || l.msg === 'cri call failed');
  t.same(calls.map((l) => [l.level, l.method, l.msg]), [
    [20, 'Version', 'cri call'],
    [20, 'ListContainers', 'cri call'],
    [20, 'ContainerStatus', 'cri call failed'],
    [20, 'ExecSync', 'cri call failed'],
    [20, 'ReopenContainerLog', 'cri call failed'],
  ], 'one debug line per call');
  t.ok(calls.every((l) => typeof l.durationMs === 'number'), 'with its duration');
  t.equal(calls[2]?.kind, 'notFound', 'failures carry their kind');
});

t.test('ExecSync: the deadline outlasts the exec timeout', async (t) => {
  const socketPath = join(dir, 'exec.sock');
  const server = await startServer(socketPath, handlers);
  t.teardown(() => server.forceShutdown());
  const client = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 150 });
  t.teardown(() => client.close());
  // 150 ms alone would expire before the 400 ms answer; a 1 s exec timeout extends the deadline.
  const r = await client.execSync('abc', ['true'], 1);
  t.equal(r.stdout.toString(), 'late');
});

t.test('the same client works again after the server goes away and comes back', async (t) => {
  const socketPath = join(dir, 'restart.sock');
  let server = await startServer(socketPath, handlers);
  t.teardown(() => server.forceShutdown());
  const client = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 1500 });
  t.teardown(() => client.close());
  await client.version();

  // Down, socket removed (containerd removes its socket on exit): fails at once.
  server.forceShutdown();
  await rm(socketPath, { force: true });
  const down = await client.version().catch((e: unknown) => e);
  t.ok(isUnavailable(down), `while down: ${(down as Error).message}`);

  // Down, a stale socket left behind (killed runtime): connections are refused, the channel goes
  // into TRANSIENT_FAILURE with reconnect backoff; the call waits for readiness until its deadline.
  await makeStaleSocket(socketPath);
  const refused = await client.version().catch((e: unknown) => e);
  t.ok(isUnavailable(refused), `stale socket: ${(refused as Error).message}`);

  // Back: waitForReady plus the 1 s backoff cap make the next call succeed without a new client.
  await rm(socketPath, { force: true });
  server = await startServer(socketPath, handlers);
  const started = Date.now();
  t.equal((await client.version()).runtimeName, 'test-runtime');
  const elapsedMs = Date.now() - started;
  t.ok(elapsedMs < 1400, `first call after the return took ${elapsedMs} ms (backoff capped at 1 s)`);
});

/** A unix socket file with no listener behind it: bind, keep a hard link, close. */
async function makeStaleSocket(path: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const listener = createNetServer();
  await new Promise<void>((resolve) => listener.listen(tmp, resolve));
  await link(tmp, path);
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  await rm(tmp, { force: true });
}

t.test('a socket nobody answers on: reported as unavailable at the deadline, not as a slow call', async (t) => {
  const socketPath = join(dir, 'silent.sock');
  // Accepts connections and never speaks HTTP/2, like a hung runtime.
  const sockets = new Set<Socket>();
  const silent: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(socketPath, resolve));
  const client = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 300 });
  t.teardown(async () => {
    client.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const started = Date.now();
  const err = await client.version().catch((e: unknown) => e);
  t.ok(isUnavailable(err), (err as Error).message);
  t.match((err as Error).message, `runtime at ${socketPath} not reachable within 300 ms`);
  t.ok(Date.now() - started < 2000, 'bounded by the deadline');
});

t.test('"server is not initialized yet" is retried within the deadline, then reported as unavailable', async (t) => {
  const socketPath = join(dir, 'starting.sock');
  let answers = 0;
  const server = await startServer(socketPath, {
    // Not initialized for the first three calls, like containerd reloading its state.
    Version: (_call, cb) => (++answers <= 3 ? cb({ code: grpc.status.UNKNOWN, details: 'server is not initialized yet' }) : handlers.Version!(_call, cb)),
    Status: (_call, cb) => cb({ code: grpc.status.UNKNOWN, details: 'server is not initialized yet' }),
  });
  t.teardown(() => server.forceShutdown());
  const client = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 400 });
  t.teardown(() => client.close());
  t.equal((await client.version()).runtimeName, 'test-runtime', 'one call from the caller, answered once initialized');
  t.equal(answers, 4, 'three retries');
  const started = Date.now();
  const err = await client.status().catch((e: unknown) => e);
  t.ok(isUnavailable(err), `never initialized: ${(err as Error).message}`);
  t.ok(Date.now() - started < 1000, 'gave up at the deadline');
});

t.test('a closed client refuses calls', async (t) => {
  const client = createCriClient({ endpoint: `unix://${join(dir, 'closed.sock')}` });
  client.close();
  client.close();
  await t.rejects(client.version(), /client is closed/);
});
