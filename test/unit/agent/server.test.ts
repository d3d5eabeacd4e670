import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { ApiServer, findContainerLog } from '../../../agent/server.ts';
import { createAgentMetrics } from '../../../agent/metrics.ts';
import { silentLogger } from '../../../common/log.ts';
import { container, exited, makePod, observed, sandbox } from '../../fixtures/agent/pods.ts';

t.test('routes', async (t) => {
  const dir = await mkdtemp(`${tmpdir()}/moor-api-`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(`${dir}/0.log`, '2026-11-23T10:00:00.000000001Z stdout F one\n2026-11-23T10:00:01.000000001Z stderr F two\n');
  const pod = makePod();
  let healthy: string | undefined;
  const server = new ApiServer({
    address: '127.0.0.1', port: 0, metrics: createAgentMetrics(), log: silentLogger(),
    backend: {
      listPods: () => [pod],
      manifests: () => [{ path: '/m/bad.yaml', pods: [], problems: [{ document: 1, errors: ['x: Required value'] }] }],
      unhealthy: () => healthy,
      containerLog: (uid, name, previous) => (name === 'app' && !previous ? { path: `${dir}/0.log`, running: () => false } : { status: 400, error: `container ${name} is not valid` }),
    },
  });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const get = (p: string) => fetch(`http://127.0.0.1:${port}${p}`);
  t.equal(await (await get('/healthz')).text(), 'ok');
  healthy = 'pleg: no successful relist for 200s';
  const h = await get('/healthz');
  t.equal(h.status, 500);
  t.equal(await h.text(), 'pleg: no successful relist for 200s\n');
  const list = (await (await get('/pods')).json()) as { kind: string; items: unknown[] };
  t.equal(list.kind, 'PodList');
  t.equal(list.items.length, 1);
  t.equal(((await (await get('/pods?fieldSelector=metadata.name%3Dweb,metadata.namespace%3Ddefault')).json()) as { items: unknown[] }).items.length, 1);
  t.equal(((await (await get('/pods?fieldSelector=metadata.name!%3Dweb')).json()) as { items: unknown[] }).items.length, 0);
  t.equal((await get('/pods?fieldSelector=spec.bogus%3Dx')).status, 400);
  t.match(await (await get('/manifests')).json(), { items: [{ path: '/m/bad.yaml' }] });
  t.equal(await (await get('/containerLogs/default/web/app')).text(), 'one\ntwo\n');
  t.equal(await (await get('/containerLogs/default/web/app?tailLines=1&timestamps=true')).text(), '2026-11-23T10:00:01.000000001Z two\n');
  t.equal((await get('/containerLogs/default/web/app?tailLines=x')).status, 400);
  t.equal((await get('/containerLogs/default/web/other')).status, 400);
  t.equal((await get('/containerLogs/default/nope/app')).status, 404);
  t.equal((await get('/nope')).status, 404);
  t.match(await (await get('/metrics')).text(), /# TYPE moor_agent_running_pods gauge/);
  t.equal((await fetch(`http://127.0.0.1:${port}/pods`, { method: 'POST' })).status, 405);
  const other = new ApiServer({ address: '127.0.0.1', port, metrics: createAgentMetrics(), log: silentLogger(), backend: { listPods: () => [], manifests: () => [], unhealthy: () => undefined, containerLog: () => ({ status: 404, error: '' }) } });
  await t.rejects(other.listen(), { message: `listen on 127.0.0.1:${port}: address in use` });
});

t.test('findContainerLog', async (t) => {
  const pod = makePod();
  const seen = observed([sandbox(pod)], [container(pod, 'app', { restartCount: 1, logPath: '/l/app/1.log' }), exited(pod, 'app', 1, { logPath: '/l/app/0.log' })]);
  const latest = findContainerLog(pod, () => seen, 'app', false);
  t.match(latest, { path: '/l/app/1.log' });
  t.equal((latest as { running: () => boolean }).running(), true);
  t.match(findContainerLog(pod, () => seen, 'app', true), { path: '/l/app/0.log' });
  t.match(findContainerLog(pod, () => undefined, 'app', false), { status: 400, error: 'container "app" in pod "web" is waiting to start: ContainerCreating' });
  t.match(findContainerLog(pod, () => seen, 'nope', false), { status: 400, error: 'container nope is not valid for pod web' });
});
