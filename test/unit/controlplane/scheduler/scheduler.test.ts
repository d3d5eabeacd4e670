// The Scheduler's binder against an in-memory API (FakeTransport): bindings run in the background
// with a bounded number in flight, a failed binding forgets the assumed pod (its resources are free
// again) and the pod is retried after backoff, and a conflict is left to the watch.
import t, { type Test } from 'tap';
import { ApiClient } from '../../../../controlplane/client/client.ts';
import { EventRecorder } from '../../../../controlplane/client/events.ts';
import { InformerFactory } from '../../../../controlplane/client/informer.ts';
import type { HttpRequest, HttpResponse, HttpStream, Transport } from '../../../../controlplane/client/transport.ts';
import type { Node, Pod } from '../../../../controlplane/client/types.ts';
import { SchedulingQueue } from '../../../../controlplane/scheduler/queue.ts';
import { Scheduler } from '../../../../controlplane/scheduler/scheduler.ts';
import { waitFor } from '../../../../common/wait.ts';
import { FakeStream } from '../client/fake-transport.ts';
import { node, pod } from './fixtures.ts';

interface Bind {
  readonly pod: string;
  readonly node: string;
  reply(status: number, message?: string): void;
}

/** Lists serve the given pods and nodes, watches stay open and silent, bindings wait for the test. */
class ApiDouble implements Transport {
  readonly binds: Bind[] = [];
  readonly events: { reason: string; message: string }[] = [];
  readonly streams: FakeStream[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(readonly pods: Pod[], readonly nodes: Node[]) {}

  async request(req: HttpRequest): Promise<HttpResponse> {
    const json = (status: number, body: unknown): HttpResponse => ({ status, headers: {}, text: JSON.stringify(body) });
    if (req.method === 'GET' && req.path.startsWith('/api/v1/pods')) return json(200, { kind: 'PodList', metadata: { resourceVersion: '10' }, items: this.pods });
    if (req.method === 'GET' && req.path.startsWith('/api/v1/nodes')) return json(200, { kind: 'NodeList', metadata: { resourceVersion: '10' }, items: this.nodes });
    if (req.method === 'POST' && req.path.endsWith('/events')) {
      const ev = JSON.parse(req.body!) as { reason: string; message: string };
      this.events.push({ reason: ev.reason, message: ev.message });
      return json(201, ev);
    }
    const m = /\/pods\/([^/]+)\/binding$/.exec(req.path);
    if (req.method === 'POST' && m !== null) {
      const body = JSON.parse(req.body!) as { target: { name: string } };
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return new Promise((resolve) => {
        this.binds.push({
          pod: m[1], node: body.target.name,
          reply: (status, message = '') => {
            this.inFlight--;
            resolve(json(status, status < 300 ? { kind: 'Status', status: 'Success', code: status } : { kind: 'Status', status: 'Failure', code: status, reason: status === 409 ? 'Conflict' : 'InternalError', message }));
          },
        });
      });
    }
    return json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: `${req.method} ${req.path}` });
  }

  async stream(): Promise<HttpStream> {
    const s = new FakeStream();
    this.streams.push(s);
    return { status: 200, headers: {}, lines: s.lines(), close: () => s.close() };
  }

  close(): void {}
}

function start(t: Test, api: ApiDouble, maxBindsInFlight?: number): Scheduler {
  const client = new ApiClient({ server: 'https://127.0.0.1:1' }, { transport: api });
  const informers = new InformerFactory({ client });
  const events = new EventRecorder({ client, component: 'default-scheduler' });
  const scheduler = new Scheduler({ client, informers, events, queue: new SchedulingQueue({ initialBackoffMs: 20, maxBackoffMs: 40 }), maxBindsInFlight, random: () => 0 });
  informers.start();
  scheduler.start();
  t.teardown(async () => {
    for (const b of api.binds) b.reply(503, 'test over');
    await scheduler.stop();
    await events.stop();
    await informers.stop();
  });
  return scheduler;
}

t.test('a failed binding frees the assumed resources and the pod is retried', async (t) => {
  // Room for exactly one such pod: were the failed assumption kept, the retry would find no room.
  const api = new ApiDouble([pod('a', { cpu: '1' })], [node('n1', { cpu: '1' })]);
  const scheduler = start(t, api);
  await waitFor(() => api.binds.length === 1, { timeoutMs: 5000, what: 'first binding' });
  api.binds[0].reply(500, 'etcdserver: request timed out');
  await waitFor(() => api.binds.length === 2, { timeoutMs: 5000, what: 'the retry' });
  t.same(api.binds.map((b) => `${b.pod}->${b.node}`), ['a->n1', 'a->n1'], 'retried on the same node');
  api.binds[1].reply(201);
  await waitFor(() => scheduler.stats.scheduled === 1, { timeoutMs: 5000, what: 'bound' });
  t.equal(scheduler.stats.bindFailures, 1);
  await waitFor(() => api.events.length >= 2, { timeoutMs: 5000, what: 'events' });
  t.match(api.events, [
    { reason: 'FailedScheduling', message: /^Binding rejected: .*request timed out/ },
    { reason: 'Scheduled', message: 'Successfully assigned default/a to n1' },
  ]);
});

t.test('bindings run in the background, at most maxBindsInFlight at once, each pod counted where it was assumed', async (t) => {
  const pods = Array.from({ length: 12 }, (_, i) => pod(`p${i}`, { cpu: '1' }));
  const api = new ApiDouble(pods, [node('n1', { cpu: '4' }), node('n2', { cpu: '4' }), node('n3', { cpu: '4' })]);
  const scheduler = start(t, api, 3);
  await waitFor(() => api.binds.length === 3, { timeoutMs: 5000, what: 'three bindings in flight' });
  t.equal(api.inFlight, 3, 'no more than three wait for the server');
  for (let answered = 0; answered < 12; answered++) {
    await waitFor(() => api.binds.length > answered, { timeoutMs: 5000, what: `binding ${answered + 1}` });
    api.binds[answered].reply(201);
  }
  await waitFor(() => scheduler.stats.scheduled === 12, { timeoutMs: 5000, what: 'all bound' });
  t.equal(api.maxInFlight, 3);
  const perNode = new Map<string, number>();
  for (const b of api.binds) perNode.set(b.node, (perNode.get(b.node) ?? 0) + 1);
  t.same([...perNode.values()], [4, 4, 4], 'assumed pods count at once: 12 pods of 1 cpu fill three 4-cpu nodes exactly');
});

t.test('a conflict (bound elsewhere meanwhile) is not retried: the watch will say where the pod is', async (t) => {
  const api = new ApiDouble([pod('c', { cpu: '1' })], [node('n1')]);
  const scheduler = start(t, api);
  await waitFor(() => api.binds.length === 1, { timeoutMs: 5000, what: 'binding' });
  api.binds[0].reply(409, 'pod c is already assigned to node "n9"');
  await waitFor(() => scheduler.stats.bindFailures === 1, { timeoutMs: 5000, what: 'failure counted' });
  await new Promise((resolve) => setTimeout(resolve, 150)); // several backoff periods
  t.equal(api.binds.length, 1, 'no second attempt');
});
