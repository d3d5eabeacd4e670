import t from 'tap';
import { ApiClient } from '../../../../controlplane/client/client.ts';
import { EventRecorder } from '../../../../controlplane/client/events.ts';
import type { Pod } from '../../../../controlplane/client/types.ts';
import { FakeTransport } from './fake-transport.ts';

const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'team', uid: 'u1', resourceVersion: '5' }, spec: { containers: [] } };

t.test('events are created once, then repeats bump the count', async (t) => {
  const transport = new FakeTransport();
  transport.handler = (req) => (req.method === 'POST' ? { status: 201, body: JSON.parse(req.body!) } : { status: 200, body: {} });
  let now = Date.parse('2026-01-02T03:04:05.678Z');
  const rec = new EventRecorder({ client: new ApiClient({ server: 'https://x:1' }, { transport }), component: 'default-scheduler', now: () => now });
  rec.event(pod, 'Warning', 'FailedScheduling', '0/3 nodes are available: 3 Insufficient cpu.');
  await rec.flush();
  now += 1000;
  rec.event(pod, 'Warning', 'FailedScheduling', '0/3 nodes are available: 3 Insufficient cpu.');
  rec.event(pod, 'Normal', 'Scheduled', 'Successfully assigned team/web-1 to n1');
  await rec.flush();
  t.same(transport.requests.map((r) => `${r.method} ${r.path}`), [
    'POST /api/v1/namespaces/team/events',
    'PATCH /api/v1/namespaces/team/events/' + JSON.parse(transport.requests[0].body!).metadata.name,
    'POST /api/v1/namespaces/team/events',
  ]);
  const created = JSON.parse(transport.requests[0].body!);
  t.match(created, {
    involvedObject: { kind: 'Pod', namespace: 'team', name: 'web-1', uid: 'u1', apiVersion: 'v1' },
    reason: 'FailedScheduling', type: 'Warning', count: 1, firstTimestamp: '2026-01-02T03:04:05Z', source: { component: 'default-scheduler' },
  });
  t.match(created.metadata.name, /^web-1\.[0-9a-f]+$/);
  t.same(JSON.parse(transport.requests[1].body!), { count: 2, lastTimestamp: '2026-01-02T03:04:06Z' });
});

t.test('cluster-scoped objects get their events in default; overflow is dropped and counted', async (t) => {
  const transport = new FakeTransport();
  transport.handler = (req) => ({ status: 201, body: JSON.parse(req.body!) });
  const rec = new EventRecorder({ client: new ApiClient({ server: 'https://x:1' }, { transport }), component: 'node-controller', maxPending: 2, concurrency: 1 });
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n' } };
  for (let i = 0; i < 5; i++) rec.event(node, 'Normal', 'NodeNotReady', `message ${i}`);
  await rec.flush();
  t.equal(rec.dropped, 2, 'one in flight, two pending, two dropped');
  t.ok(transport.requests.every((r) => r.path === '/api/v1/namespaces/default/events'));
});
